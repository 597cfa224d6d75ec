"""The pixel stage: renders -> grid -> one colour per cell -> transparency -> palette -> RGBA sprites.

Each frame is read once (as a numpy view of the decoded PNG, no conversion for RGB or RGBA),
its grid detected, and every later step works on the sprite's logical grid, which is tiny.
Animation frames share one palette: an adaptive palette is chosen from the cells of all frames.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from pipeline.core.pixelate import alpha as alpha_ops
from pipeline.core.pixelate.background import Background, fit_background, remove_background
from pipeline.core.pixelate.cells import cell_colours
from pipeline.core.pixelate.color import hex_to_rgb, oklab_to_srgb, rgb_to_hex, srgb_to_oklab
from pipeline.core.pixelate.consistency import frame_consistency
from pipeline.core.pixelate.dither import map_to_palette
from pipeline.core.pixelate.drift import correct_drift
from pipeline.core.pixelate.grid import Grid, detect_grid
from pipeline.core.pixelate.palettes import NAMED_PALETTES, normalize_hex
from pipeline.core.pixelate.params import PixelParams, PixelResult
from pipeline.core.pixelate.quantize import adaptive_palette
from pipeline.core.pixelate.sheet import SheetLayout, sheet_windows
from pipeline.core.pixelate.window import Window, apply_window, content_box, place_window
from pipeline.errors import PixelateError

__all__ = ["pixelate_frames", "pixelate_sheet", "render_array"]

_FLAT = 2.0  # a render whose colours vary less than this (std, levels) is blank
_MULTIPLE = 0.04  # a size-implied pitch within this of k x the detected one is "a multiple"


@dataclass
class _Frame:
    grid: Grid  # over the whole canvas
    rgb: np.ndarray  # (h, w, 3) uint8 cell colours (the whole grid, then the sprite's window)
    lab: np.ndarray  # (h, w, 3) float32
    opaque: np.ndarray  # (h, w) bool
    canvas: tuple[int, int]  # render size (px)
    surround: bool  # transparency surrounds the sprite (a background was removed, or the render has alpha)
    background: Background | None
    key: np.ndarray | None  # OKLab key colour removed everywhere
    removed_background: int
    holes: int
    removed_orphans: int
    window: Window | None = None
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
    grid = detect_grid(arr, cells, params.min_confidence)
    if grid.confidence >= params.min_confidence:
        return grid
    frame = f"frame {index}: " if index else ""
    found = f"no trustworthy pixel grid found (confidence {grid.confidence:.2f} < {params.min_confidence})"
    if float(arr[::4, ::4, :3].std(axis=(0, 1)).max()) < _FLAT:
        raise PixelateError(f"{frame}{found}: the render is one flat colour; a blank or failed generation?")
    if cells is None:
        raise PixelateError(f"{frame}{found}; pass the sprite size (--size WxH) or check the render")
    raise PixelateError(
        f"{frame}{found} on the {w}x{h} render, neither at its own pitch ({grid.x.period:.3g} px) nor at the "
        f"{w / cells[0]:.3g}x{h / cells[1]:.3g} render px per pixel the {cells[0]}x{cells[1]} sprite size implies; "
        "check the sprite size and the render"
    )


def _read_frame(arr: np.ndarray, grid: Grid, params: PixelParams) -> _Frame:
    """Cells of the whole canvas grid, with background, holes and orphans made transparent."""
    cells = cell_colours(arr, grid)
    rgb = np.ascontiguousarray(cells[..., :3])
    lab = srgb_to_oklab(rgb)
    has_alpha = cells.shape[2] == 4
    opaque = cells[..., 3] >= params.alpha_threshold if has_alpha else np.ones(rgb.shape[:2], dtype=bool)
    background, key = None, None
    removed = holes = np.zeros_like(opaque)
    tol = params.background_tolerance
    if params.background == "auto":
        background = fit_background(lab, opaque, tol)
        if background is not None:
            removed, holes = remove_background(lab, opaque, background, tol)
    elif params.background != "none":
        key = srgb_to_oklab(hex_to_rgb([normalize_hex(params.background)]))[0]
        removed = alpha_ops.key_mask(lab, key, tol) & opaque
    opaque = opaque & ~removed & ~holes
    orphans = alpha_ops.remove_orphans(opaque) if params.cleanup else np.zeros_like(opaque)
    opaque = opaque & ~orphans
    surround = has_alpha or background is not None or (key is not None and bool(removed.any()))
    return _Frame(
        grid,
        rgb,
        lab,
        opaque,
        (arr.shape[1], arr.shape[0]),
        surround,
        background,
        key,
        int(removed.sum()),
        int(holes.sum()),
        int(orphans.sum()),
    )


def _what_it_holds(f: _Frame, size: tuple[int, int] | None) -> str:
    """The grid in words, for messages: pitch, cells, canvas, and a size that implies a multiple of the pitch."""
    g, (w, h) = f.grid, f.canvas
    text = f"{g.x.period:.4g} render px per pixel, {g.x.count}x{g.y.count} cells on the {w}x{h} render"
    if size is not None:
        implied = w / size[0]
        k = round(implied / g.x.period)
        if k >= 2 and abs(implied / (k * g.x.period) - 1) < _MULTIPLE:
            text += f"; the size implies {implied:.4g} px per pixel, {k} times the pitch the render shows"
    return text


def _windows(read: list[_Frame], cells: tuple[int, int] | None, params: PixelParams) -> tuple[int, int]:
    """Place every frame's window (one size for all) and cut its cells to it; returns the sprite size."""
    if cells is None:
        boxes = [content_box(f.opaque) for f in read]
        if any(b is None for b in boxes):
            i = boxes.index(None)
            raise PixelateError(f"frame {i}: the render holds no sprite: every cell is background")
        cells = (max(b[2] for b in boxes if b), max(b[3] for b in boxes if b))
    for i, f in enumerate(read):
        try:
            f.window = place_window(f.opaque, cells, params.fit, f.surround, _what_it_holds(f, cells))
        except PixelateError as exc:
            raise PixelateError(f"frame {i}: {exc}" if i else str(exc)) from None
        f.rgb, f.lab, f.opaque = apply_window(f.window, cells, f.rgb, f.lab, f.opaque)
    return cells


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
        read.append(_read_frame(arr, _grid_for(arr, cells, params, i), params))
    _windows(read, cells, params)
    return _finish(read, params)


def pixelate_sheet(render: Image.Image, params: PixelParams, frames: int, columns: int) -> PixelResult:
    """Slice one render of a whole sprite sheet (``frames`` frames, row-major in ``columns`` columns) into
    RGBA sprites sharing one palette (``sheet.py`` finds the frames). Needs the sprite size in ``params``."""
    params.check()
    if params.width is None or params.height is None:
        raise PixelateError("slicing a sprite sheet needs the size of one frame")
    layout = SheetLayout(frames, min(columns, frames), params.width, params.height)
    arr = render_array(render)
    whole = _read_frame(
        arr, _grid_for(arr, (layout.columns * layout.width, layout.rows * layout.height), params, 0), params
    )
    found = sheet_windows(whole.opaque, layout, params.fit, whole.surround, _what_it_holds(whole, None))
    size = (layout.width, layout.height)
    read = []
    for i, window in enumerate(found.windows):
        rgb, lab, opaque = apply_window(window, size, whole.rgb, whole.lab, whole.opaque)
        opaque = opaque & found.own(i)  # never a neighbouring frame's pixels
        frame = dataclasses.replace(whole, rgb=rgb, lab=lab, opaque=opaque, window=window)
        if i:  # the render's background, holes and orphans are counted once, with the first frame
            frame.removed_background = frame.holes = frame.removed_orphans = 0
        read.append(frame)
    result = _finish(read, params)
    result.metadata["sheet"] = found.describe()
    return result


def _finish(read: list[_Frame], params: PixelParams) -> PixelResult:
    """Palette, drift, mapping and outline for frames whose windows are cut; the result with its metadata."""
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
    if len(out) > 1:
        metadata["consistency"] = frame_consistency([np.asarray(im) for im in out])
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
    first = read[0]
    grid = first.grid.describe()
    weakest = min(read, key=lambda f: f.grid.confidence).grid
    bg = next((f.background for f in read if f.background is not None), None)
    key = next((f.key for f in read if f.key is not None), None)
    colour = (
        bg.describe()["colour"] if bg is not None else (rgb_to_hex(oklab_to_srgb(key))[0] if key is not None else None)
    )

    window = _frame_window(first)
    meta: dict[str, Any] = {
        "size": [int(first.rgb.shape[1]), int(first.rgb.shape[0])],
        "scale": grid["scale"],
        "offset": grid["offset"],
        "drift": window["drift"],
        "grid_cells": grid["cells"],
        "grid_source": grid["grid_source"],
        "confidence": round(weakest.confidence, 3),
        "render_size": list(first.canvas),
        "window": window,
        "palette_source": source,
        "palette_size": len(palette_hex),
        "colours_used": int(used.sum()),
        "colours": [c for c, u in zip(palette_hex, used, strict=True) if u],
        "background": params.background,
        "background_colour": colour,
        "background_model": bg.describe() if bg is not None else None,
        "background_pixels": sum(f.removed_background for f in read),
        "holes": sum(f.holes for f in read),
        "orphans_removed": sum(f.removed_orphans for f in read),
        "outline_colour": palette_hex[outline_index] if outline_index is not None else None,
        "outline_pixels": outline_pixels,
        "dither": params.dither,
        "drift_gain": first.drift_gain,
        "opaque_pixels": int(sum(int(f.opaque.sum()) for f in read)) + outline_pixels,
    }
    if len(read) > 1:
        meta["frames"] = [{**f.grid.describe(), "window": _frame_window(f)} for f in read]
    return meta


def _frame_window(f: _Frame) -> dict[str, object]:
    """The window in cells and in render pixels (the box of the canvas the sprite came from)."""
    assert f.window is not None
    win = f.window.describe()
    x0, y0, w, h = f.window.x, f.window.y, f.window.width, f.window.height
    gx, gy = f.grid.x.window(x0, w), f.grid.y.window(y0, h)
    win["px"] = [round(float(v), 1) for v in (gx.start, gy.start, gx.edges()[-1], gy.edges()[-1])]
    win["drift"] = [round(gx.drift, 4), round(gy.drift, 4)]  # pitch change across the sprite, relative
    return win
