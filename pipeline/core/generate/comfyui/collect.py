"""Collection: a job ended on its server: read its ``/history`` entry, download its images (``/view``), check them.

The job is FINISHING meanwhile, which no longer counts against the server's ``max_inflight``: the next job is
sent to the server as soon as it is done with this one, not after the download. PNGs are decoded (checked) off
the loop, so one large render never delays the events and submissions of the other servers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pipeline.core.generate.base import GenerationResult
from pipeline.core.generate.comfyui.client import ServerUnavailable
from pipeline.core.generate.comfyui.core import DispatchCore
from pipeline.core.generate.comfyui.jobs import Job
from pipeline.core.generate.comfyui.lifecycle import Event, State
from pipeline.core.generate.comfyui.results import check_frames, images_of, max_download_bytes
from pipeline.core.generate.comfyui.slots import Slot
from pipeline.errors import GenerationError, ServerError

__all__ = ["Collection"]

log = logging.getLogger(__name__)


class Collection(DispatchCore):
    async def _collect(self, job: Job, slot: Slot, entry: dict[str, Any] | None = None) -> None:
        """The job ended on ``slot``: read its history, download and check its images."""
        pid = job.prompt_id
        if pid is None or job.slot is not slot or not job.state.followed:
            return

        def current() -> bool:  # nobody else (cancel, failover, close) has moved the job while we waited
            return job.state is State.FINISHING and job.prompt_id == pid and job.slot is slot

        self._go(job, Event.END)
        self._pump()  # the server is free for the next job while this one is downloaded
        try:
            for wait in (0.0, 0.2, 0.5, 1.0):
                if entry is not None:
                    break
                await asyncio.sleep(wait)
                entry = await slot.client.history(pid)
            if not current():
                return
            if entry is None:
                self._requeue(job, slot, "finished but the server has no history for it (restarted or history cleared)")
                return
            if job.started_at is not None:
                slot.measured(time.monotonic() - job.started_at)
            result = await self._result(job, slot, entry)
        except ServerUnavailable as exc:
            if current():
                self._go(job, Event.RESUME)  # the watchdog will look again, or fail over
            self._unreachable(slot, exc)
            return
        except GenerationError as exc:  # what the history says went wrong; a download refused or cut short
            slot.completed += 1
            if current():
                self._finish(job, error=exc)
            return
        except (TypeError, ValueError, KeyError, AttributeError) as exc:  # a malformed history entry
            log.warning("%s: unreadable result for '%s': %r", slot.url, job.sprite, exc)
            if current():
                self._finish(job, error=ServerError(slot.url, f"'{job.sprite}': unreadable result: {exc!r}"))
            return
        slot.completed += 1
        if not current():
            log.debug("'%s' was %s while it was downloaded; result dropped", job.sprite, job.state.value)
            return
        job.emit(1.0, f"done on {slot.url}")
        self._finish(job, result)

    async def _result(self, job: Job, slot: Slot, entry: dict[str, Any]) -> GenerationResult:
        images = images_of(entry, job, slot.url)
        job.emit(0.97, f"downloading {len(images)} image(s) from {slot.url}")
        cap = max_download_bytes(job.request.width, job.request.height)
        frames = list(
            await asyncio.gather(
                *(
                    slot.client.view(im["filename"], im.get("subfolder") or "", im.get("type", "output"), max_bytes=cap)
                    for im in images
                )
            )
        )
        await asyncio.to_thread(check_frames, frames, images, job, slot.url)
        now = time.monotonic()
        return GenerationResult(
            frames=frames,
            info={
                "server": slot.url,
                "prompt_id": job.prompt_id,
                "workflow": job.template,
                "filename_prefix": job.prefix,
                "attempts": job.attempts,
                "wait_seconds": round((job.started_at or now) - job.created_at, 3),
                "run_seconds": round(now - (job.started_at or job.submitted_at), 3),
            },
        )
