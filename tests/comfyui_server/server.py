"""``FakeComfyServer``: a real HTTP + WebSocket ComfyUI-protocol server on 127.0.0.1, in a background thread.

    with FakeComfyServer(latency=0.05) as server:
        server.url                      # http://127.0.0.1:<ephemeral port>
        server.faults.silent_ws = True  # fault injection, see engine.Faults
        server.restart(downtime=0.3)    # a process restart: queue, history and caches are gone

It serves uvicorn + Starlette (ComfyUI itself uses aiohttp; the wire protocol is what matters).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from tests.comfyui_server.app import build_app
from tests.comfyui_server.engine import Engine, Faults

__all__ = ["DEFAULT_MODELS", "FakeComfyServer"]

T = TypeVar("T")

DEFAULT_MODELS: dict[str, list[str]] = {
    "checkpoints": ["sd_xl_base_1.0.safetensors", "pixel_art_diffusion_xl.safetensors"],
    "loras": ["pixel-art-xl.safetensors", "64x_pixel.safetensors"],
}


class FakeComfyServer:
    """One fake ComfyUI. ``url`` is stable across ``restart()`` (same port)."""

    def __init__(
        self,
        *,
        port: int = 0,
        latency: float = 0.0,
        models: dict[str, list[str]] | None = None,
        root: Path | None = None,
        faults: Faults | None = None,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop,
    ):
        self.faults = faults or Faults(latency=latency)
        if faults is None:
            self.faults.latency = latency
        self.models = {k: list(v) for k, v in (models or DEFAULT_MODELS).items()}
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="fake-comfy-")) if root is None else Path(root)
        self._port = port
        self.sockets: dict[str, Any] = {}
        self.socket_budget: dict[int, int] = {}
        self.requests: list[tuple[str, str]] = []
        self.ws_connections = 0
        self.engine: Engine = None  # type: ignore[assignment]  # set on start
        self._loop = loop_factory()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-comfyui", daemon=True)
        self._uvicorn: uvicorn.Server | None = None
        self._serving: asyncio.Future[None] | None = None
        self.restarts = 0

    # ---- lifecycle -----------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FakeComfyServer:
        self._thread.start()
        self.call(self._start())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self.call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def restart(self, downtime: float = 0.0) -> None:
        """Kill and start again: connections drop, queue/history/cache are wiped; files on disk stay."""
        self.call(self._stop())
        if downtime:
            threading.Event().wait(downtime)
        self.restarts += 1
        self.call(self._start())

    def go_down(self) -> None:
        """Stop serving (connection refused) until ``come_back()``."""
        self.call(self._stop())

    def come_back(self) -> None:
        self.restarts += 1
        self.call(self._start())

    def __enter__(self) -> FakeComfyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, work: Any, timeout: float = 30) -> Any:
        """Run a coroutine (or a plain callable) on the server's loop and return its result."""
        if asyncio.iscoroutine(work):
            return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

        async def run() -> Any:
            return work()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def on_loop(self, fn: Callable[[], T]) -> T:
        return self.call(fn)  # type: ignore[no-any-return]

    async def _start(self) -> None:
        self.engine = Engine(self.root, self.models, self.faults, self.send)
        self.engine.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        sock.listen(128)
        sock.setblocking(False)
        config = uvicorn.Config(
            build_app(self),
            log_level="error",
            access_log=False,
            lifespan="off",
            ws="websockets-sansio",
            ws_max_size=16 * 2**20,
            ws_ping_interval=None,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        self._uvicorn = uvicorn.Server(config)
        self._serving = asyncio.ensure_future(self._uvicorn.serve(sockets=[sock]))
        while not self._uvicorn.started:
            if self._serving.done():
                self._serving.result()
            await asyncio.sleep(0.005)

    async def _stop(self) -> None:
        for ws in list(self.sockets.values()):
            with contextlib.suppress(Exception):
                await ws.close(code=1012)
        self.sockets.clear()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            self._uvicorn.force_exit = True
            assert self._serving is not None
            await self._serving
            self._uvicorn = None
        if self.engine is not None:
            await self.engine.stop()

    # ---- WebSocket messages ----------------------------------------------------------------------------------

    async def send(self, event: str, data: dict[str, Any], sid: str | None) -> None:
        """``PromptServer.send_json``: to one client (``sid``) or, when None, to every client."""
        if self.faults.silent_ws:
            return
        targets = list(self.sockets.values()) if sid is None else [self.sockets[sid]] if sid in self.sockets else []
        text = json.dumps({"type": event, "data": data})
        for ws in targets:
            if self.faults.drop_ws_after is not None:
                left = self.socket_budget.setdefault(id(ws), self.faults.drop_ws_after)
                if left <= 0:
                    self.socket_budget.pop(id(ws), None)
                    for key, value in list(self.sockets.items()):
                        if value is ws:
                            del self.sockets[key]
                    with contextlib.suppress(Exception):
                        await ws.close(code=1011)
                    continue
                self.socket_budget[id(ws)] = left - 1
            with contextlib.suppress(Exception):
                await ws.send_text(text)

    def drop_sockets(self) -> None:
        """Close every WebSocket now (the server keeps running)."""

        async def drop() -> None:
            for ws in list(self.sockets.values()):
                with contextlib.suppress(Exception):
                    await ws.close(code=1011)
            self.sockets.clear()

        self.call(drop())

    # ---- inspection for tests --------------------------------------------------------------------------------

    def count(self, method: str, path: str) -> int:
        """How many ``method path`` requests were answered (injected faults not counted)."""
        return self.call(lambda: sum(1 for m, p in self.requests if m == method and p.removeprefix("/api") == path))

    def executions(self) -> list[str]:
        return self.call(lambda: list(self.engine.executions))

    def history(self) -> dict[str, Any]:
        return self.call(lambda: dict(self.engine.history))

    def queue(self) -> tuple[list[Any], list[Any]]:
        return self.call(lambda: self.engine.current_queue())
