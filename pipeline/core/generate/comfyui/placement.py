"""Placement: which server gets a pending job, and when an idle server takes over a job waiting elsewhere.

* A pending job goes to the healthy server with room and the lowest expected finish time
  ((load + 1) x its measured seconds per job), so a slow server gets less work (``pick_server``, pure).
* When nothing is pending, an idle server takes over a job still *waiting* behind another server's running job,
  if it would finish it sooner (``steal_for``, pure): POST /queue delete there, then resubmit here (``_move``).
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

__all__ = ["Placement", "pick_server", "steal_for"]

log = logging.getLogger(__name__)


def pick_server(able: list[Slot], cap: int) -> Slot | None:
    """The healthy server with room (load < ``cap``) that would finish one more job first; None if all are full."""
    free = [s for s in able if s.healthy and s.load < cap]
    if not free:
        return None
    return min(free, key=lambda s: ((s.load + 1) * s.estimate(), s.load))


def steal_for(thief: Slot, slots: list[Slot], now: float) -> tuple[Job, Slot] | None:
    """The waiting job (and its server) that idle ``thief`` would finish soonest compared with leaving it there."""
    best: tuple[float, Job, Slot] | None = None
    for victim in slots:
        if victim is thief:
            continue
        running = [j for j in victim.jobs.values() if j.state is State.RUNNING]
        waiting = [j for j in victim.jobs.values() if j.state is State.QUEUED and not j.moving]
        if not running or not waiting:
            continue
        job = waiting[-1]
        if not thief.can_take(job):
            continue
        elapsed = now - (running[0].started_at or now)
        # unmeasured server: its running job has taken at least `elapsed` so far
        theirs = victim.seconds_per_job if victim.seconds_per_job is not None else elapsed
        if theirs <= 0:
            continue
        there = max(0.0, theirs - elapsed) + theirs * len(waiting)
        ours = thief.seconds_per_job if thief.seconds_per_job is not None else theirs
        here = ours * 1.1 + 0.05
        if here < there and (best is None or there - here > best[0]):
            best = (there - here, job, victim)
    return None if best is None else (best[1], best[2])


class Placement(DispatchCore):
    """The pending queue and where its jobs go."""

    def _enqueue(self, jobs: list[Job]) -> None:
        self._pending.extend(jobs)
        self._pump()

    def _promote(self, job: Job) -> None:
        if job in self._pending and self._pending[0] is not job:
            self._pending.remove(job)
            self._pending.insert(0, job)
            self._pump()

    def _pump(self) -> None:
        if self._closed:
            return
        cap = self.options.max_inflight
        for job in list(self._pending):
            if job.state is not State.PENDING or job not in self._pending:
                continue  # placed or failed by a nested _pump (a failure pumps again)
            able = [s for s in self.slots if s.can_take(job)]
            if not able:
                self._fail(job, self._nowhere(job))
                continue
            slot = pick_server(able, cap)
            if slot is None:
                continue
            self._pending.remove(job)
            slot.reserved += 1
            job.slot = slot
            self._go(job, Event.PLACE)
            self._spawn(self._submit(job, slot), job)
        if not self._pending:
            self._rebalance()

    def _nowhere(self, job: Job) -> GenerationError:
        lines = [f"no ComfyUI server can run '{job.sprite}' (workflow '{job.template}'):"]
        for s in self.slots:
            if s.url in job.excluded:
                lines.append(f"  {s.url}: refused it ({'; '.join(n for n in job.notes if n.startswith(s.url))})")
            else:
                for m in s.missing(job):
                    lines.append(f"  {s.url}: {'refuses' if m.need.kind == 'range' else 'missing'} {m}")
        lines.append("  -> install what is missing on a server (see `sprites doctor`) or change the spec")
        return GenerationError("\n".join(lines))

    def _rebalance(self) -> None:
        """An idle server takes a job that still waits behind another server's running job, if that is faster."""
        now = time.monotonic()
        for thief in self.slots:
            if not thief.healthy or thief.load > 0:
                continue
            found = steal_for(thief, self.slots, now)
            if found is not None:
                job, victim = found
                job.moving = True
                thief.reserved += 1
                self._spawn(self._move(job, victim, thief), job)

    async def _balance(self) -> None:
        """Re-examine placement now and then: a server may have become idle while others still have a queue."""
        while not self._closed:
            await asyncio.sleep(max(0.05, self.options.poll_interval))
            if not self._pending:
                self._rebalance()

    async def _move(self, job: Job, victim: Slot, thief: Slot) -> None:
        pid = job.prompt_id
        moved = False
        try:
            if pid is None or job.state is not State.QUEUED:
                return
            once = RetryPolicy(deadline=2, timeout=5)
            await victim.client.request("POST", "/queue", json={"delete": [pid]}, retry=once)
            q = await victim.client.queue(retry=once)
            if pid in q or job.state is not State.QUEUED:
                return  # it started there in the meantime: leave it
            entry = await victim.client.history(pid, retry=once)
            if job.state is not State.QUEUED or job.prompt_id != pid:
                return  # followed, cancelled or failed over meanwhile
            if entry is not None:
                self._spawn(self._collect(job, victim, entry), job)
                return
            victim.jobs.pop(pid, None)
            job.notes.append(f"{victim.url}: moved to idle {thief.url}")
            log.info("%s: '%s' moved to idle %s", victim.url, job.sprite, thief.url)
            job.prompt_id, job.started_at, job.slot = None, None, thief
            self._go(job, Event.MOVE)
            job.attempts -= 1  # a move is not a failed attempt
            moved = True
            await self._submit(job, thief)
        except ServerError as exc:  # the job stays where it is, followed as before
            log.info("%s: could not move '%s' to %s: %s", victim.url, job.sprite, thief.url, exc)
            return
        finally:
            job.moving = False
            if not moved:
                thief.reserved -= 1
                self._pump()
