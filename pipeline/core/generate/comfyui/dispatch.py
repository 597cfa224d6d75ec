"""Keep every ComfyUI server busy: dispatch jobs across servers, follow them, recover, collect results.

One asyncio loop in a background thread owns all state. Per server (a ``Slot``): one WebSocket (``/ws?clientId=``,
connected before the first submission), one watchdog, and up to ``max_inflight`` jobs on it (default 2: the one
running plus one waiting in ComfyUI's queue, so the GPU starts the next job the moment one finishes, while we
download and the pipeline post-processes). Each job moves through an explicit lifecycle (lifecycle.py).

The parts, each a mixin over ``DispatchCore`` (core.py: shared state, lifecycle primitives, server health):

    placement.py   which server gets a pending job; an idle server takes over a job waiting elsewhere
    submission.py  uploads and POST /prompt; a refusal by one server only sends the job to another
    following.py   the WebSocket: events drive progress and start collection
    collect.py     /history and /view: the images, checked
    watchdog.py    polling when the socket is down or silent, failover, job timeouts
    dispatch.py    this front: thread-safe calls from the pipeline, preflight, cancel, close
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any

from pipeline.core.generate.comfyui.client import ComfyClient, RetryPolicy
from pipeline.core.generate.comfyui.collect import Collection
from pipeline.core.generate.comfyui.following import WS_MAX_MESSAGE, Following
from pipeline.core.generate.comfyui.jobs import Job
from pipeline.core.generate.comfyui.lifecycle import State
from pipeline.core.generate.comfyui.placement import Placement
from pipeline.core.generate.comfyui.preflight import ServerProbe, probe
from pipeline.core.generate.comfyui.slots import DispatchOptions, Slot
from pipeline.core.generate.comfyui.submission import Submission
from pipeline.core.generate.comfyui.watchdog import Watchdog
from pipeline.errors import GenerationCancelled, ServerError

__all__ = ["WS_MAX_MESSAGE", "DispatchOptions", "Dispatcher"]

log = logging.getLogger(__name__)


class Dispatcher(Placement, Submission, Following, Collection, Watchdog):
    """Thread-safe front (``submit``/``cancel``/``close``) over a loop that owns every job and server."""

    def __init__(self, urls: list[str], options: DispatchOptions | None = None, client_id: str | None = None):
        if not urls:
            raise ValueError("at least one server URL")
        self.options = options or DispatchOptions()
        self.client_id = client_id or uuid.uuid4().hex
        self._urls = [u.rstrip("/") for u in urls]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="comfyui-dispatch", daemon=True)
        self._thread.start()
        self.slots = self._call(self._setup())
        self._pending = []
        self._tasks = set()
        self._closed = False
        for slot in self.slots:
            self._spawn(self._ws_loop(slot))
            self._spawn(self._watch(slot))
        self._spawn(self._balance())

    # ---- thread-safe front --------------------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _setup(self) -> list[Slot]:
        return [Slot(u, ComfyClient(u, self.client_id, self.options.retry)) for u in self._urls]

    def preflight(self) -> list[ServerProbe]:
        """Probe every server (/system_stats, /object_info); placement then skips servers lacking what a job needs."""
        return list(self._call(self._preflight()))

    def submit(self, jobs: list[Job]) -> None:
        self._loop.call_soon_threadsafe(self._enqueue, list(jobs))

    def promote(self, job: Job) -> None:
        """Someone waits for ``job`` now: if it is still pending, it goes first."""
        self._loop.call_soon_threadsafe(self._promote, job)

    def cancel(self, job: Job) -> Future[None]:
        return asyncio.run_coroutine_threadsafe(self._cancel(job), self._loop)

    def stats(self) -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            return [
                {
                    "server": s.url,
                    "healthy": s.healthy,
                    "in_flight": s.load,
                    "completed": s.completed,
                    "seconds_per_job": s.seconds_per_job,
                }
                for s in self.slots
            ]

        return list(self._call(read()))

    def close(self) -> None:
        """Withdraw unfinished jobs from the servers (delete queued, interrupt running), stop the loop."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._shutdown(), timeout=15)
        except TimeoutError:
            log.warning("closing the ComfyUI backend: withdrawing its jobs took over 15 s; some may still run")
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            if not self._thread.is_alive():
                self._loop.close()

    # ---- loop side ----------------------------------------------------------------------------------------

    async def _preflight(self) -> list[ServerProbe]:
        quick = RetryPolicy(deadline=min(10.0, self.options.retry.deadline), timeout=self.options.retry.timeout)
        probes = await asyncio.gather(*(probe(s.client, quick) for s in self.slots))
        for slot, result in zip(self.slots, probes, strict=True):
            if result.ok:
                slot.object_info = result.object_info
                slot._missing.clear()
                self._reachable(slot)
            else:
                log.info("%s: preflight failed: %s", slot.url, result.error)
                slot.healthy = False
                slot.last_error = result.error or ""
                slot.unreachable_since = slot.unreachable_since or time.monotonic()
        self._pump()
        return list(probes)

    async def _shutdown(self) -> None:
        for job in list(self._pending):
            self._fail(job, GenerationCancelled(f"'{job.sprite}': the ComfyUI backend was closed before it ran"))
        self._pending.clear()
        for slot in self.slots:
            left = [pid for pid, j in slot.jobs.items() if j.state in (State.QUEUED, State.RUNNING, State.SUBMITTING)]
            if left and slot.healthy:
                once = RetryPolicy(deadline=2, timeout=2)
                try:
                    await slot.client.request("POST", "/queue", json={"delete": left}, retry=once)
                    q = await slot.client.queue(retry=once)
                    for pid in left:
                        if pid in q.running:
                            await slot.client.request("POST", "/interrupt", json={"prompt_id": pid}, retry=once)
                except ServerError as exc:  # the GPU may go on with work nobody collects: say so
                    log.warning("%s: could not withdraw %d unfinished job(s) on close: %s", slot.url, len(left), exc)
            for job in list(slot.jobs.values()):
                self._fail(job, GenerationCancelled(f"'{job.sprite}': the ComfyUI backend was closed"))
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for slot in self.slots:
            await slot.client.aclose()

    # ---- cancel ---------------------------------------------------------------------------------------------

    async def _cancel(self, job: Job) -> None:
        job.cancel_requested = True
        if job.state is State.PENDING:
            self._fail(job, GenerationCancelled(f"'{job.sprite}' was cancelled before it was submitted"))
        elif job.state in (State.QUEUED, State.RUNNING):
            await self._cancel_on_server(job)
        # submitting: _submit cancels once POST /prompt answers; finishing: it is done anyway

    async def _cancel_on_server(self, job: Job) -> None:
        slot, pid = job.slot, job.prompt_id
        if slot is None or pid is None:
            return
        try:
            await slot.client.delete([pid])
            q = await slot.client.queue()
            if pid in q.running:
                job.emit(0.0, f"interrupting on {slot.url}")
                await slot.client.interrupt(pid)  # execution_interrupted + executing null then collect -> cancelled
            elif pid not in q:
                entry = await slot.client.history(pid)
                if entry is not None:
                    self._spawn(self._collect(job, slot, entry), job)
                else:
                    self._fail(job, GenerationCancelled(f"{slot.url}: '{job.sprite}' was removed from the queue"))
        except ServerError as exc:
            log.warning("%s: could not cancel '%s' there: %s", slot.url, job.sprite, exc)
            self._fail(job, GenerationCancelled(f"'{job.sprite}' was cancelled (could not tell the server: {exc})"))
