"""The pixel stage: renders -> grid -> one colour per cell -> transparency -> palette -> RGBA sprites.

Each frame is read once (as a numpy view of the decoded PNG, no conversion for RGB or RGBA),
its grid detected, and every later step works on the sprite's logical grid, which is tiny.
Animation frames share one palette: an adaptive palette is chosen from the cells of all frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from pipeline.errors import PixelateError
from pipeline.pixelate import alpha as alpha_ops
from pipeline.pixelate.cells import cell_colours
from pipeline.pixelate.color import hex_to_rgb, oklab_to_srgb, rgb_to_hex, srgb_to_oklab
from pipeline.pixelate.dither import map_to_palette
from pipeline.pixelate.drift import correct_drift
from pipeline.pixelate.grid import Grid, detect_grid
from pipeline.pixelate.palettes import NAMED_PALETTES, normalize_hex
from pipeline.pixelate.params import PixelParams, PixelResult
from pipeline.pixelate.quantize import adaptive_palette

__all__ = ["pixelate_frames", "render_array"]

_FLAT = 2.0  # a render whose colours vary less than this (std, levels) is blank


@dataclass
class _Frame:
    grid: Grid
    rgb: np.ndarray  # (h, w, 3) uint8 cell colours
    lab: np.ndarray  # (h, w, 3) float32
    opaque: np.ndarray  # (h, w) bool
    background: np.ndarray | None  # OKLab colour removed as background
    removed_background: int
    removed_orphans: int
    drift_gain: list[float] | None = None


def render_array(frame: Image.Image) -> np.ndarray:
    """(H, W, 3) or (H, W, 4) uint8 view of a render; 4 channels only when it has real transparency."""
    if frame.mode == "RGB":
        return np.asarray(frame)
    if frame.mode not in ("RGBA", "LA", "PA", "P", "RGBa") and "transparency" not in frame.info:
        return np.asarray(frame.convert("RGB"))
    arr = np.asarray(frame if frame.mode == "RGBA" else frame.convert("RGBA"))
    return arr if arr[..., 3].min() < 255 else arr[..., :3]


def _grid_for(arr: np.ndarray, cells: tuple[int, int] | None, params: PixelParams, index: int) -> Grid:
    h, w = arr.shape[:2]
    if cells is not None and (w < cells[0] or h < cells[1]):
        raise PixelateError(f"render {w}x{h} is smaller than the sprite {cells[0]}x{cells[1]}")
    grid = detect_grid(arr, cells)
    if grid.confidence >= params.min_confidence:
        return grid
    frame = f"frame {index}: " if index else ""
    found = f"no trustworthy pixel grid found (confidence {grid.confidence:.2f} < {params.min_confidence})"
    if float(arr[::4, ::4, :3].std(axis=(0, 1)).max()) < _FLAT:
        raise PixelateError(f"{frame}{found}: the render is one flat colour; a blank or failed generation?")
    if cells is None:
        raise PixelateError(f"{frame}{found}; pass the sprite size (--size WxH) or check the render")
    free = detect_grid(arr, None)
    hint = (
        f"; the render looks like {free.x.period:g} px per pixel ({free.x.count}x{free.y.count} cells)"
        if free.confidence >= params.min_confidence
        else ""
    )
    raise PixelateError(
        f"{frame}{found} at {grid.x.period:g}x{grid.y.period:g} render px per pixel for a {cells[0]}x{cells[1]} "
        f"sprite{hint}; check the sprite size and the render"
    )


def _read_frame(arr: np.ndarray, grid: Grid, params: PixelParams) -> _Frame:
    cells = cell_colours(arr, grid)
    rgb = np.ascontiguousarray(cells[..., :3])
    lab = srgb_to_oklab(rgb)
    opaque = cells[..., 3] >= params.alpha_threshold if cells.shape[2] == 4 else np.ones(rgb.shape[:2], dtype=bool)
    background = None
    removed = np.zeros_like(opaque)
    if params.background == "auto":
        tol = params.background_tolerance
        background = alpha_ops.border_background(lab, opaque, tol)
        if background is not None:
            distance = np.linalg.norm(lab - background, axis=-1)
            seeds = np.zeros_like(opaque)
            seeds[0], seeds[-1], seeds[:, 0], seeds[:, -1] = True, True, True, True
            # Start on border cells of the background colour; grow between similar neighbours, so a
            # drifting background is followed, but never further than DRIFT_REACH tolerances from it.
            removed = alpha_ops.flood_from_border(
                opaque & (distance < alpha_ops.DRIFT_REACH * tol), seeds & (distance < tol), lab, tol
            )
    elif params.background != "none":
        background = srgb_to_oklab(hex_to_rgb([normalize_hex(params.background)]))[0]
        removed = alpha_ops.key_mask(lab, background, params.background_tolerance) & opaque
    opaque = opaque & ~removed
    orphans = alpha_ops.remove_orphans(opaque) if params.cleanup else np.zeros_like(opaque)
    opaque = opaque & ~orphans
    return _Frame(grid, rgb, lab, opaque, background, int(removed.sum()), int(orphans.sum()))


def _palette(params: PixelParams, frames: list[_Frame], outline: str | None) -> tuple[np.ndarray, str]:
    """(palette RGB, where it came from) for all frames together."""
    if isinstance(params.palette, int):
        opaque = np.concatenate([f.rgb[f.opaque] for f in frames])
        n = params.palette - (1 if outline else 0)
        pal = adaptive_palette(opaque, max(n, 0))
        if outline:
            pal = np.concatenate([pal, hex_to_rgb([outline])])
        return pal, f"adaptive:{params.palette}"
    if isinstance(params.palette, str):
        return hex_to_rgb(NAMED_PALETTES[params.palette]), params.palette
    return hex_to_rgb(list(dict.fromkeys(normalize_hex(c) for c in params.palette))), "explicit"


def pixelate_frames(frames: Sequence[Image.Image], params: PixelParams) -> PixelResult:
    """Turn renders (one per animation frame) into RGBA sprites sharing one palette.

    Raises PixelateError when a setting cannot work or a render has no grid it can trust.
    """
    params.check()
    if not frames:
        raise PixelateError("no frames to pixelate")
    cells = None if params.width is None or params.height is None else (params.width, params.height)
    read: list[_Frame] = []
    for i, frame in enumerate(frames):
        arr = render_array(frame)
        grid = _grid_for(arr, cells, params, i)
        if cells is None:  # detected on the first frame; the others must match it
            cells = (grid.x.count, grid.y.count)
        read.append(_read_frame(arr, grid, params))

    outline = normalize_hex(params.outline) if params.outline else None
    palette_rgb, source = _palette(params, read, outline)
    if len(palette_rgb) == 0:  # nothing opaque anywhere: a palette of one, for a valid empty sprite
        palette_rgb = hex_to_rgb([outline or "#000000"])
    palette_lab = srgb_to_oklab(palette_rgb)
    outline_index = None
    if outline is not None:
        outline_index = int(np.argmin(np.linalg.norm(palette_lab - srgb_to_oklab(hex_to_rgb([outline]))[0], axis=1)))

    if params.correct_drift and not isinstance(params.palette, int):
        for f in read:
            f.rgb, f.drift_gain = correct_drift(f.rgb, f.opaque, palette_rgb)
            if f.drift_gain is not None:
                f.lab = srgb_to_oklab(f.rgb)

    out: list[Image.Image] = []
    used = np.zeros(len(palette_rgb), dtype=bool)
    outline_pixels = 0
    for f in read:
        idx = map_to_palette(f.lab, f.opaque, palette_lab, params.dither)
        opaque = f.opaque
        if outline_index is not None:
            ring = alpha_ops.add_outline(opaque)
            idx = np.where(ring, outline_index, idx)
            opaque = opaque | ring
            outline_pixels += int(ring.sum())
        used[np.unique(idx[opaque])] = True
        rgba = np.zeros((*idx.shape, 4), dtype=np.uint8)
        rgba[..., :3] = np.where(opaque[..., None], palette_rgb[idx], 0)
        rgba[..., 3] = np.where(opaque, 255, 0)
        out.append(Image.fromarray(rgba, "RGBA"))

    palette_hex = tuple(rgb_to_hex(palette_rgb))
    metadata = _metadata(read, params, source, palette_hex, used, outline_index, outline_pixels)
    return PixelResult(frames=out, palette=palette_hex, metadata=metadata)


def _metadata(
    read: list[_Frame],
    params: PixelParams,
    source: str,
    palette_hex: tuple[str, ...],
    used: np.ndarray,
    outline_index: int | None,
    outline_pixels: int,
) -> dict[str, Any]:
    """Every decision of the stage, JSON-able (it goes into the Dagster asset metadata)."""
    first = read[0].grid.describe()
    weakest = min(read, key=lambda f: f.grid.confidence).grid
    bg = next((f.background for f in read if f.background is not None), None)

    meta: dict[str, Any] = {
        "size": [int(read[0].rgb.shape[1]), int(read[0].rgb.shape[0])],
        "scale": first["scale"],
        "offset": first["offset"],
        "confidence": round(weakest.confidence, 3),
        "palette_source": source,
        "palette_size": len(palette_hex),
        "colours_used": int(used.sum()),
        "colours": [c for c, u in zip(palette_hex, used, strict=True) if u],
        "background": params.background,
        "background_colour": rgb_to_hex(oklab_to_srgb(bg))[0] if bg is not None else None,
        "background_pixels": sum(f.removed_background for f in read),
        "orphans_removed": sum(f.removed_orphans for f in read),
        "outline_colour": palette_hex[outline_index] if outline_index is not None else None,
        "outline_pixels": outline_pixels,
        "dither": params.dither,
        "drift_gain": read[0].drift_gain,
        "opaque_pixels": int(sum(int(f.opaque.sum()) for f in read)) + outline_pixels,
    }
    if len(read) > 1:
        meta["frames"] = [f.grid.describe() for f in read]
    return meta
