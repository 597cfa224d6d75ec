"""Keep every ComfyUI server busy: dispatch jobs across servers, follow them, recover, collect results.

One asyncio loop in a background thread owns all state. Per server (a ``Slot``): one WebSocket (``/ws?clientId=``,
connected before the first submission), one watchdog, and up to ``max_inflight`` submitted jobs (default 2: the one
running plus one waiting in ComfyUI's queue, so the GPU starts the next job the moment one finishes, while we
download and the pipeline post-processes).

* Placement: a pending job goes to the healthy server with capacity and the lowest expected finish time
  ((load + 1) x its measured seconds per job), so a slow server gets less work. When nothing is pending, an idle
  server takes over a job still *waiting* behind another server's running job (POST /queue delete, then resubmit).
* Following: WebSocket events filtered by prompt_id drive progress; ``executing`` with ``node: null`` (sent after
  ComfyUI wrote the history) triggers collection from ``/history/{id}`` and ``/view``. When the socket is down or
  silent, the watchdog polls ``/queue`` then ``/history/{id}``: not queued and no history means the server lost the
  job (restart), and it is submitted again.
* Failure: a server unreachable for ``failover_after`` seconds loses its jobs to the others (and, if it comes back,
  they are deleted/interrupted there). Validation errors are final, except a model or node class missing on one
  server only, which moves the job to another.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any

import websockets

from pipeline.errors import GenerationCancelled, GenerationError, ServerError
from pipeline.generate.base import GenerationResult
from pipeline.generate.comfyui.client import (
    ComfyClient,
    RetryPolicy,
    ServerUnavailable,
    WorkflowRejected,
)
from pipeline.generate.comfyui.jobs import Job
from pipeline.generate.comfyui.preflight import ServerProbe, probe
from pipeline.generate.comfyui.results import check_frames, images_of, max_download_bytes
from pipeline.generate.comfyui.slots import DispatchOptions, Slot

__all__ = ["WS_MAX_MESSAGE", "DispatchOptions", "Dispatcher"]

WS_MAX_MESSAGE = 8 * 2**20


class Dispatcher:
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
        self.slots: list[Slot] = self._call(self._setup())
        self._pending: list[Job] = []
        self._tasks: set[asyncio.Task[Any]] = set()
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
        with contextlib.suppress(Exception):
            self._call(self._shutdown(), timeout=15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    # ---- loop-side plumbing -----------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        def create() -> None:
            task = self._loop.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        if threading.current_thread() is self._thread:
            create()
        else:
            self._loop.call_soon_threadsafe(create)

    async def _preflight(self) -> list[ServerProbe]:
        quick = RetryPolicy(deadline=min(10.0, self.options.retry.deadline), timeout=self.options.retry.timeout)
        probes = await asyncio.gather(*(probe(s.client, quick) for s in self.slots))
        for slot, result in zip(self.slots, probes, strict=True):
            if result.ok:
                slot.object_info = result.object_info
                slot._missing.clear()
                self._reachable(slot)
            else:
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
            left = [pid for pid, j in slot.jobs.items() if j.state in ("queued", "running", "submitting")]
            if left and slot.healthy:
                once = RetryPolicy(deadline=2, timeout=2)
                with contextlib.suppress(ServerError):
                    await slot.client.request("POST", "/queue", json={"delete": left}, retry=once)
                    q = await slot.client.queue(retry=once)
                    for pid in left:
                        if pid in q.running:
                            await slot.client.request("POST", "/interrupt", json={"prompt_id": pid}, retry=once)
            for job in list(slot.jobs.values()):
                self._fail(job, GenerationCancelled(f"'{job.sprite}': the ComfyUI backend was closed"))
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for slot in self.slots:
            await slot.client.aclose()

    def _finish(self, job: Job, result: GenerationResult | None = None, error: BaseException | None = None) -> None:
        if job.slot is not None and job.prompt_id is not None:
            job.slot.jobs.pop(job.prompt_id, None)
        job.state = "done" if error is None else "failed"
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

    # ---- placement ------------------------------------------------------------------------------------------

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
            able = [s for s in self.slots if s.can_take(job)]
            if not able:
                self._fail(job, self._nowhere(job))
                continue
            free = [s for s in able if s.healthy and s.load < cap]
            if not free:
                continue
            slot = min(free, key=lambda s: ((s.load + 1) * s.estimate(), s.load))
            self._pending.remove(job)
            slot.reserved += 1
            job.state, job.slot = "submitting", slot
            self._spawn(self._submit(job, slot))
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
            best: tuple[float, Job, Slot] | None = None
            for victim in self.slots:
                if victim is thief:
                    continue
                running = [j for j in victim.jobs.values() if j.state == "running"]
                waiting = [j for j in victim.jobs.values() if j.state == "queued" and not j.moving]
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
            if best is not None:
                _, job, victim = best
                job.moving = True
                thief.reserved += 1
                self._spawn(self._move(job, victim, thief))

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
            if pid is None or job.state != "queued":
                return
            once = RetryPolicy(deadline=2, timeout=5)
            await victim.client.request("POST", "/queue", json={"delete": [pid]}, retry=once)
            q = await victim.client.queue(retry=once)
            if pid in q or job.state != "queued":
                return  # it started there in the meantime: leave it
            entry = await victim.client.history(pid, retry=once)
            if entry is not None:
                self._spawn(self._collect(job, victim, entry))
                return
            victim.jobs.pop(pid, None)
            job.notes.append(f"{victim.url}: moved to idle {thief.url}")
            job.prompt_id, job.started_at, job.state, job.slot = None, None, "submitting", thief
            job.attempts -= 1  # a move is not a failed attempt
            moved = True
            await self._submit(job, thief)
        except ServerError:
            return
        finally:
            job.moving = False
            if not moved:
                thief.reserved -= 1
                self._pump()

    # ---- submission -----------------------------------------------------------------------------------------

    async def _submit(self, job: Job, slot: Slot) -> None:
        registered = False
        try:
            if job.cancel_requested:
                self._fail(job, GenerationCancelled(f"'{job.sprite}' was cancelled before it was submitted"))
                return
            if not slot.ws_ready.is_set() and not slot.ws_waited:  # once: a broken socket must not delay every job
                slot.ws_waited = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(slot.ws_ready.wait(), self.options.ws_connect_wait)
            prompt_id = str(uuid.uuid4())
            graph, prefix = job.graph_for(prompt_id)
            for up in job.uploads:
                data = await asyncio.to_thread(up.read, job.sprite)
                if hashlib.sha256(data).hexdigest() != up.sha256:
                    raise GenerationError(
                        f"'{job.sprite}': init image {up.path} changed after the build was planned; run it again"
                    )
                graph[up.node]["inputs"][up.input] = await slot.client.upload_image(data, up.name)
            job.prompt_id, job.prefix, job.confirmed_at = prompt_id, prefix, None
            job.attempts += 1
            job.submitted_at = time.monotonic()
            slot.jobs[prompt_id] = job  # before POST: events can arrive before its answer
            slot.reserved -= 1
            registered = True
            answer = await slot.client.post_prompt(graph, prompt_id, template=job.template)
        except WorkflowRejected as exc:
            self._rejected(job, slot, exc)
            return
        except ServerUnavailable as exc:
            self._unreachable(slot, exc)
            self._requeue(job, slot, f"unreachable ({exc})")
            return
        except GenerationError as exc:
            self._fail(job, exc)
            return
        except Exception as exc:  # e.g. the init image vanished: fail the job, never hang it
            self._fail(job, ServerError(slot.url, f"'{job.sprite}': could not submit: {exc!r}"))
            return
        finally:
            if not registered:
                slot.reserved -= 1
        job.confirmed_at = time.monotonic()
        self._reachable(slot)
        if answer.get("node_errors"):  # some outputs failed validation; ComfyUI runs the rest
            with contextlib.suppress(ServerError):
                await slot.client.delete([prompt_id])
            body = {
                "error": {"type": "prompt_outputs_failed_validation", "message": "some outputs failed validation"},
                "node_errors": answer["node_errors"],
            }
            self._rejected(job, slot, WorkflowRejected(slot.url, body, job.template))
            return
        if job.state == "submitting" and job.prompt_id == prompt_id:
            job.state = "queued"
            job.emit(0.01, f"queued on {slot.url}")
        if job.cancel_requested:
            await self._cancel_on_server(job)
        self._pump()

    def _rejected(self, job: Job, slot: Slot, exc: WorkflowRejected) -> None:
        if job.prompt_id is not None:
            slot.jobs.pop(job.prompt_id, None)
        others = [s for s in self.slots if s is not slot and s.can_take(job)]
        if exc.server_specific and others:
            job.excluded.add(slot.url)
            job.notes.append(f"{slot.url}: {exc}")
            job.prompt_id, job.state, job.slot = None, "pending", None
            job.attempts -= 1
            self._pending.insert(0, job)
            self._pump()
        else:
            self._fail(job, exc)

    def _requeue(self, job: Job, slot: Slot, reason: str) -> None:
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
        job.state = "pending"
        job.emit(0.0, f"resubmitting: {reason}", restart=True)
        self._pending.insert(0, job)
        self._pump()

    # ---- events -----------------------------------------------------------------------------------------

    async def _ws_loop(self, slot: Slot) -> None:
        delay = 0.1
        while not self._closed:
            try:
                async with websockets.connect(
                    slot.client.ws_url,
                    # a message bigger than this (a hostile or broken server) closes the socket (1009); polling
                    # follows the jobs until it is reconnected. Previews are a few hundred KiB.
                    max_size=WS_MAX_MESSAGE,
                    max_queue=4,
                    open_timeout=10,
                    ping_interval=20,
                    ping_timeout=20,
                    close_timeout=1,
                ) as ws:
                    slot.ws = ws
                    slot.last_msg = time.monotonic()
                    slot.ws_ready.set()
                    delay = 0.1
                    self._spawn(self._check(slot))  # catch up: events missed while disconnected, jobs lost in a restart
                    async for raw in ws:
                        slot.last_msg = time.monotonic()
                        if isinstance(raw, str):  # binary frames are previews
                            try:
                                self._on_message(slot, raw)
                            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                                slot.last_error = f"malformed WebSocket message ignored: {exc!r}"
            except Exception as exc:  # refused, reset, handshake, proxy: polling follows the jobs meanwhile
                slot.last_error = f"WebSocket: {type(exc).__name__}: {exc}"
            finally:
                slot.ws = None
                slot.ws_ready.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _on_message(self, slot: Slot, raw: str) -> None:
        try:
            msg = json.loads(raw)
            kind, data = msg.get("type"), msg.get("data") or {}
        except (ValueError, AttributeError):
            return
        job = slot.jobs.get(str(data.get("prompt_id"))) if isinstance(data, dict) else None
        if job is None or job.state in ("finishing", "done", "failed"):
            return
        if kind == "execution_start":
            job.state = "running"
            job.started_at = time.monotonic()
            job.emit(0.02, f"running on {slot.url}")
        elif kind == "executing":
            node = data.get("node")
            if node is None:
                self._spawn(self._collect(job, slot))
            else:
                if job.state == "queued":
                    job.state, job.started_at = "running", time.monotonic()
                job.emit(0.03, f"{job.describe_graph_node(node)} on {slot.url}")
        elif kind == "progress":
            value, top = data.get("value") or 0, data.get("max") or 1
            job.emit(0.05 + 0.9 * min(1.0, value / top), f"{job.describe_graph_node(data.get('node'))} {value}/{top}")
        elif kind == "execution_cached" and data.get("nodes"):
            job.emit(0.03, f"{len(data['nodes'])} node(s) cached on {slot.url}")

    async def _collect(self, job: Job, slot: Slot, entry: dict[str, Any] | None = None) -> None:
        """The job ended on ``slot``: read its history, download and check its images."""
        pid = job.prompt_id
        if pid is None or job.slot is not slot or job.state in ("finishing", "done", "failed"):
            return
        previous = job.state
        job.state = "finishing"
        try:
            for wait in (0.0, 0.2, 0.5, 1.0):
                if entry is not None:
                    break
                await asyncio.sleep(wait)
                entry = await slot.client.history(pid)
            if entry is None:
                job.state = previous
                self._requeue(job, slot, "finished but the server has no history for it (restarted or history cleared)")
                return
            if job.started_at is not None:
                slot.measured(time.monotonic() - job.started_at)
            result = await self._result(job, slot, entry)
        except ServerUnavailable as exc:
            job.state = previous  # the watchdog will look again, or fail over
            self._unreachable(slot, exc)
            return
        except GenerationError as exc:
            slot.completed += 1
            self._finish(job, error=exc)
            return
        except Exception as exc:  # an unreadable answer fails this job, never hangs it
            self._finish(job, error=ServerError(slot.url, f"'{job.sprite}': unreadable result: {exc!r}"))
            return
        slot.completed += 1
        job.emit(1.0, f"done on {slot.url}")
        self._finish(job, result)

    async def _result(self, job: Job, slot: Slot, entry: dict[str, Any]) -> GenerationResult:
        images = images_of(entry, job, slot.url)
        job.emit(0.97, f"downloading {len(images)} image(s) from {slot.url}")
        cap = max_download_bytes(job.request.width, job.request.height)
        frames = await asyncio.gather(
            *(
                slot.client.view(im["filename"], im.get("subfolder") or "", im.get("type", "output"), max_bytes=cap)
                for im in images
            )
        )
        check_frames(list(frames), images, job, slot.url)
        now = time.monotonic()
        return GenerationResult(
            frames=list(frames),
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

    # ---- health, polling, failover ------------------------------------------------------------------------

    async def _watch(self, slot: Slot) -> None:
        o = self.options
        tick = max(0.02, min(o.poll_interval, o.silence_timeout) / 4)
        while not self._closed:
            await asyncio.sleep(tick)
            now = time.monotonic()
            busy = any(j.state in ("queued", "running") for j in slot.jobs.values())
            if not slot.healthy:
                interval = o.poll_interval
            elif not busy:
                continue
            elif not slot.ws_connected or now - slot.last_msg > o.silence_timeout:
                interval = o.poll_interval
            else:
                interval = o.backstop_interval
            try:
                if now - slot.last_poll >= interval:
                    await self._check(slot)
                if slot.unreachable_since is not None and now - slot.unreachable_since >= o.failover_after:
                    self._failover(slot)
                for job in list(slot.jobs.values()):
                    if job.state == "running" and not job.timed_out and now - (job.started_at or now) > o.job_timeout:
                        self._time_out(job, slot)
            except Exception as exc:  # the watchdog outlives one bad answer; the error is kept
                slot.last_error = f"watchdog: {exc!r}"

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
                if job.state not in ("queued", "running") or job.moving:
                    continue
                if job.confirmed_at is None or job.confirmed_at > asked:
                    continue  # submitted after the snapshot: its absence from it means nothing
                if pid in q.running:
                    if job.state == "queued":
                        job.state, job.started_at = "running", time.monotonic()
                    continue
                if pid in q.pending:
                    continue
                entry = await slot.client.history(pid, retry=quick)
                if job.state not in ("queued", "running") or job.prompt_id != pid:
                    continue  # the WebSocket got there first
                if entry is not None:
                    missed = missed or slot.ws_connected
                    self._spawn(self._collect(job, slot, entry))
                else:
                    self._requeue(job, slot, "lost: neither queued nor in its history (the server restarted?)")
            self._reachable(slot)
            if missed and slot.ws is not None:  # the socket is open but told us nothing: reconnect it
                await slot.ws.close()
        except ServerError as exc:
            self._unreachable(slot, exc)
        finally:
            slot.polling = False

    def _unreachable(self, slot: Slot, exc: Exception) -> None:
        slot.last_error = str(exc)
        if slot.unreachable_since is None:
            slot.unreachable_since = time.monotonic()
        slot.healthy = False

    def _reachable(self, slot: Slot) -> None:
        slot.unreachable_since = None
        if not slot.healthy:
            slot.healthy = True
            if slot.abandoned:
                self._spawn(self._withdraw(slot, sorted(slot.abandoned)))
                slot.abandoned.clear()
            self._pump()

    def _failover(self, slot: Slot) -> None:
        for pid, job in list(slot.jobs.items()):
            others = [s for s in self.slots if s is not slot and s.healthy and s.can_take(job)]
            if not others:  # nowhere to move it: keep following it here, it may well still be running
                continue
            if job.state in ("queued", "running"):
                slot.abandoned.add(pid)
                secs = self.options.failover_after
                self._requeue(job, slot, f"unreachable for {secs:g}s ({slot.last_error}); moved to another server")

    async def _withdraw(self, slot: Slot, prompt_ids: list[str]) -> None:
        """A server came back with jobs we gave to others: delete them there, interrupt the one running."""
        with contextlib.suppress(ServerError):
            await slot.client.delete(prompt_ids)
            q = await slot.client.queue()
            for pid in q.running:
                if pid in prompt_ids:
                    await slot.client.interrupt(pid)

    def _time_out(self, job: Job, slot: Slot) -> None:
        """A job the server keeps running past ``job_timeout``: interrupt it there, then fail it clearly.

        The server is told first: once the job fails, the run may end and close the backend at once.
        """
        job.timed_out = True
        job.state = "finishing"  # its own interrupted/executing events must not report it as cancelled
        secs = self.options.job_timeout
        error = GenerationError(
            f"{slot.url}: '{job.sprite}' was still running after {secs:g}s, so it was interrupted; if the "
            "workflow really takes this long, raise SPRITES_COMFYUI_JOB_TIMEOUT"
        )
        self._spawn(self._withdraw_then_fail(job, slot, error))

    async def _withdraw_then_fail(self, job: Job, slot: Slot, error: GenerationError) -> None:
        pid = job.prompt_id
        try:
            if pid is not None:
                once = RetryPolicy(deadline=5, timeout=5)
                await slot.client.request("POST", "/queue", json={"delete": [pid]}, retry=once)
                if pid in (await slot.client.queue(retry=once)).running:
                    await slot.client.request("POST", "/interrupt", json={"prompt_id": pid}, retry=once)
        except ServerError as exc:
            error = GenerationError(f"{error} (telling the server failed: {exc})")
        finally:
            self._fail(job, error)

    # ---- cancel ---------------------------------------------------------------------------------------------

    async def _cancel(self, job: Job) -> None:
        job.cancel_requested = True
        if job.state == "pending":
            self._fail(job, GenerationCancelled(f"'{job.sprite}' was cancelled before it was submitted"))
        elif job.state in ("queued", "running"):
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
                    self._spawn(self._collect(job, slot, entry))
                else:
                    self._fail(job, GenerationCancelled(f"{slot.url}: '{job.sprite}' was removed from the queue"))
        except ServerError as exc:
            self._fail(job, GenerationCancelled(f"'{job.sprite}' was cancelled (could not tell the server: {exc})"))
