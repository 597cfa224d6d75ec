"""Sprites as images for MCP clients: read from the Bevy folder, scaled up crisply (nearest neighbour)."""

from __future__ import annotations

import io

from PIL import Image

from pipeline.core.export.atomic import safe_target
from pipeline.errors import ExportError
from pipeline.settings import Settings

__all__ = ["AUTO_TARGET", "read_png", "scaled_png"]

#: the longer side an automatic upscale aims for: big enough to see pixels, small enough for a chat
AUTO_TARGET = 256


def read_png(settings: Settings, asset_path: str) -> bytes:
    """The bytes of a PNG inside the Bevy assets folder (never outside it)."""
    path = safe_target(settings.assets_dir, asset_path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExportError(f"{asset_path} is not in the Bevy assets folder ({exc.strerror})") from exc


def scaled_png(png: bytes, upscale: int | None = None) -> tuple[bytes, int, tuple[int, int]]:
    """(PNG scaled by ``upscale``, or automatically, the factor used, the original size)."""
    image = Image.open(io.BytesIO(png))
    image.load()
    size = image.size
    factor = upscale if upscale is not None else max(1, AUTO_TARGET // max(size))
    if factor == 1:
        return png, 1, size
    scaled = image.resize((size[0] * factor, size[1] * factor), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    scaled.save(buf, format="PNG")
    return buf.getvalue(), factor, size
