"""The watchdog: one per server. Polls when the WebSocket is down or silent, fails over, times jobs out.

* Polling asks ``/queue`` first, then ``/history/{id}`` (no race with completion): not queued and no history
  means the server lost the job (a restart), and it is submitted again.
* A server unreachable for ``failover_after`` seconds loses its jobs to the others (and, if it comes back, they
  are deleted/interrupted there).
* A job running past ``job_timeout`` is interrupted on its server, then fails with a clear message.
"""

from __future__ import annotations

import asyncio
import logging
import time

from pipeline.core.generate.comfyui.client import RetryPolicy
from pipeline.core.generate.comfyui.core import DispatchCore
from pipeline.core.generate.comfyui.jobs import Job
from pipeline.core.generate.comfyui.lifecycle import Event, State
from pipeline.core.generate.comfyui.slots import Slot
from pipeline.errors import GenerationError, ServerError

__all__ = ["Watchdog"]

log = logging.getLogger(__name__)

_ON_SERVER = (State.QUEUED, State.RUNNING)


class Watchdog(DispatchCore):
    async def _watch(self, slot: Slot) -> None:
        o = self.options
        tick = max(0.02, min(o.poll_interval, o.silence_timeout) / 4)
        while not self._closed:
            await asyncio.sleep(tick)
            now = time.monotonic()
            busy = any(j.state in _ON_SERVER for j in slot.jobs.values())
            if not slot.healthy:
                interval = o.poll_interval
            elif not busy:
                continue
            elif not slot.ws_connected or now - slot.last_msg > o.silence_timeout:
                interval = o.poll_interval
            else:
                interval = o.backstop_interval
            # Broad on purpose: the watchdog is what keeps jobs from hanging when the WebSocket fails, so a bug
            # in one round must not stop it. Server errors are handled inside; anything here is logged in full.
            try:
                if now - slot.last_poll >= interval:
                    await self._check(slot)
                if slot.unreachable_since is not None and now - slot.unreachable_since >= o.failover_after:
                    self._failover(slot)
                for job in list(slot.jobs.values()):
                    if (
                        job.state is State.RUNNING
                        and not job.timed_out
                        and now - (job.started_at or now) > o.job_timeout
                    ):
                        self._time_out(job, slot)
            except Exception as exc:
                slot.last_error = f"watchdog: {exc!r}"
                log.exception("%s: the watchdog's round failed (it goes on)", slot.url)

    async def _check(self, slot: Slot) -> None:
        """Poll: where is each of our jobs on ``slot``? (queue first, then history: no race with completion)."""
        if slot.polling:
            return
        slot.polling = True
        slot.last_poll = time.monotonic()
        quick = RetryPolicy(deadline=0, timeout=min(10.0, self.options.retry.timeout))
        try:
            asked = time.monotonic()
            q = await slot.client.queue(retry=quick)
            missed = False
            for pid, job in list(slot.jobs.items()):
                if job.state not in _ON_SERVER or job.moving:
                    continue
                if job.confirmed_at is None or job.confirmed_at > asked:
                    continue  # submitted after the snapshot: its absence from it means nothing
                if pid in q.running:
                    if job.state is State.QUEUED:
                        self._go(job, Event.START)
                        job.started_at = time.monotonic()
                    continue
                if pid in q.pending:
                    continue
                entry = await slot.client.history(pid, retry=quick)
                if job.state not in _ON_SERVER or job.prompt_id != pid:
                    continue  # the WebSocket got there first
                if entry is not None:
                    missed = missed or slot.ws_connected
                    self._spawn(self._collect(job, slot, entry), job)
                else:
                    self._requeue(job, slot, "lost: neither queued nor in its history (the server restarted?)")
            self._reachable(slot)
            if missed and slot.ws is not None:  # the socket is open but told us nothing: reconnect it
                log.warning("%s: the WebSocket missed a finished job; reconnecting it", slot.url)
                await slot.ws.close()
        except ServerError as exc:
            self._unreachable(slot, exc)
        finally:
            slot.polling = False

    def _failover(self, slot: Slot) -> None:
        for pid, job in list(slot.jobs.items()):
            others = [s for s in self.slots if s is not slot and s.healthy and s.can_take(job)]
            if not others:  # nowhere to move it: keep following it here, it may well still be running
                continue
            if job.state in _ON_SERVER:
                slot.abandoned.add(pid)
                secs = self.options.failover_after
                self._requeue(job, slot, f"unreachable for {secs:g}s ({slot.last_error}); moved to another server")

    async def _withdraw(self, slot: Slot, prompt_ids: list[str]) -> None:
        """A server came back with jobs we gave to others: delete them there, interrupt the one running."""
        try:
            await slot.client.delete(prompt_ids)
            q = await slot.client.queue()
            for pid in q.running:
                if pid in prompt_ids:
                    await slot.client.interrupt(pid)
        except ServerError as exc:  # they may run there for nothing: say so
            log.warning("%s: could not withdraw %d job(s) that moved elsewhere: %s", slot.url, len(prompt_ids), exc)

    def _time_out(self, job: Job, slot: Slot) -> None:
        """A job the server keeps running past ``job_timeout``: interrupt it there, then fail it clearly.

        The server is told first: once the job fails, the run may end and close the backend at once.
        """
        job.timed_out = True
        self._go(job, Event.TIME_OUT)  # its own interrupted/executing events must not report it as cancelled
        secs = self.options.job_timeout
        error = GenerationError(
            f"{slot.url}: '{job.sprite}' was still running after {secs:g}s, so it was interrupted; if the "
            "workflow really takes this long, raise SPRITES_COMFYUI_JOB_TIMEOUT"
        )
        self._spawn(self._withdraw_then_fail(job, slot, error), job)

    async def _withdraw_then_fail(self, job: Job, slot: Slot, error: GenerationError) -> None:
        pid = job.prompt_id
        try:
            if pid is not None:
                once = RetryPolicy(deadline=5, timeout=5)
                await slot.client.request("POST", "/queue", json={"delete": [pid]}, retry=once)
                if pid in (await slot.client.queue(retry=once)).running:
                    await slot.client.request("POST", "/interrupt", json={"prompt_id": pid}, retry=once)
        except ServerError as exc:
            log.warning("%s: could not interrupt timed-out '%s': %s", slot.url, job.sprite, exc)
            error = GenerationError(f"{error} (telling the server failed: {exc})")
        finally:
            self._fail(job, error)
