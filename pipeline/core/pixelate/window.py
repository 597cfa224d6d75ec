"""The sprite's window in the canvas grid: which cells of the render are the sprite the spec asks for.

The grid covers the whole canvas, margins included. The window is:

* ``canvas``: the whole grid, when it has exactly the sprite's size (render = size x pitch);
* ``centred``: the requested size centred on the content's bounding box (cells that are not background),
  the extra cell of an odd difference to the right and bottom; cells outside the canvas are transparent
  when the render has a background (transparency is what surrounds the sprite anyway); without one, the
  window is moved inside the grid;
* ``resampled`` (``fit="resample"`` only): the content scaled by nearest cell to fit the size (keeping
  its aspect when the surroundings are transparent, stretched otherwise), when the model drew more or
  fewer cells than asked.

Without a size, the window is the content's bounding box (the largest over all frames).
A content larger than the size is refused with both sizes named, never cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import PixelateError

__all__ = ["FIT_MODES", "Window", "apply_window", "content_box", "place_window"]

FIT_MODES = ("exact", "resample")


@dataclass(frozen=True)
class Window:
    """Cells ``x .. x + width`` by ``y .. y + height`` of the canvas grid (may reach beyond it) -> the sprite."""

    x: int
    y: int
    width: int
    height: int
    placement: str  # canvas | centred | resampled
    content: tuple[int, int, int, int]  # bounding box of the content in grid cells: x, y, width, height
    scale: float = 1.0  # resampled: sprite pixels per content cell

    def describe(self) -> dict[str, object]:
        return {
            "cells": [self.x, self.y, self.width, self.height],
            "placement": self.placement,
            "content": list(self.content),
            **({"resample_scale": round(self.scale, 4)} if self.placement == "resampled" else {}),
        }


def content_box(opaque: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) of the opaque cells' bounding box, or None when there are none."""
    rows, cols = np.flatnonzero(opaque.any(axis=1)), np.flatnonzero(opaque.any(axis=0))
    if len(rows) == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def _centre(lo: int, extent: int, size: int, cells: int, clamp: bool) -> int:
    """Start of a run of ``size`` cells centred on ``lo .. lo + extent``; with ``clamp``, inside ``0 .. cells``."""
    start = lo - (size - extent) // 2
    if clamp and size <= cells:
        start = min(max(start, 0), cells - size)
    return start


def place_window(
    opaque: np.ndarray,
    size: tuple[int, int],
    fit: str,
    transparent_surround: bool,
    describe_grid: str,
) -> Window:
    """Choose the window of ``size`` (w, h) cells over the (rows, cols) grid ``opaque``. Raises PixelateError.

    ``describe_grid`` tells the user what the render holds (pitch, cells, canvas) in messages.
    """
    rows, cols = opaque.shape
    w, h = size
    box = content_box(opaque)
    if box is None:
        raise PixelateError(f"the render holds no sprite: every cell is background ({describe_grid})")
    if (cols, rows) == (w, h):
        return Window(0, 0, w, h, "canvas", box)
    bx, by, bw, bh = box
    fits_box = bw <= w and bh <= h
    fits_canvas = transparent_surround or (w <= cols and h <= rows)
    if fits_box and fits_canvas:
        clamp = not transparent_surround  # without a background, the window must stay on the canvas
        return Window(_centre(bx, bw, w, cols, clamp), _centre(by, bh, h, rows, clamp), w, h, "centred", box)
    if fit == "resample":
        scale = min(w / bw, h / bh) if transparent_surround else 0.0
        return Window(bx, by, bw, bh, "resampled", box, scale)
    if not fits_box:
        raise PixelateError(
            f"the sprite in the render is {bw}x{bh} pixels ({describe_grid}), larger than the {w}x{h} asked for; "
            f"set the sprite size to {bw}x{bh} (spec field 'size', or --size), or let the stage scale it to "
            f"{w}x{h} (pixel.fit: resample, or --fit resample)"
        )
    raise PixelateError(
        f"the render holds {cols}x{rows} pixels ({describe_grid}) with no background around the sprite, "
        f"fewer than the {w}x{h} asked for; set the sprite size to {cols}x{rows}, or let the stage scale it "
        f"(pixel.fit: resample, or --fit resample)"
    )


def _take(a: np.ndarray, ys: np.ndarray, xs: np.ndarray, fill: float | bool) -> np.ndarray:
    """``a[ys][:, xs]`` with indices outside the grid reading ``fill``."""
    rows, cols = a.shape[:2]
    inside = ((ys >= 0) & (ys < rows))[:, None] & ((xs >= 0) & (xs < cols))[None, :]
    out = a[np.clip(ys, 0, rows - 1)][:, np.clip(xs, 0, cols - 1)]
    mask = inside.reshape(inside.shape + (1,) * (a.ndim - 2))
    return np.where(mask, out, np.asarray(fill, dtype=a.dtype))


def apply_window(
    window: Window, size: tuple[int, int], rgb: np.ndarray, lab: np.ndarray, opaque: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rgb, lab, opaque) of the sprite: the window's cells (transparent outside the grid), or the resampled content."""
    w, h = size
    if window.placement != "resampled":
        ys = np.arange(window.y, window.y + h)
        xs = np.arange(window.x, window.x + w)
        return _take(rgb, ys, xs, 0), _take(lab, ys, xs, 0.0), _take(opaque, ys, xs, False)
    bx, by, bw, bh = window.content
    if window.scale > 0:  # keep the aspect, centre in transparent surroundings
        tw, th = max(1, min(w, round(bw * window.scale))), max(1, min(h, round(bh * window.scale)))
    else:
        tw, th = w, h
    sx = bx + np.floor((np.arange(tw) + 0.5) * bw / tw).astype(np.intp)
    sy = by + np.floor((np.arange(th) + 0.5) * bh / th).astype(np.intp)
    ox, oy = (w - tw) // 2, (h - th) // 2
    xs = np.full(w, -1, np.intp)
    ys = np.full(h, -1, np.intp)
    xs[ox : ox + tw], ys[oy : oy + th] = sx, sy
    return _take(rgb, ys, xs, 0), _take(lab, ys, xs, 0.0), _take(opaque, ys, xs, False)
