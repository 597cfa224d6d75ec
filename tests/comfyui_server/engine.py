"""The fake server's core: prompt validation, the queue, execution with caching, history, and WebSocket events.

It follows ComfyUI's ``execution.py`` (``validate_prompt``/``validate_inputs``, ``PromptExecutor.execute``,
``PromptQueue``) and ``main.py::prompt_worker``, and the message order a real v0.3.64 server produced (see
``/work/shared/comfyui/real-server-transcript.txt``):

    status (put) · status (get) · execution_start · execution_cached · [progress_state · executing · progress* ·
    executed · progress_state]* · execution_success | execution_error | execution_interrupted ·
    (history written) · status · executing {node: null}

Everything runs on one asyncio loop; ``Faults`` changes behaviour at run time (tests flip its fields).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import json
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.comfyui_server.nodes import ExecContext, NodeClass, node_classes
from tests.comfyui_server.validation import ValidationFailure, error, validate_prompt

__all__ = ["Engine", "Faults", "ValidationFailure"]

#: a tensor dump like the one real ComfyUI puts in execution_error.current_inputs (clients must not show it)
TENSOR_DUMP = "tensor([[[[0., 0., 0.],\n" + "          [0., 0., 0.],\n" * 200 + "          [0., 0., 0.]]]])"


@dataclass
class Faults:
    """Run-time fault injection. Tests set fields directly; every field is read at the moment it matters."""

    latency: float = 0.0  #: seconds of "GPU time" per image in sampler nodes
    http_delay: float = 0.0  #: extra seconds before every HTTP response (a slow or overloaded server)
    http_errors: int = 0  #: answer the next N matching HTTP requests with ``http_error_status``
    http_error_status: int = 500
    http_error_paths: tuple[str, ...] = ()  #: path prefixes that fail (empty: all paths)
    fail_node: dict[str, tuple[str, str]] = field(default_factory=dict)  #: class_type -> (exception type, message)
    drop_ws_after: int | None = None  #: close every WebSocket after N more messages to it
    silent_ws: bool = False  #: keep sockets open but send nothing (a wedged proxy, a stuck event loop)
    refuse_ws: bool = False  #: reject every WebSocket handshake (a proxy without WebSocket support)
    stale_outputs: bool = False  #: output nodes report the previous job's files (a broken cache re-report)
    lose_prompt_answers: int = 0  #: queue the next N prompts, then answer 502 (a proxy dropping the answer)
    garbage_answers: int = 0  #: answer the next N matching requests 200 with an HTML page (a captive proxy)
    garbage_paths: tuple[str, ...] = ()  #: path prefixes that get garbage (empty: all paths)
    truncate_views: bool = False  #: /view sends half of each image (a connection cut mid-download)
    #: an idle worker takes a new prompt this long after it was queued: POST /prompt answers first, and for that
    #: moment the prompt is in queue_pending and /history says {} (as on a real server, whose worker is a thread)
    pickup_delay: float = 0.05
    #: class_type -> seconds of uninterruptible work (a real node checks for interrupts only before it starts)
    node_seconds: dict[str, float] = field(default_factory=dict)
    #: /view answers a body this many bytes long (a hostile or broken server); ``view_declared_length``: what its
    #: Content-Length says (None: no Content-Length, chunked)
    huge_view_bytes: int = 0
    view_declared_length: bool = True
    #: /view answers a valid PNG header declaring these dimensions (a decompression bomb), e.g. (12000, 12000)
    bomb_dimensions: tuple[int, int] | None = None
    #: every WebSocket gets one text message of this many bytes, sent in pieces, never finished
    endless_ws_bytes: int = 0

    def take_garbage(self, path: str) -> bool:
        if self.garbage_answers <= 0 or (
            self.garbage_paths and not any(path.startswith(p) for p in self.garbage_paths)
        ):
            return False
        self.garbage_answers -= 1
        return True

    def take_http_error(self, path: str) -> int | None:
        if self.http_errors <= 0:
            return None
        if self.http_error_paths and not any(path.startswith(p) for p in self.http_error_paths):
            return None
        self.http_errors -= 1
        return self.http_error_status


class Interrupted(Exception):
    pass


def _now_ms() -> int:
    return int(time.time() * 1000)


SendFn = Callable[[str, dict[str, Any], str | None], Awaitable[None]]


class Engine:
    """One server's state: queue, history, cache and the worker that executes prompts one at a time."""

    def __init__(self, root: Path, models: dict[str, list[str]], faults: Faults, send: SendFn):
        self.root = root
        self.output_dir, self.input_dir, self.temp_dir = root / "output", root / "input", root / "temp"
        for d in (self.output_dir, self.input_dir, self.temp_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.models = models
        self.faults = faults
        self.classes: dict[str, NodeClass] = node_classes(self.input_dir)
        self._send = send
        self.number = 0
        self.queue: list[tuple[float, int, list[Any]]] = []  # heap of (number, seq, item)
        self._seq = 0
        self.running: list[Any] | None = None
        self.history: dict[str, dict[str, Any]] = {}
        self.cache: dict[str, tuple[tuple[Any, ...], dict[str, Any] | None]] = {}  # signature -> (outputs, ui)
        self.client_id: str | None = None
        self.last_node_id: str | None = None
        self.interrupt_flag = False
        self.executions: list[str] = []  # prompt ids, in the order they started (for tests)
        self.last_ui: dict[str, Any] | None = None
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    # ---- queue (execution.PromptQueue) -----------------------------------------------------------------------

    def tasks_remaining(self) -> int:
        return len(self.queue) + (1 if self.running else 0)

    def queue_info(self) -> dict[str, Any]:
        return {"exec_info": {"queue_remaining": self.tasks_remaining()}}

    async def _queue_updated(self) -> None:
        await self._send("status", {"status": self.queue_info()}, None)

    def current_queue(self) -> tuple[list[Any], list[Any]]:
        running = [self.running] if self.running else []
        return running, [item for _, _, item in sorted(self.queue)]

    async def put(self, item: list[Any]) -> None:
        heapq.heappush(self.queue, (item[0], self._seq, item))
        self._seq += 1
        self._wake.set()
        await self._queue_updated()

    async def delete(self, prompt_ids: list[str]) -> None:
        before = len(self.queue)
        self.queue = [e for e in self.queue if e[2][1] not in prompt_ids]
        heapq.heapify(self.queue)
        if len(self.queue) != before:
            await self._queue_updated()

    async def wipe_queue(self) -> None:
        self.queue = []
        await self._queue_updated()

    def get_history(self, prompt_id: str | None = None, max_items: int | None = None) -> dict[str, Any]:
        if prompt_id is not None:
            return {prompt_id: self.history[prompt_id]} if prompt_id in self.history else {}
        items = list(self.history.items())
        if max_items is not None:
            items = items[-max_items:]
        return dict(items)

    def interrupt(self, prompt_id: str | None) -> None:
        """POST /interrupt: global, or only if ``prompt_id`` is the running prompt (v0.3.64 behaviour)."""
        if prompt_id and not (self.running and self.running[1] == prompt_id):
            return
        self.interrupt_flag = True

    # ---- POST /prompt (server.post_prompt + execution.validate_prompt) --------------------------------------

    async def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        if "number" in body:
            number: float = float(body["number"])
        else:
            number = self.number
            if body.get("front"):
                number = -number
            self.number += 1
        if "prompt" not in body:
            raise ValidationFailure(
                {"error": error("no_prompt", "No prompt provided", "No prompt provided"), "node_errors": {}}
            )
        prompt = body["prompt"]
        outputs, node_errors = validate_prompt(prompt, self.classes, self.models)
        prompt_id = str(body.get("prompt_id") or uuid.uuid4())
        extra = dict(body.get("extra_data") or {})
        if "client_id" in body:
            extra["client_id"] = body["client_id"]
        if isinstance(number, float) and number.is_integer():
            number = int(number)
        await self.put([number, prompt_id, prompt, extra, outputs])
        return {"prompt_id": prompt_id, "number": number, "node_errors": node_errors}

    # ---- execution (main.prompt_worker + execution.PromptExecutor) ------------------------------------------

    async def _work(self) -> None:
        while True:
            first = None
            if not self.queue:
                while not self.queue:
                    self._wake.clear()
                    await self._wake.wait()
                if self.faults.pickup_delay:
                    first = min(self.queue)  # what the woken worker takes; it is still listed as pending a while
                    await asyncio.sleep(self.faults.pickup_delay)
                    if first not in self.queue:  # deleted meanwhile
                        continue
            if first is None:
                _, _, item = heapq.heappop(self.queue)
            else:
                self.queue.remove(first)
                heapq.heapify(self.queue)
                item = first[2]
            self.running = item
            await self._queue_updated()
            _, prompt_id, prompt, extra, outputs = item
            self.executions.append(prompt_id)
            status, ui_outputs, messages, meta = await self._execute(prompt, prompt_id, extra, outputs)
            # task_done: the history entry exists before the final `executing: null` goes out
            self.history[prompt_id] = {
                "prompt": item,
                "outputs": ui_outputs,
                "status": {"status_str": status, "completed": status == "success", "messages": messages},
                "meta": meta,
            }
            self.running = None
            await self._queue_updated()
            if self.client_id is not None:
                await self._send("executing", {"node": None, "prompt_id": prompt_id}, self.client_id)

    def _signature(self, prompt: dict[str, Any], nid: str, memo: dict[str, str]) -> str:
        if nid not in memo:
            node = prompt[nid]
            parts = {}
            for k, v in sorted(node.get("inputs", {}).items()):
                parts[k] = ["link", self._signature(prompt, v[0], memo), v[1]] if isinstance(v, list) else v
            memo[nid] = hashlib.sha256(json.dumps([node["class_type"], parts], default=str).encode()).hexdigest()
        return memo[nid]

    def _order(self, prompt: dict[str, Any], outputs: list[str]) -> list[str]:
        order: list[str] = []

        def visit(nid: str) -> None:
            if nid in order:
                return
            for v in prompt[nid].get("inputs", {}).values():
                if isinstance(v, list):
                    visit(v[0])
            order.append(nid)

        for out in outputs:
            visit(out)
        return order

    async def _execute(
        self, prompt: dict[str, Any], prompt_id: str, extra: dict[str, Any], outputs: list[str]
    ) -> tuple[str, dict[str, Any], list[Any], dict[str, Any]]:
        self.interrupt_flag = False
        self.client_id = extra.get("client_id")
        messages: list[Any] = []

        async def message(event: str, data: dict[str, Any]) -> None:
            messages.append([event, data])
            await self._send(event, data, self.client_id)

        await message("execution_start", {"prompt_id": prompt_id, "timestamp": _now_ms()})
        order = self._order(prompt, outputs)
        memo: dict[str, str] = {}
        sigs = {nid: self._signature(prompt, nid, memo) for nid in order}
        cached = [nid for nid in order if sigs[nid] in self.cache]
        await message("execution_cached", {"nodes": cached, "prompt_id": prompt_id, "timestamp": _now_ms()})
        values: dict[str, tuple[Any, ...]] = {}
        ui_outputs: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        states: dict[str, dict[str, Any]] = {}
        executed: list[str] = []

        def record_ui(nid: str, ui: dict[str, Any]) -> None:
            ui_outputs[nid] = ui
            meta[nid] = {"node_id": nid, "display_node": nid, "parent_node": None, "real_node_id": nid}

        async def progress_state(nid: str, state: str, value: float, maximum: float) -> None:
            states[nid] = {
                "value": value,
                "max": maximum,
                "state": state,
                "node_id": nid,
                "prompt_id": prompt_id,
                "display_node_id": nid,
                "parent_node_id": None,
                "real_node_id": nid,
            }
            await self._send("progress_state", {"prompt_id": prompt_id, "nodes": dict(states)}, self.client_id)

        for nid in cached:
            outs, ui = self.cache[sigs[nid]]
            values[nid] = outs
            if ui is not None:
                record_ui(nid, ui)
                data = {"node": nid, "display_node": nid, "output": ui, "prompt_id": prompt_id}
                await self._send("executed", data, self.client_id)
                await progress_state(nid, "finished", 1, 1)
        current = None
        try:
            for nid in order:
                if nid in values:
                    continue
                current = nid
                node = prompt[nid]
                cls = self.classes[node["class_type"]]
                await progress_state(nid, "running", 0.0, 1.0)
                self.last_node_id = nid
                await self._send(
                    "executing", {"node": nid, "display_node": nid, "prompt_id": prompt_id}, self.client_id
                )
                if self.interrupt_flag:  # nodes.before_node_execution(): the only check outside sampling
                    raise Interrupted
                kwargs = {
                    k: values[v[0]][v[1]] if isinstance(v, list) else v for k, v in node.get("inputs", {}).items()
                }
                if cls.slow:
                    await self._sample(nid, prompt_id, kwargs)
                if node["class_type"] in self.faults.node_seconds:
                    await asyncio.sleep(self.faults.node_seconds[node["class_type"]])  # deaf to interrupts
                if node["class_type"] in self.faults.fail_node:
                    exc_type, exc_message = self.faults.fail_node[node["class_type"]]
                    raise _InjectedError(exc_type, exc_message)
                ctx = ExecContext(self.output_dir, self.input_dir, self.temp_dir, prompt, nid)
                # in a thread, like ComfyUI's prompt worker: the HTTP side answers while a node works
                outs = await asyncio.to_thread(cls.fn, ctx, **kwargs)
                ui = None
                if cls.output_node:
                    ui = outs[0]["ui"]
                    if self.faults.stale_outputs and self.last_ui is not None:
                        ui = self.last_ui
                    self.last_ui = outs[0]["ui"]
                    record_ui(nid, ui)
                    data = {"node": nid, "display_node": nid, "output": ui, "prompt_id": prompt_id}
                    await self._send("executed", data, self.client_id)
                values[nid] = outs
                self.cache[sigs[nid]] = (outs, ui)
                executed.append(nid)
                await progress_state(nid, "finished", 1.0, 1.0)
        except Interrupted:
            node_type = prompt[current]["class_type"] if current else None
            data = {
                "prompt_id": prompt_id,
                "node_id": current,
                "node_type": node_type,
                "executed": executed,
                "timestamp": _now_ms(),
            }
            await message("execution_interrupted", data)
            return "error", {}, messages, {}
        except Exception as exc:
            assert current is not None
            exc_type = exc.type_name if isinstance(exc, _InjectedError) else type(exc).__name__
            data = {
                "prompt_id": prompt_id,
                "node_id": current,
                "node_type": prompt[current]["class_type"],
                "executed": executed,
                "exception_message": f"{exc}\n",
                "exception_type": exc_type,
                "traceback": traceback.format_tb(exc.__traceback__),
                "current_inputs": {k: [TENSOR_DUMP] for k in prompt[current].get("inputs", {})},
                "current_outputs": list(prompt),
                "timestamp": _now_ms(),
            }
            await message("execution_error", data)
            return "error", {}, messages, {}
        finally:
            self.last_node_id = None
        # classic cache: keep only what this prompt used
        keep = set(sigs.values())
        self.cache = {k: v for k, v in self.cache.items() if k in keep}
        await message("execution_success", {"prompt_id": prompt_id, "timestamp": _now_ms()})
        return "success", ui_outputs, messages, meta

    async def _sample(self, nid: str, prompt_id: str, kwargs: dict[str, Any]) -> None:
        """``latency`` seconds per image, spread over the steps on an absolute schedule (no drift).

        An interrupt is noticed between steps, as ComfyUI's sampler callback notices it, never within one.
        """
        steps = int(kwargs.get("steps", 1))
        latent = kwargs.get("latent_image")
        batch = int(latent.get("batch", 1)) if isinstance(latent, dict) else 1
        total = self.faults.latency * batch
        loop = asyncio.get_running_loop()
        start = loop.time()
        for step in range(steps):
            if self.interrupt_flag:
                raise Interrupted
            if total > 0:
                await asyncio.sleep(max(0.0, start + total * (step + 1) / steps - loop.time()))
            data = {"value": step + 1, "max": steps, "prompt_id": prompt_id, "node": nid}
            await self._send("progress", data, self.client_id)
        if self.interrupt_flag:
            raise Interrupted


class _InjectedError(Exception):
    def __init__(self, type_name: str, message: str):
        super().__init__(message)
        self.type_name = type_name
