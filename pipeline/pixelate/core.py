"""First version of the pixel stage: per-cell median, palette mapping in OKLab, binary alpha."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from pipeline.errors import PixelateError
from pipeline.pixelate.color import hex_to_rgb, nearest_palette_index, rgb_to_hex, srgb_to_oklab
from pipeline.pixelate.palettes import NAMED_PALETTES

__all__ = ["PixelParams", "PixelResult", "pixelate_frames"]


@dataclass(frozen=True)
class PixelParams:
    """What the pixel stage is asked to produce. ``palette``: a name, explicit '#rrggbb' colours, or N (adaptive)."""

    width: int
    height: int
    palette: str | tuple[str, ...] | int = "pico-8"
    background: str = "auto"  # auto | none | '#rrggbb' key colour
    alpha_threshold: int = 128
    outline: str | None = None
    dither: str = "none"  # none | ordered | floyd-steinberg
    cleanup: bool = True

    def cache_fields(self) -> dict[str, Any]:
        """Everything that determines the output, for the stage's cache key."""
        return {
            "width": self.width,
            "height": self.height,
            "palette": list(self.palette) if isinstance(self.palette, tuple) else self.palette,
            "background": self.background,
            "alpha_threshold": self.alpha_threshold,
            "outline": self.outline,
            "dither": self.dither,
            "cleanup": self.cleanup,
        }


@dataclass
class PixelResult:
    frames: list[Image.Image]
    palette: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)


def _cell_median(arr: np.ndarray, w: int, h: int) -> np.ndarray:
    """Median of each cell of a (H, W, C) array split into an h x w grid of (near-)equal cells."""
    H, W = arr.shape[:2]
    ys = np.linspace(0, H, h + 1).round().astype(int)
    xs = np.linspace(0, W, w + 1).round().astype(int)
    if H % h == 0 and W % w == 0:
        sy, sx = H // h, W // w
        blocks = arr.reshape(h, sy, w, sx, arr.shape[2]).transpose(0, 2, 1, 3, 4).reshape(h, w, sy * sx, -1)
        return np.median(blocks, axis=2).astype(np.uint8)
    out = np.empty((h, w, arr.shape[2]), dtype=np.uint8)
    for j in range(h):
        for i in range(w):
            cell = arr[ys[j] : ys[j + 1], xs[i] : xs[i + 1]].reshape(-1, arr.shape[2])
            out[j, i] = np.median(cell, axis=0)
    return out


def _border_background(rgb: np.ndarray, tolerance: float = 0.08) -> np.ndarray:
    """Mask of pixels connected to the border whose colour is close (OKLab) to the commonest border colour."""
    h, w = rgb.shape[:2]
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    colours, counts = np.unique(border.reshape(-1, 3), axis=0, return_counts=True)
    bg = colours[counts.argmax()]
    close = np.linalg.norm(srgb_to_oklab(rgb) - srgb_to_oklab(bg[None, :])[0], axis=2) < tolerance
    mask = np.zeros((h, w), dtype=bool)
    todo: deque[tuple[int, int]] = deque(
        (y, x) for y in range(h) for x in range(w) if (y in (0, h - 1) or x in (0, w - 1)) and close[y, x]
    )
    for y, x in todo:
        mask[y, x] = True
    while todo:
        y, x = todo.popleft()
        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= ny < h and 0 <= nx < w and close[ny, nx] and not mask[ny, nx]:
                mask[ny, nx] = True
                todo.append((ny, nx))
    return mask


def _resolve_palette(params: PixelParams, cells: list[np.ndarray], alphas: list[np.ndarray]) -> np.ndarray:
    if isinstance(params.palette, int):
        opaque = np.concatenate([c[a] for c, a in zip(cells, alphas, strict=True)]) if cells else np.empty((0, 3))
        if len(opaque) == 0:
            return hex_to_rgb(["#000000", "#ffffff"])
        strip = Image.fromarray(opaque.reshape(1, -1, 3).astype(np.uint8), "RGB")
        q = strip.quantize(colors=params.palette, method=Image.Quantize.MAXCOVERAGE)
        pal = np.array((q.getpalette() or [])[: 3 * params.palette], dtype=np.uint8).reshape(-1, 3)
        used = np.unique(np.asarray(q)).astype(int)
        return pal[used]
    if isinstance(params.palette, str):
        if params.palette not in NAMED_PALETTES:
            raise PixelateError(f"unknown palette '{params.palette}'")
        return hex_to_rgb(NAMED_PALETTES[params.palette])
    return hex_to_rgb(params.palette)


def pixelate_frames(frames: Sequence[Image.Image], params: PixelParams) -> PixelResult:
    """Turn renders (one per animation frame) into RGBA sprites of ``params.width x params.height``."""
    if not frames:
        raise PixelateError("no frames to pixelate")
    cells: list[np.ndarray] = []
    alphas: list[np.ndarray] = []
    for frame in frames:
        rgba = np.asarray(frame.convert("RGBA"))
        if rgba.shape[0] < params.height or rgba.shape[1] < params.width:
            raise PixelateError(
                f"render {rgba.shape[1]}x{rgba.shape[0]} is smaller than the sprite {params.width}x{params.height}"
            )
        small = _cell_median(rgba, params.width, params.height)
        alpha = small[..., 3] >= params.alpha_threshold
        rgb = small[..., :3]
        if params.background == "auto":
            alpha &= ~_border_background(rgb)
        elif params.background != "none":
            key = hex_to_rgb([params.background])[0]
            alpha &= np.abs(rgb.astype(int) - key).sum(axis=2) > 24
        cells.append(rgb)
        alphas.append(alpha)

    palette_rgb = _resolve_palette(params, cells, alphas)
    out: list[Image.Image] = []
    used: set[int] = set()
    for rgb, alpha in zip(cells, alphas, strict=True):
        idx = nearest_palette_index(rgb, palette_rgb)
        used.update(np.unique(idx[alpha]).tolist())
        rgba = np.zeros((*rgb.shape[:2], 4), dtype=np.uint8)
        rgba[..., :3] = palette_rgb[idx]
        rgba[..., 3] = np.where(alpha, 255, 0)
        rgba[~alpha, :3] = 0
        out.append(Image.fromarray(rgba, "RGBA"))

    palette_hex = tuple(rgb_to_hex(palette_rgb))
    render_w, _render_h = frames[0].size
    metadata = {
        "scale": round(render_w / params.width, 3),
        "offset": [0, 0],
        "palette_size": len(palette_hex),
        "colours_used": len(used),
        "opaque_pixels": int(sum(int(a.sum()) for a in alphas)),
    }
    return PixelResult(frames=out, palette=palette_hex, metadata=metadata)
