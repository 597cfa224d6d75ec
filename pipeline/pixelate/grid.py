"""Fake-pixel grid detection: how many render pixels make one art pixel, and where the grid starts.

A diffusion render of pixel art is a grid of flat-ish cells with soft, noisy edges. Summing the
colour change between neighbouring columns over many rows gives an *edge profile* that peaks on
the grid lines; folding that profile modulo a candidate period stacks the peaks into one bump
whose centre is the grid's phase (to a fraction of a pixel). What makes it robust:

* Only colour changes above the noise count (a soft threshold at a multiple of the median change).
* A period is scored by the share of all edge energy on one line per period. The true period
  and its halves score near the top, multiples of it a half or less, unrelated periods little:
  the largest period near the top score wins. With the sprite size given, the period is fixed
  (render size / sprite size) and only the phase is searched.
* The confidence counts *strong* edges (3 px span, well above noise and above 40 % of the
  render's strongest edges) on the grid lines against inside the cells, with a small pseudo
  count. JPEG's 8 px block steps and noise never reach that bar, so a JPEG-compressed flat or
  smooth render (the classic false period) gets no trusted grid, and neither does a size whose
  cells hide a finer grid. The caller refuses a render below its minimum confidence.
* The edges' blur is measured on the strongest steps across grid lines (25-75 % rise), so the
  per-cell colour can undo what blur leaks between neighbouring cells.
* When the phase is within a pixel of half a cell, the two possible runs of cells cover the
  render equally; the one that drops the flatter partial strip (padding) is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["AxisGrid", "Grid", "Profile", "detect_axis", "detect_grid", "edge_profiles"]

_MIN_PERIOD = 2.0
_LINE_PAIRS = 128
_NOISE_FACTOR = 2.0  # edges count above this multiple of the median neighbour difference
_STRONG_FACTOR = 4.0  # strong edges: above this multiple of it...
_STRONG_FLOOR = 72  # ...plus ~12 levels per channel (units: 2 lines x 3 channels)
_STRONG_SHARE = 0.4  # ...and above this share of the strongest edges (99th percentile)
_PSEUDO_EVENTS = 20.0
_NEAR_TOP = 0.7  # periods scoring this share of the best are candidates (the largest wins)
_TIE_PX = 0.75  # phases this close to half a cell are a tie between two runs of cells
_BLUR_LINES = 32  # line pairs used to measure the blur
_MIN_BLUR_EDGES = 20  # a grid line needs more strong edges than this to count for much


@dataclass(frozen=True)
class AxisGrid:
    """The grid along one axis: cells of ``period`` render pixels starting at ``start`` (may be < 0)."""

    period: float
    start: float
    count: int
    confidence: float
    blur: float = 0.0  # estimated Gaussian blur of the edges (render px), from the width of the profile's bump

    @property
    def offset(self) -> float:
        """Phase of the grid: where the first whole cell begins, in [0, period) (0.01 px resolution)."""
        phase = self.start % self.period
        return 0.0 if self.period - phase < 0.05 else round(phase, 2)

    def edges(self) -> np.ndarray:
        """Cell boundaries in render coordinates (``count + 1`` values, the outer ones may lie outside)."""
        return self.start + self.period * np.arange(self.count + 1)


@dataclass(frozen=True)
class Grid:
    """The fake-pixel grid of one render: an :class:`AxisGrid` per axis."""

    x: AxisGrid
    y: AxisGrid

    @property
    def confidence(self) -> float:
        return min(self.x.confidence, self.y.confidence)

    def describe(self) -> dict[str, object]:
        """JSON-able summary for metadata and the CLI."""
        return {
            "scale": [round(self.x.period, 3), round(self.y.period, 3)],
            "offset": [round(self.x.offset, 2), round(self.y.offset, 2)],
            "cells": [self.x.count, self.y.count],
            "confidence": round(self.confidence, 3),
        }


@dataclass(frozen=True)
class Profile:
    """Edge evidence along one axis. Index ``i`` is the boundary between pixel ``i - 1`` and ``i``.

    ``energy``: colour change above the noise (soft threshold), for locating the grid.
    ``strong``: how many sampled lines cross a strong edge there (3 px span, high threshold), for
    judging it: JPEG block steps and noise rarely reach it, blurred art edges do.
    """

    energy: np.ndarray
    strong: np.ndarray  # 3 px span, for periods of 6 px and more
    strong_narrow: np.ndarray  # 1 px span, for smaller periods
    lines: np.ndarray  # (pairs, length, 3) int16: the sampled line pairs, summed, for measuring blur


def edge_profiles(rgb: np.ndarray) -> tuple[Profile, Profile]:
    """Edge profiles across columns (x) and across rows (y) of an (H, W, >=3) uint8 image.

    A profile is a sum over many lines, so ~128 evenly spaced pairs of neighbouring lines are
    enough (each pair summed: twice the signal, sqrt(2) times the noise); that keeps a 1024 px
    render to about a millisecond per axis.
    """
    img = rgb[..., :3]
    return _profile(img, across_rows=True), _profile(img, across_rows=False)


def _profile(img: np.ndarray, across_rows: bool) -> Profile:
    lines_total = img.shape[0] if across_rows else img.shape[1]
    pairs = max(1, min(_LINE_PAIRS, lines_total // 2))
    starts = np.linspace(0, max(lines_total - 2, 0), pairs).astype(np.intp)
    idx = np.minimum(np.stack([starts, starts + 1], axis=1).ravel(), lines_total - 1)
    lines = img[idx] if across_rows else img[:, idx].transpose(1, 0, 2)
    length = lines.shape[1]
    summed = lines.reshape(pairs, 2, length, 3).sum(axis=1, dtype=np.int16)
    diff = _channel_sum(np.abs(np.diff(summed, axis=1)))
    noise = float(np.median(diff[::4])) if diff.size else 0.0
    energy = np.zeros(length)
    energy[1:] = np.maximum(diff - (_NOISE_FACTOR * noise + 6), 0).sum(axis=0, dtype=np.float64)
    narrow = np.zeros(length)
    narrow[1:] = (diff > _STRONG_FACTOR * noise + _STRONG_FLOOR).sum(axis=0)
    strong = np.zeros(length)
    if length > 3:
        # |S[b+1] - S[b-2]|: symmetric about boundary b like the 1 px difference, ~2.5x a blurred step.
        wide = _channel_sum(np.abs(summed[:, 3:] - summed[:, :-3]))
        # JPEG rings around strong edges in proportion to their contrast: scale with the top edges too.
        top = float(np.percentile(wide[::2, ::2], 99)) if wide.size else 0.0
        strong[2:-1] = (wide > max(_STRONG_FACTOR * noise + _STRONG_FLOOR, _STRONG_SHARE * top)).sum(axis=0)
    return Profile(energy, strong, narrow, summed)


def _channel_sum(d: np.ndarray) -> np.ndarray:
    return d[..., 0] + d[..., 1] + d[..., 2]


def _fold(profile: np.ndarray, period: float) -> np.ndarray:
    """Mean edge energy per phase bin (one bin per render pixel of the period)."""
    bins = max(2, round(period))
    x = np.arange(1, len(profile))  # position 0 is the image border, not a boundary
    idx = np.minimum(((x / period) % 1.0 * bins).astype(np.int64), bins - 1)
    total = np.bincount(idx, weights=profile[1:], minlength=bins)
    count = np.bincount(idx, minlength=bins)
    return total / np.maximum(count, 1)


def _peak(fold: np.ndarray) -> tuple[int, float, float]:
    """(bin of the grid line, energy on the line, median energy inside cells) of a fold."""
    b = len(fold)
    smooth = (np.roll(fold, 1) + 2 * fold + np.roll(fold, -1)) / 4 if b >= 4 else fold
    j = int(np.argmax(smooth))
    interior = fold[_distance(b, j) >= max(1, b // 4)]
    return j, float(smooth[j]), float(np.median(interior)) if interior.size else 0.0


def _distance(bins: int, j: int) -> np.ndarray:
    return np.abs((np.arange(bins) - j + bins // 2) % bins - bins // 2)


def _strength(profile: Profile, period: float) -> tuple[float, float]:
    """(strength, phase) of ``period``: edge energy on its lines in units of the mean edge energy.

    The phase is the centroid of the fold's bump above the cell-interior level (sub-pixel: blur
    spreads a line over several bins, and the argmax alone wobbles by a pixel).
    """
    energy = profile.energy
    fold = _fold(energy, period)
    j, line, inside = _peak(fold)
    mean = float(energy[1:].mean()) if len(energy) > 1 else 0.0
    b = len(fold)
    radius = max(1, b // 4)
    offsets = np.arange(-radius, radius + 1)
    weights = np.clip(fold[(j + offsets) % b] - inside, 0, None)
    total = float(weights.sum())
    shift = float((offsets * weights).sum()) / total if total > 0 else 0.0
    return (line - inside) / mean if mean > 0 else 0.0, ((j + shift) % b) * period / b


def _blur(profile: Profile, period: float, start: float) -> float:
    """Gaussian width (render px) of the edges, measured on the strongest steps across grid lines.

    A window of half a cell either side of a grid line holds exactly one step between two flat
    colours; projected onto its colour change, a step goes from 0 to 1, and the mean over strong
    steps rises from 25 % to 75 % over 1.349 blur widths. Overlapping neighbours, the noise floor and
    JPEG overshoot, which fool a fit of the folded profile, barely move those two crossings.
    """
    lines = profile.lines[:: max(1, len(profile.lines) // _BLUR_LINES)]
    length = lines.shape[1]
    half = int(period // 2)
    if half < 2:
        return 0.0
    centres = np.round(start + period * np.arange(1, int(length / period) + 2)).astype(np.intp)
    centres = centres[(centres - half >= 0) & (centres + half <= length)]
    if len(centres) == 0:
        return 0.0
    idx = centres[:, None] + np.arange(-half, half)[None, :]  # (lines, 2*half): pixel bi-half .. bi+half-1
    win = lines[:, idx].astype(np.float32)  # (pairs, lines, 2*half, 3)
    left, right = win[:, :, 0], win[:, :, -1]
    step = right - left
    size = (step * step).sum(axis=-1)
    strong = size > max(np.percentile(size, 90) * 0.5, (_STRONG_FLOOR / 3.0) ** 2 * 3)
    if strong.sum() < _MIN_BLUR_EDGES:
        return 0.0
    w, lft, stp = win[strong], left[strong], step[strong]
    p = ((w - lft[:, None, :]) * stp[:, None, :]).sum(axis=-1) / size[strong][:, None]
    mean = np.clip(p.mean(axis=0), 0.0, 1.0)
    mean = np.maximum.accumulate(mean)  # monotone: JPEG ringing must not create extra crossings
    x = np.arange(-half, half) + 0.5  # pixel centres relative to the boundary
    x25, x75 = np.interp(0.25, mean, x), np.interp(0.75, mean, x)
    return float(max(x75 - x25, 0.0) / 1.349)


def _confidence(profile: Profile, period: float, phase: float) -> float:
    """How surely strong edges fall on the lines at ``phase`` rather than inside cells, 0..1.

    Counts of strong edges per phase bin: the line's (peak within a pixel of ``phase``) against the
    cells' inner part (a high percentile, so a finer grid hidden inside the cells is caught). A pseudo
    count keeps a handful of stray edges (noise, a JPEG step) from looking like a perfect grid.
    """
    wide = period >= 6
    fold = _fold(profile.strong if wide else profile.strong_narrow, period)
    b = len(fold)
    j = round(phase / period * b) % b
    dist = _distance(b, j)
    line = float(fold[dist <= 1].max())
    # Edge events spread a pixel (3 px span) plus the blur around a line; the rest is the cell inside.
    inside = fold[dist >= (max(3, b // 4) if wide else max(1, min(2, b // 2)))]
    # Few inner bins (small cells): their median; many: the 75th percentile, to catch a hidden sub-grid.
    interior = float(np.median(inside) if inside.size < 6 else np.percentile(inside, 75)) if inside.size else 0.0
    pseudo = _PSEUDO_EVENTS * period / max(len(profile.strong), 1)  # per position of the fold
    return max(0.0, 1.0 - (interior + pseudo) / (line + pseudo))


def _place(length: int, period: float, phase: float, count: int | None, confidence: float) -> AxisGrid:
    """Choose the run of cells that overlaps the image most (a partial first cell when phase > period/2)."""
    start = phase - period if phase > period / 2 else phase
    if count is None:
        count = max(1, int((length - start) / period + 0.5))
    return AxisGrid(period=period, start=start, count=count, confidence=confidence)


def detect_axis(profile: Profile, length: int, count: int | None = None) -> AxisGrid:
    """Grid along one axis from its edge profile; ``count`` (cells wanted) fixes the period to length/count."""
    period = length / count if count is not None else best_period([profile], length)
    if count is not None and period < _MIN_PERIOD:
        return AxisGrid(period=period, start=0.0, count=count, confidence=1.0 if length == count else 0.0)
    _, phase = _strength(profile, period)
    axis = _place(length, period, phase, count, _confidence(profile, period, phase))
    return replace(axis, blur=_blur(profile, period, axis.start))


def best_period(profiles: list[Profile], length: int) -> float:
    """The fake pixel size that best explains the edges of all ``profiles``.

    A period is scored by the share of all edge energy that lies on one line per period. The true
    period and its halves, thirds... (which fold its lines onto theirs) all score near the top;
    multiples of it score a half, a third...; other periods little. So: the largest period near the
    top score, then refined to a fraction of a pixel (renders are not always integer upscales).
    """

    def share(period: float) -> float:
        return sum(_strength(p, period)[0] for p in profiles) / (period * len(profiles))

    top = max(_MIN_PERIOD + 1, min(64.0, length / 4))
    candidates = np.arange(_MIN_PERIOD, top + 1)
    scores = np.array([share(float(c)) for c in candidates])
    if scores.max() <= 0:
        return float(candidates[0])
    coarse = float(candidates[np.flatnonzero(scores >= _NEAR_TOP * scores.max())[-1]])
    fine = np.arange(coarse - 0.5, coarse + 0.5001, 0.02)
    fine = fine[fine >= _MIN_PERIOD]
    fine_scores = np.array([share(float(c)) for c in fine])
    # Prefer the whole number when it is as good: renders are usually integer upscales.
    if share(coarse) >= 0.97 * fine_scores.max():
        return coarse
    return float(fine[int(np.argmax(fine_scores))])


def _break_tie(rgb: np.ndarray, axis: AxisGrid, along_x: bool) -> AxisGrid:
    """Near a half-cell phase both runs of cells cover the render alike: drop the flatter partial strip.

    Starting at the phase drops the strip before it; starting a cell earlier drops the strip after
    the last cell. The strip with less colour variation (padding, background) is the one to lose.
    """
    period, phase = axis.period, axis.offset
    if abs(phase - period / 2) > _TIE_PX or period < 4:
        return axis
    length = rgb.shape[1] if along_x else rgb.shape[0]
    head = (0, int(np.floor(phase)))
    tail = (int(np.ceil(phase - period + axis.count * period)), length)
    if head[1] - head[0] < 1 or tail[1] - tail[0] < 1:
        return axis

    def variation(lo: int, hi: int) -> float:
        strip = rgb[::4, lo:hi, :3] if along_x else rgb[lo:hi, ::4, :3]
        flat = strip.reshape(-1, 3).astype(np.float32)
        return float(np.abs(flat - np.median(flat, axis=0)).mean())

    keep_head = variation(*head) > variation(*tail)
    start = phase - period if keep_head else phase
    return replace(axis, start=start)


def detect_grid(rgb: np.ndarray, cells: tuple[int, int] | None = None) -> Grid:
    """Detect the fake-pixel grid of an (H, W, >=3) uint8 render.

    ``cells`` = (columns, rows) of the sprite when known: the period is then the render size divided by
    it and only the phase is searched. Without it, one square period is searched on both axes.
    """
    h, w = rgb.shape[:2]
    if cells is not None and (w, h) == tuple(cells):
        return Grid(AxisGrid(1.0, 0.0, w, 1.0), AxisGrid(1.0, 0.0, h, 1.0))
    px, py = edge_profiles(rgb)
    if cells is not None:
        gx, gy = detect_axis(px, w, cells[0]), detect_axis(py, h, cells[1])
    else:
        period = best_period([px, py], min(w, h))
        axes = []
        for profile, length in ((px, w), (py, h)):
            _, phase = _strength(profile, period)
            axis = _place(length, period, phase, None, _confidence(profile, period, phase))
            axes.append(replace(axis, blur=_blur(profile, period, axis.start)))
        gx, gy = axes
    return Grid(_break_tie(rgb, gx, along_x=True), _break_tie(rgb, gy, along_x=False))
