"""Following: one WebSocket per server (``/ws?clientId=``), its events filtered by prompt_id drive each job.

``execution_start`` / ``executing`` mark a job running and report progress; ``executing`` with ``node: null``
(sent after ComfyUI wrote the history) starts collecting it (collect.py). While a socket is down the watchdog
polls instead (watchdog.py); after every reconnect one poll catches up on what was missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import websockets
from websockets.exceptions import WebSocketException

from pipeline.core.generate.comfyui.core import DispatchCore
from pipeline.core.generate.comfyui.lifecycle import Event, State
from pipeline.core.generate.comfyui.slots import Slot

__all__ = ["WS_MAX_MESSAGE", "Following"]

log = logging.getLogger(__name__)

WS_MAX_MESSAGE = 8 * 2**20


class Following(DispatchCore):
    async def _ws_loop(self, slot: Slot) -> None:
        delay = 0.1
        failing = False  # log the first failure of a run of them, not every reconnect attempt
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
                    delay, failing, warned = 0.1, False, False
                    self._spawn(self._check(slot))  # catch up: events missed while disconnected, jobs lost in a restart
                    async for raw in ws:
                        slot.last_msg = time.monotonic()
                        if isinstance(raw, str):  # binary frames are previews
                            try:
                                self._on_message(slot, raw)
                            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                                slot.last_error = f"malformed WebSocket message ignored: {exc!r}"
                                # once per connection at warning level: a broken server may send thousands
                                level = logging.DEBUG if warned else logging.WARNING
                                log.log(level, "%s: %s: %.200r", slot.url, slot.last_error, raw)
                                warned = True
            except (OSError, WebSocketException) as exc:  # refused, reset, handshake, proxy, too big, timeout
                slot.last_error = f"WebSocket: {type(exc).__name__}: {exc}"
                if not failing and not self._closed:
                    log.warning("%s: %s; following its jobs by polling until it reconnects", slot.url, slot.last_error)
                failing = True
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
            return  # not ours to judge: other clients' and extensions' messages share the socket
        job = slot.jobs.get(str(data.get("prompt_id"))) if isinstance(data, dict) else None
        if job is None or not job.state.followed:
            return
        if kind == "execution_start":
            self._go(job, Event.START)
            job.started_at = time.monotonic()
            job.emit(0.02, f"running on {slot.url}")
        elif kind == "executing":
            node = data.get("node")
            if node is None:
                self._spawn(self._collect(job, slot), job)
            else:
                if job.state is State.QUEUED:
                    self._go(job, Event.START)
                    job.started_at = time.monotonic()
                job.emit(0.03, f"{job.describe_graph_node(node)} on {slot.url}")
        elif kind == "progress":
            value, top = data.get("value") or 0, data.get("max") or 1
            job.emit(0.05 + 0.9 * min(1.0, value / top), f"{job.describe_graph_node(data.get('node'))} {value}/{top}")
        elif kind == "execution_cached" and data.get("nodes"):
            job.emit(0.03, f"{len(data['nodes'])} node(s) cached on {slot.url}")
