"""What every part of the dispatcher shares: the loop and its tasks, the servers, the pending queue, and the
primitives that move a job through its lifecycle (``_go``, ``_finish``, ``_fail``, ``_requeue``).

The parts are mixins over ``DispatchCore`` (placement.py, submission.py, following.py, collect.py, watchdog.py),
combined in dispatch.py. Each may call the others through the methods declared at the end of this class.
Everything here runs on the dispatcher's loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from typing import Any

from pipeline.core.generate.base import GenerationResult
from pipeline.core.generate.comfyui.jobs import Job
from pipeline.core.generate.comfyui.lifecycle import Event, transition
from pipeline.core.generate.comfyui.slots import DispatchOptions, Slot
from pipeline.errors import GenerationCancelled, GenerationError, ServerError

__all__ = ["DispatchCore"]

log = logging.getLogger(__name__)


class DispatchCore:
    """The dispatcher's state and lifecycle primitives (see the module docstring)."""

    options: DispatchOptions
    slots: list[Slot]
    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread
    _pending: list[Job]
    _tasks: set[asyncio.Task[Any]]
    _closed: bool

    # ---- tasks ----------------------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], job: Job | None = None) -> None:
        """Run ``coro`` as a task of the loop. If it dies of an unexpected exception (a bug), that is logged with
        its traceback and ``job`` fails with it: a job never hangs because a task died."""

        def create() -> None:
            task = self._loop.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(lambda t: self._task_done(t, job))

        if threading.current_thread() is self._thread:
            create()
        else:
            self._loop.call_soon_threadsafe(create)

    def _task_done(self, task: asyncio.Task[Any], job: Job | None) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        what = f" for '{job.sprite}'" if job is not None else ""
        log.error("ComfyUI dispatcher: task %s%s failed", task.get_coro(), what, exc_info=exc)
        if job is not None and not job.state.terminal:
            self._fail(job, GenerationError(f"'{job.sprite}': internal error in the ComfyUI dispatcher: {exc!r}"))

    # ---- lifecycle ------------------------------------------------------------------------------------------

    def _go(self, job: Job, event: Event) -> None:
        """Apply ``event`` to ``job`` (``lifecycle.transition``; raises ``IllegalTransition`` if not allowed)."""
        before = job.state
        job.state = transition(before, event, job.sprite)
        if log.isEnabledFor(logging.DEBUG):
            where = f" on {job.slot.url}" if job.slot is not None else ""
            log.debug("'%s'%s: %s --%s--> %s", job.sprite, where, before.value, event.value, job.state.value)

    def _finish(self, job: Job, result: GenerationResult | None = None, error: BaseException | None = None) -> None:
        """The job ends: DONE with ``result`` or FAILED with ``error``; its caller hears of it now."""
        if job.state.terminal:  # e.g. a cancel's answer arriving after the job was collected
            log.debug("'%s' already %s; dropping a late %s", job.sprite, job.state.value, error or "result")
            return
        if job.slot is not None and job.prompt_id is not None:
            job.slot.jobs.pop(job.prompt_id, None)
        self._go(job, Event.SUCCEED if error is None else Event.FAIL)
        if error is not None and not isinstance(error, GenerationCancelled):
            log.info("'%s' failed: %s", job.sprite, error)
        if not job.future.done():
            if error is None:
                job.future.set_result(result)  # type: ignore[arg-type]
            else:
                job.future.set_exception(error)
        self._pump()

    def _fail(self, job: Job, error: BaseException) -> None:
        if job in self._pending:
            self._pending.remove(job)
        self._finish(job, error=error)

    def _requeue(self, job: Job, slot: Slot, reason: str) -> None:
        """Take ``job`` off ``slot`` and place it again (first in line), unless it was cancelled or has used up its
        submissions."""
        if job.prompt_id is not None:
            slot.jobs.pop(job.prompt_id, None)
        job.notes.append(f"{slot.url}: {reason}")
        job.prompt_id, job.slot, job.started_at = None, None, None
        if job.cancel_requested:
            self._fail(job, GenerationCancelled(f"'{job.sprite}' was cancelled"))
            return
        if job.attempts >= self.options.max_attempts:
            self._fail(
                job,
                ServerError(
                    slot.url,
                    f"'{job.sprite}': gave up after {job.attempts} submissions:\n  " + "\n  ".join(job.notes),
                ),
            )
            return
        log.info("%s: '%s' is submitted again: %s", slot.url, job.sprite, reason)
        self._go(job, Event.REQUEUE)
        job.emit(0.0, f"resubmitting: {reason}", restart=True)
        self._pending.insert(0, job)
        self._pump()

    # ---- server health --------------------------------------------------------------------------------------

    def _unreachable(self, slot: Slot, exc: Exception) -> None:
        slot.last_error = str(exc)
        if slot.unreachable_since is None:
            slot.unreachable_since = time.monotonic()
            log.info("%s is unreachable: %s", slot.url, exc)
        slot.healthy = False

    def _reachable(self, slot: Slot) -> None:
        slot.unreachable_since = None
        if not slot.healthy:
            slot.healthy = True
            log.info("%s answers again", slot.url)
            if slot.abandoned:
                self._spawn(self._withdraw(slot, sorted(slot.abandoned)))
                slot.abandoned.clear()
            self._pump()

    # ---- implemented by the parts (placement, submission, following, collect, watchdog) ----------------------

    def _pump(self) -> None:
        raise NotImplementedError

    async def _submit(self, job: Job, slot: Slot) -> None:
        raise NotImplementedError

    async def _collect(self, job: Job, slot: Slot, entry: dict[str, Any] | None = None) -> None:
        raise NotImplementedError

    async def _check(self, slot: Slot) -> None:
        raise NotImplementedError

    async def _withdraw(self, slot: Slot, prompt_ids: list[str]) -> None:
        raise NotImplementedError

    async def _cancel_on_server(self, job: Job) -> None:
        raise NotImplementedError
