"""Per-server state for the dispatcher, and the dispatcher's options."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.generate.comfyui.client import ComfyClient, RetryPolicy
from pipeline.core.generate.comfyui.jobs import Job
from pipeline.core.generate.comfyui.preflight import Missing, missing_on

__all__ = ["DispatchOptions", "Slot"]


@dataclass(frozen=True)
class DispatchOptions:
    max_inflight: int = 2  #: per server: running + waiting in ComfyUI's queue
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    silence_timeout: float = 10.0  #: WebSocket quiet this long while a job is out: poll
    poll_interval: float = 1.0  #: how often to poll a degraded (silent, disconnected, unreachable) server
    backstop_interval: float = 30.0  #: poll a healthy busy server this often anyway
    failover_after: float = 30.0  #: unreachable this long: move its jobs to other servers
    max_attempts: int = 3  #: submissions per job (lost jobs, failovers)
    ws_connect_wait: float = 3.0  #: wait this long for the WebSocket before the first submission
    cancel_grace: float = 10.0  #: after a cancel, wait this long for the server to confirm
    job_timeout: float = 1800.0  #: a job still running after this long is interrupted and fails (never hangs)


class Slot:
    """One server as the dispatcher sees it."""

    def __init__(self, url: str, client: ComfyClient):
        self.url = url
        self.client = client
        self.jobs: dict[str, Job] = {}  # prompt_id -> job, from just before POST /prompt until collected
        self.reserved = 0  # jobs on their way to this server (uploading, being moved here)
        self.healthy = True
        self.unreachable_since: float | None = None
        self.last_error = ""
        self.seconds_per_job: float | None = None  # moving average of measured run time
        self.ws: Any = None
        self.ws_ready = asyncio.Event()
        self.ws_waited = False
        self.last_msg = time.monotonic()
        self.last_poll = 0.0
        self.polling = False
        self.object_info: dict[str, Any] | None = None
        self.abandoned: set[str] = set()
        self.completed = 0
        self._missing: dict[str, list[Missing]] = {}

    @property
    def load(self) -> int:
        """Jobs that keep this server busy: on their way, queued, running (not those being downloaded)."""
        return self.reserved + sum(1 for job in self.jobs.values() if job.state.occupies_server)

    @property
    def ws_connected(self) -> bool:
        return self.ws is not None

    def estimate(self) -> float:
        return self.seconds_per_job if self.seconds_per_job is not None else 1.0

    def missing(self, job: Job) -> list[Missing]:
        if self.object_info is None:
            return []
        if job.id not in self._missing:
            self._missing[job.id] = missing_on(job.needs, self.object_info)
        return self._missing[job.id]

    def can_take(self, job: Job) -> bool:
        return self.url not in job.excluded and not self.missing(job)

    def measured(self, seconds: float) -> None:
        self.seconds_per_job = seconds if self.seconds_per_job is None else 0.7 * self.seconds_per_job + 0.3 * seconds
