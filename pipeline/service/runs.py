"""A run the build service started: its lifecycle as a state machine, its events, its outcome (no Dagster import).

    QUEUED ──> RUNNING ──> DONE            (the run ended: success or failure, see ``outcome``)
      │           ├──────> CANCELED        (Dagster ended it CANCELED)
      │           └──────> ERROR           (it could not be launched or followed: ``error``)
      └──────────────────> CANCELED        (cancelled before it started: it never reached Dagster)

A run outlives the call that started it; ``done`` is set on entering a final state.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum

from pipeline.defs.launch import BuildEvent, RunOutcome

__all__ = ["FINAL", "CancelOutcome", "Run", "RunState", "advance", "clean_error"]


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELED = "canceled"
    ERROR = "error"


FINAL = frozenset({RunState.DONE, RunState.CANCELED, RunState.ERROR})
_ALLOWED = {
    RunState.QUEUED: {RunState.QUEUED, RunState.RUNNING, RunState.CANCELED, RunState.ERROR},
    RunState.RUNNING: {RunState.RUNNING, RunState.DONE, RunState.CANCELED, RunState.ERROR},
}


def advance(current: RunState, new: RunState) -> RunState:
    """The state after ``current`` -> ``new``; a final state never changes, other moves back are refused."""
    if current in FINAL:
        return current
    if new not in _ALLOWED[current]:
        raise ValueError(f"a run cannot go from {current} to {new}")
    return new


@dataclass
class Run:
    """One run: ``id`` is this service's handle (``job-...``); ``dagster_run_id`` Dagster's, once known."""

    id: str
    names: list[str]
    via: str  # "in-process" | "webserver"
    source: str  # the sprites/source tag: cli, mcp, ...
    identity: tuple[tuple[str, str], ...] = ()  # (sprite, hash of its inputs): what an identical request joins
    dagster_run_id: str | None = None
    state: RunState = RunState.QUEUED
    outcome: RunOutcome | None = None
    error: str | None = None
    events: list[BuildEvent] = field(default_factory=list)
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    ended: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def move(self, new: RunState) -> None:
        self.state = advance(self.state, new)
        if new == RunState.RUNNING and self.started is None:
            self.started = time.monotonic()

    def finish(self, state: RunState, error: str | None = None) -> None:
        self.state = advance(self.state, state)
        self.error = error if error is not None else self.error
        self.ended = time.monotonic()
        self.done.set()

    @property
    def run_id(self) -> str | None:
        """The Dagster run id once the run exists in the instance (a queued in-process run has none yet)."""
        if self.via == "in-process" and self.state == RunState.QUEUED:
            return None
        return self.dagster_run_id

    @property
    def handle(self) -> str:
        """What a caller follows or cancels: the Dagster run id when there is one, else this service's id."""
        return self.run_id or self.id

    @property
    def finished_count(self) -> int:
        return sum(e.kind in ("sprite_done", "sprite_failed") for e in self.events)

    @property
    def seconds(self) -> float | None:
        return None if self.started is None else (self.ended or time.monotonic()) - self.started


@dataclass(frozen=True)
class CancelOutcome:
    run_id: str
    status: str
    via: str  # in-process | webserver | unknown
    message: str


def clean_error(message: str | None) -> str | None:
    """'pipeline.errors.ExportError: could not write x' -> 'could not write x' (the class is noise to a user)."""
    return re.sub(r"^(?:[a-z_]+\.)+[A-Za-z]+(?:Error|Cancelled): ", "", message) if message else message
