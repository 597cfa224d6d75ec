"""Sprite sheets: where each animation frame lies in one render of the whole sheet (pure numpy).

A diffusion model asked for a sprite sheet draws the frames side by side, but not on a ruler: the cells are
not exactly equal, the gutters between them vary, and there is background around it all. So the frames are
found from the content, on the canvas grid once the background is removed (``core.py``):

* **Cuts.** Along each axis the content is split into ``columns`` (``rows``) parts at its gaps: runs of
  grid lines with no opaque cell. Where the sheet has more gaps than cuts (a frame with a gap inside it),
  the gaps nearest the even cuts of the content win, wider first; where two frames touch, the emptiest line
  near the even cut is the cut.
* **Windows.** Each frame gets a window of the sprite's size holding its content. Frames drawn at a regular
  pitch keep their relative motion (a bob, a step): the windows are ``start + k x pitch`` for the pitch that
  aligns the frames' contents tightest, and the union of the aligned contents is centred like a single
  render's sprite is (``window.py``). When no regular pitch fits every frame's content (uneven cells), each
  sheet column (row) is centred on its own content: ``alignment: centred`` in the metadata.
* A canvas that holds exactly ``columns x width`` by ``rows x height`` cells is sliced exactly.

A frame whose content is larger than the sprite is refused naming the frame and both sizes (or scaled with
``fit: resample``). An empty frame, cuts that split figures, or fewer separate figures than frames means the
render holds fewer frames than the spec asks for: refused, saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.core.pixelate.window import Window, content_box
from pipeline.errors import PixelateError

__all__ = ["SheetLayout", "SheetWindows", "sheet_windows", "split_axis"]

_PITCH_TRIES = 2  # cells either side of the estimated pitch


@dataclass(frozen=True)
class SheetLayout:
    """``frames`` frames of ``width`` x ``height``, row-major in ``columns`` columns (at most ``frames``, so every
    column and every row holds a frame)."""

    frames: int
    columns: int
    width: int
    height: int

    @property
    def rows(self) -> int:
        return -(-self.frames // self.columns)

    def place(self, index: int) -> tuple[int, int]:
        """(column, row) of frame ``index``."""
        return index % self.columns, index // self.columns


@dataclass(frozen=True)
class SheetWindows:
    windows: list[Window]
    alignment: str  # exact | pitch | centred | resampled
    pitch: tuple[float | None, float | None]  # cells between frames along x and y (None: one column/row, or uneven)
    gaps: tuple[int, int]  # empty runs found inside the content along x and y
    #: each frame's part of the canvas (x0, y0, x1, y1 in cells): a window reaching beyond it shows nothing there,
    #: never a neighbour's pixels (frames may touch)
    regions: list[tuple[int, int, int, int]]

    def own(self, index: int) -> np.ndarray:
        """(height, width) mask of frame ``index``'s window cells that lie in its region."""
        win, (x0, y0, x1, y1) = self.windows[index], self.regions[index]
        if win.placement == "resampled":
            return np.ones((1, 1), dtype=bool)  # its window is its content: nothing to mask
        ys = np.arange(win.y, win.y + win.height)
        xs = np.arange(win.x, win.x + win.width)
        return ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None, :]

    def describe(self) -> dict[str, object]:
        return {
            "alignment": self.alignment,
            "pitch": list(self.pitch),
            "gaps": list(self.gaps),
            "frame_cells": [[w.x, w.y, w.width, w.height] for w in self.windows],
        }


def _runs(empty: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every run of True in a 1-d boolean array."""
    padded = np.concatenate([[False], empty, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def split_axis(occupancy: np.ndarray, parts: int) -> tuple[list[tuple[int, int]], int]:
    """Split the occupied span of a 1-d occupancy profile into ``parts`` (start, end) runs; also returns
    how many gaps the span holds. The span is ``[first occupied, last occupied + 1)``."""
    filled = np.flatnonzero(occupancy > 0)
    if len(filled) == 0:
        raise PixelateError("the render holds no sprite: every cell is background")
    lo, hi = int(filled[0]), int(filled[-1]) + 1
    gaps = [g for g in _runs(occupancy[lo:hi] == 0)]
    gaps = [(a + lo, b + lo) for a, b in gaps]
    if parts == 1:
        return [(lo, hi)], len(gaps)
    step = (hi - lo) / parts
    reach = step / 2
    cuts: list[int] = []
    free = list(gaps)
    for k in range(1, parts):
        even = lo + k * step
        near = [g for g in free if abs((g[0] + g[1]) / 2 - even) <= reach]
        if near:  # the nearest gap, a wider one breaking near-ties (a gap inside a frame is narrow)
            best = min(near, key=lambda g: (abs((g[0] + g[1]) / 2 - even) - (g[1] - g[0]) / 2, g[0]))
            free.remove(best)
            cut = (best[0] + best[1]) // 2
        else:  # touching frames: the emptiest line near the even cut
            a, b = max(lo + 1, round(even - reach / 2)), min(hi - 1, round(even + reach / 2))
            window = occupancy[a : b + 1]
            if len(window):  # the emptiest line; of several, the one nearest the even cut
                lows = a + np.flatnonzero(window == window.min())
                cut = int(lows[np.argmin(np.abs(lows + 0.5 - even))])
            else:
                cut = round(even)
        cuts.append(max(cut, cuts[-1] + 1 if cuts else lo + 1))
    bounds = [lo, *cuts, hi]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)], len(gaps)


def _align(extents: list[tuple[int, int]], size: int, baseline: bool) -> tuple[list[int], float | None] | None:
    """Window starts for content ``extents`` (one per sheet column or row) at one regular pitch, or None.

    The pitch that aligns the contents tightest wins; between equally tight ones, along y (``baseline``) the
    one that puts the bottoms on one line (figures stand on the ground), then the one nearest the estimate.
    """
    if len(extents) == 1:
        a, b = extents[0]
        return ([a - (size - (b - a)) // 2], None) if b - a <= size else None
    centres = np.array([(a + b) / 2 for a, b in extents])
    estimate = float(np.polyfit(np.arange(len(extents)), centres, 1)[0])
    best: tuple[tuple[float, ...], int, int] | None = None  # (cost, pitch, start)
    for pitch in range(round(estimate) - _PITCH_TRIES, round(estimate) + _PITCH_TRIES + 1):
        if pitch < size:
            continue
        lows = [a - k * pitch for k, (a, _) in enumerate(extents)]
        highs = [b - k * pitch for k, (_, b) in enumerate(extents)]
        lo, hi = min(lows), max(highs)
        if hi - lo > size:
            continue
        bottoms = max(highs) - min(highs) if baseline else 0
        cost = (float(hi - lo), float(bottoms), abs(pitch - estimate))
        if best is None or cost < best[0]:
            best = (cost, pitch, lo - (size - (hi - lo)) // 2)
    if best is None:
        return None
    return [best[2] + k * best[1] for k in range(len(extents))], float(best[1])


def _too_big(layout: SheetLayout, boxes: list[tuple[int, int, int, int]], describe_grid: str) -> str | None:
    w, h = layout.width, layout.height
    for i, (_, _, bw, bh) in enumerate(boxes):
        if bw > w or bh > h:
            c, r = layout.place(i)
            return (
                f"sheet frame {i + 1} (column {c + 1}, row {r + 1}) is {bw}x{bh} pixels ({describe_grid}), larger "
                f"than the {w}x{h} asked for; set the sprite size (spec field 'size'), let the stage scale it "
                "(pixel.fit: resample), or, when it holds two figures, the render holds more frames than "
                "animation.frames asks for"
            )
    return None


def _region(
    xs: list[tuple[int, int]], ys: list[tuple[int, int]], c: int, r: int, cols: int, rows: int
) -> tuple[int, int, int, int]:
    """Frame (c, r)'s part of the canvas: between the cuts, out to the canvas edge for outer frames."""
    x0 = 0 if c == 0 else xs[c][0]
    x1 = cols if c == len(xs) - 1 else xs[c][1]
    y0 = 0 if r == 0 else ys[r][0]
    y1 = rows if r == len(ys) - 1 else ys[r][1]
    return x0, y0, x1, y1


def _empty(layout: SheetLayout, index: int, describe_grid: str) -> str:
    c, r = layout.place(index)
    return (
        f"sheet frame {index + 1} (column {c + 1}, row {r + 1}) holds no sprite: the render shows fewer than the "
        f"{layout.frames} frames in {layout.columns} column(s) the spec asks for ({describe_grid}); ask for them in "
        "the prompt ('sprite sheet, N frames in a row') or set animation.frames / columns to what it draws"
    )


def _split_figures(
    parts: list[tuple[int, int]], occupancy: np.ndarray, size: int, layout: SheetLayout, describe_grid: str
) -> str | None:
    """Cuts through content are right where figures touch: a run of content cut into k frames must be wider than
    k - 1 frames could be, or the cuts split figures and the render holds fewer frames than asked."""
    cuts = [cut for _, cut in parts[:-1]]
    for a, b in _runs(np.asarray(occupancy > 0)):
        inside = [k for k, cut in enumerate(cuts) if a < cut < b]
        if inside and b - a <= len(inside) * size:
            first = inside[0]
            return (
                f"sheet frames {first + 1} to {inside[-1] + 2} would be cut out of {b - a} pixels of touching "
                f"content, which {len(inside)} frame(s) of {size} could hold ({describe_grid}): the render seems to "
                f"show fewer than the {layout.frames} frames the spec asks for; ask for them in the prompt ('sprite "
                "sheet, N frames in a row') or set animation.frames / columns to what it draws"
            )
    return None


def sheet_windows(
    opaque: np.ndarray, layout: SheetLayout, fit: str, surround: bool, describe_grid: str
) -> SheetWindows:
    """A window per frame over the (rows, cols) cell grid ``opaque`` of a sheet render. Raises PixelateError."""
    rows, cols = opaque.shape
    w, h = layout.width, layout.height
    if (cols, rows) == (layout.columns * w, layout.rows * h):
        windows = []
        for i in range(layout.frames):
            c, r = layout.place(i)
            cell = content_box(opaque[r * h : (r + 1) * h, c * w : (c + 1) * w])
            if cell is None:
                raise PixelateError(_empty(layout, i, describe_grid))
            windows.append(Window(c * w, r * h, w, h, "sheet", (cell[0] + c * w, cell[1] + r * h, cell[2], cell[3])))
        cells = [(w.x, w.y, w.x + w.width, w.y + w.height) for w in windows]
        return SheetWindows(windows, "exact", (float(w), float(h)), (0, 0), cells)
    for axis, parts, size, what in ((0, layout.columns, w, "figure(s) in a row"), (1, layout.rows, h, "row(s)")):
        figures = _runs(np.asarray(opaque.any(axis=axis)))
        if 0 < len(figures) < parts and all(b - a <= size for a, b in figures):  # each would fit one frame alone
            raise PixelateError(
                f"the render shows {len(figures)} {what}, fewer than the {layout.columns} column(s) by "
                f"{layout.rows} row(s) of the {layout.frames} frames the spec asks for ({describe_grid}); ask for "
                "them in the prompt ('sprite sheet, N frames in a row') or set animation.frames / columns to what "
                "it draws"
            )
    xs, gaps_x = split_axis(opaque.sum(axis=0), layout.columns)
    ys, gaps_y = split_axis(opaque.sum(axis=1), layout.rows)
    boxes = []
    regions = []
    for i in range(layout.frames):
        c, r = layout.place(i)
        (x0, x1), (y0, y1) = xs[c], ys[r]
        regions.append(_region(xs, ys, c, r, cols, rows))
        box = content_box(opaque[y0:y1, x0:x1])
        if box is None:
            raise PixelateError(_empty(layout, i, describe_grid))
        boxes.append((box[0] + x0, box[1] + y0, box[2], box[3]))
    gaps = (gaps_x, gaps_y)
    for cut, profile, extent in ((xs, opaque.sum(axis=0), w), (ys, opaque.sum(axis=1), h)):
        split = _split_figures(cut, profile, extent, layout, describe_grid)
        if split is not None:
            raise PixelateError(split)
    problem = _too_big(layout, boxes, describe_grid)
    if problem is not None:
        if fit != "resample":
            raise PixelateError(problem)
        scaled = [Window(*b, "resampled", b, min(w / b[2], h / b[3]) if surround else 0.0) for b in boxes]
        return SheetWindows(scaled, "resampled", (None, None), gaps, regions)

    def extents(axis: int, count: int) -> list[tuple[int, int]]:
        out = []
        for k in range(count):
            mine = [b for i, b in enumerate(boxes) if layout.place(i)[axis] == k]  # never empty: see SheetLayout
            out.append((min(b[axis] for b in mine), max(b[axis] + b[axis + 2] for b in mine)))
        return out

    ex, ey = extents(0, layout.columns), extents(1, layout.rows)
    fx, fy = _align(ex, w, baseline=False), _align(ey, h, baseline=True)
    alignment = {(True, True): "pitch", (False, False): "centred"}.get(
        (fx is not None, fy is not None),
        f"{'pitch' if fx else 'centred'} along x, {'pitch' if fy else 'centred'} along y",
    )

    def start(
        fitted: tuple[list[int], float | None] | None, extent: tuple[int, int], k: int, a: int, n: int, size: int
    ) -> int:
        if fitted is not None:
            return fitted[0][k]
        lo, hi = extent if extent[1] - extent[0] <= size else (a, a + n)  # the column's content, else the frame's
        return lo - (size - (hi - lo)) // 2

    windows = []
    for i, box in enumerate(boxes):
        c, r = layout.place(i)
        sx = start(fx, ex[c], c, box[0], box[2], w)
        sy = start(fy, ey[r], r, box[1], box[3], h)
        windows.append(Window(sx, sy, w, h, "sheet", box))
    pitch = (fx[1] if fx else None, fy[1] if fy else None)
    return SheetWindows(windows, alignment, pitch, gaps, regions)
