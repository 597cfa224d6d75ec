"""What a hostile or broken server sends (``Faults.huge_view_bytes``, ``bomb_dimensions``, ``endless_ws_bytes``):
bodies and messages far larger than anything a client should hold in memory, produced without holding them here."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["bomb_png", "endless_messages", "huge_body"]

_PNG = b"\x89PNG\r\n\x1a\n"
_CHUNK = 1 << 20


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


async def huge_body(size: int) -> AsyncIterator[bytes]:
    """``size`` bytes that start like a PNG, sent 1 MiB at a time (never all in memory)."""
    head = _PNG + _chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
    yield head
    sent, block = len(head), bytes(_CHUNK)
    while sent < size:
        piece = block[: min(_CHUNK, size - sent)]
        sent += len(piece)
        yield piece


@functools.lru_cache(maxsize=4)
def bomb_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` black pixels: a few hundred KiB that decode to width*height*3."""
    packer = zlib.compressobj(9)
    row = bytes(1 + 3 * width)  # filter byte 0, then black pixels
    parts = [packer.compress(row) for _ in range(height)]
    data = b"".join(parts) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _PNG + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


async def endless_messages(ws: Any, size: int) -> None:
    """One message of ``size`` bytes, then 1 MiB messages until the client goes away (a WebSocket that never
    stops talking). Each is valid JSON of a type clients ignore."""
    big = json.dumps({"type": "crystools.monitor", "data": {"pad": "x" * max(0, size - 64)}})
    small = json.dumps({"type": "crystools.monitor", "data": {"pad": "x" * _CHUNK}})
    with contextlib.suppress(Exception):
        await ws.send_text(big)
        while ws.client_state.name == "CONNECTED":
            await ws.send_text(small)
            await asyncio.sleep(0.01)  # a send may not yield: let the loop notice the client leaving
