"""Fake-pixel grid detection: how many render pixels make one art pixel, and where every grid line lies.

A diffusion render of pixel art is a grid of flat-ish cells with soft, noisy edges. Summing the colour
change between neighbouring columns over many rows gives an *edge profile* that peaks on the grid lines.

* **Free detection first** (``pitch.py``): the pitch from the profile's spectrum, never a multiple of the
  true one, then per-line positions from a local phase fit, so a non-integer pitch, a sub-pixel phase and
  a pitch drifting a few per cent across the image are all followed. The grid covers the whole canvas
  (margins included); finding the sprite in it is the window's job (``window.py``).
* **The sprite size is a prior, not a constraint.** When the canvas holds the size's cells at the detected
  pitch (render = size x pitch, up to partial edge cells) the run of exactly that many cells is kept; when
  the free grid is not trusted, the period the size implies (canvas / size) is tried, phase only.
* Only colour changes above the noise count (a soft threshold at a multiple of the median change).
* The confidence counts *strong* edges (3 px span, well above noise and above 40 % of the render's
  strongest edges) on the grid lines against inside the cells, with a small pseudo count. JPEG's 8 px
  block steps and noise never reach that bar, so a JPEG-compressed flat or smooth render (the classic
  false period) gets no trusted grid, and neither does a pitch whose cells hide a finer grid.
* The edges' blur is measured on the strongest steps across grid lines (25-75 % rise), so the per-cell
  colour can undo what blur leaks between neighbouring cells.
* When a run of cells of the size's length sits within a pixel of half a cell, the two possible runs
  cover the render equally; the one that drops the flatter partial strip (padding) is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pipeline.core.pixelate.pitch import LineFit, best_pitch, fit_lines

__all__ = ["AxisGrid", "Grid", "Profile", "detect_grid", "edge_profiles"]

_MIN_PERIOD = 2.0
_LINE_PAIRS = 128
_NOISE_FACTOR = 2.0  # edges count above this multiple of the median neighbour difference
_STRONG_FACTOR = 4.0  # strong edges: above this multiple of it...
_STRONG_FLOOR = 72  # ...plus ~12 levels per channel (units: 2 lines x 3 channels)
_STRONG_SHARE = 0.4  # ...and above this share of the strongest edges (99th percentile)
_PSEUDO_EVENTS = 20.0
_TIE_PX = 0.75  # runs of cells this close to half a cell off are a tie
_BLUR_LINES = 32  # line pairs used to measure the blur
_MIN_BLUR_EDGES = 20  # a grid line needs more strong edges than this to count for much
_SNAP_PX = 0.75  # lines within this of a whole-number pitch are taken as that pitch
_TILES_WITHIN = 1.0  # cells: a canvas holding the size's cells up to this many is "render = size x pitch"
_MID_SHARE = 0.12  # edges on cell midpoints at this share of those on lines: the pitch is half
_MIN_HALF = 3.0  # never halve below this pitch
_DIVIDES = 0.03  # a size-implied pitch within this of 1/k of the detected one divides it
_SQUARE = 0.03  # axes whose pitches differ more than this are each tried at the other's pitch


@dataclass(frozen=True)
class AxisGrid:
    """The grid along one axis: ``count`` cells between ``count + 1`` lines (render px; outer ones may lie outside).

    ``period`` is the mean pitch; ``lines`` holds every line's own position when they were fitted one by one
    (a non-integer or drifting pitch), otherwise lines are ``start + period * k``.
    """

    period: float
    start: float
    count: int
    confidence: float
    blur: float = 0.0  # estimated Gaussian blur of the edges (render px), from the width of the profile's bump
    lines: tuple[float, ...] | None = None
    source: str = "free"  # free: detected; size: the period canvas / size (the prior) with its phase

    @property
    def offset(self) -> float:
        """Phase of the grid: where the first whole cell begins, in [0, period) (0.01 px resolution)."""
        phase = self.start % self.period
        return 0.0 if self.period - phase < 0.05 else round(phase, 2)

    @property
    def drift(self) -> float:
        """Relative change of the pitch from the first cell to the last (0 for a constant pitch)."""
        if self.lines is None or self.count < 4:
            return 0.0
        widths = np.diff(np.asarray(self.lines))
        k = max(1, self.count // 8)
        return float((widths[-k:].mean() - widths[:k].mean()) / self.period)

    def edges(self) -> np.ndarray:
        """Cell boundaries in render coordinates (``count + 1`` values, the outer ones may lie outside)."""
        if self.lines is not None:
            return np.asarray(self.lines, dtype=np.float64)
        return self.start + self.period * np.arange(self.count + 1)

    def window(self, first: int, count: int) -> AxisGrid:
        """The sub-grid of cells ``first .. first + count`` (lines beyond the grid continue at the end pitches)."""
        edges = self.edges()
        k = np.arange(first, first + count + 1)
        lo, hi = edges[1] - edges[0], edges[-1] - edges[-2]
        inner = np.clip(k, 0, self.count)
        pos = edges[inner] + np.where(k < 0, k * lo, 0) + np.where(k > self.count, (k - self.count) * hi, 0)
        return replace(self, start=float(pos[0]), count=count, lines=tuple(pos.tolist()))


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
            "drift": [round(self.x.drift, 4), round(self.y.drift, 4)],
            "confidence": round(self.confidence, 3),
            "grid_source": self.x.source if self.x.source == self.y.source else f"{self.x.source}/{self.y.source}",
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


def _fold(profile: np.ndarray, u: np.ndarray, bins: int) -> np.ndarray:
    """Mean of ``profile`` per phase bin of the grid coordinate ``u`` (whole numbers on grid lines)."""
    idx = np.minimum(((u[1:] % 1.0) * bins).astype(np.int64), bins - 1)  # position 0 is the image border
    total = np.bincount(idx, weights=profile[1:], minlength=bins)
    count = np.bincount(idx, minlength=bins)
    return total / np.maximum(count, 1)


def _distance(bins: int, j: int) -> np.ndarray:
    return np.abs((np.arange(bins) - j + bins // 2) % bins - bins // 2)


def _phase(profile: Profile, period: float) -> float:
    """Phase of a constant ``period`` (sub-pixel: the centroid of the fold's bump above the cell interior)."""
    energy = profile.energy
    b = max(2, round(period))
    fold = _fold(energy, np.arange(len(energy)) / period, b)
    smooth = (np.roll(fold, 1) + 2 * fold + np.roll(fold, -1)) / 4 if b >= 4 else fold
    j = int(np.argmax(smooth))
    interior = fold[_distance(b, j) >= max(1, b // 4)]
    inside = float(np.median(interior)) if interior.size else 0.0
    radius = max(1, b // 4)
    offsets = np.arange(-radius, radius + 1)
    weights = np.clip(fold[(j + offsets) % b] - inside, 0, None)
    total = float(weights.sum())
    shift = float((offsets * weights).sum()) / total if total > 0 else 0.0
    return ((j + shift) % b) * period / b


def _blur(profile: Profile, lines: np.ndarray, period: float) -> float:
    """Gaussian width (render px) of the edges, measured on the strongest steps across grid lines.

    A window of half a cell either side of a grid line holds exactly one step between two flat
    colours; projected onto its colour change, a step goes from 0 to 1, and the mean over strong
    steps rises from 25 % to 75 % over 1.349 blur widths. Overlapping neighbours, the noise floor and
    JPEG overshoot, which fool a fit of the folded profile, barely move those two crossings.
    """
    rows = profile.lines[:: max(1, len(profile.lines) // _BLUR_LINES)]
    length = rows.shape[1]
    half = int(period // 2)
    if half < 2:
        return 0.0
    centres = np.round(lines).astype(np.intp)
    centres = centres[(centres - half >= 0) & (centres + half <= length)]
    if len(centres) == 0:
        return 0.0
    idx = centres[:, None] + np.arange(-half, half)[None, :]  # (lines, 2*half): pixel bi-half .. bi+half-1
    win = rows[:, idx].astype(np.float32)  # (pairs, lines, 2*half, 3)
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


def _confidence(profile: Profile, u: np.ndarray, period: float) -> float:
    """How surely strong edges fall on the lines (whole ``u``) rather than inside cells, 0..1.

    Counts of strong edges per phase bin: the line's (peak within a pixel of it) against the cells'
    inner part (a high percentile, so a finer grid hidden inside the cells is caught). A pseudo count
    keeps a handful of stray edges (noise, a JPEG step) from looking like a perfect grid.
    """
    wide = period >= 6
    b = max(2, round(period))
    fold = _fold(profile.strong if wide else profile.strong_narrow, u, b)
    dist = _distance(b, 0)
    line = float(fold[dist <= 1].max())
    # Edge events spread a pixel (3 px span) plus the blur around a line; the rest is the cell inside.
    inside = fold[dist >= (max(3, b // 4) if wide else max(1, min(2, b // 2)))]
    # Few inner bins (small cells): their median; many: the 75th percentile, to catch a hidden sub-grid.
    interior = float(np.median(inside) if inside.size < 6 else np.percentile(inside, 75)) if inside.size else 0.0
    pseudo = _PSEUDO_EVENTS * period / max(len(profile.strong), 1)  # per position of the fold
    return max(0.0, 1.0 - (interior + pseudo) / (line + pseudo))


def _axis(profile: Profile, fit: LineFit, first: int, count: int, source: str) -> AxisGrid:
    lines = fit.positions(np.arange(first, first + count + 1, dtype=np.float64))
    conf = _confidence(profile, fit.u(np.arange(fit.length, dtype=np.float64)), fit.pitch)
    period = float(lines[-1] - lines[0]) / count
    whole = round(period)
    k = np.arange(count + 1)
    start = float(np.mean(lines - whole * k))
    if whole >= _MIN_PERIOD and np.abs(lines - (start + whole * k)).max() <= _SNAP_PX:
        # An integer upscale reads as one (8 px, not 8.002): the lines move by less than _SNAP_PX.
        return AxisGrid(whole, start, count, conf, _blur(profile, start + whole * k, whole), None, source)
    return AxisGrid(
        period=period,
        start=float(lines[0]),
        count=count,
        confidence=conf,
        blur=_blur(profile, lines, period),
        lines=tuple(lines.tolist()),
        source=source,
    )


def _run(rgb: np.ndarray, profile: Profile, fit: LineFit, count: int, along_x: bool, source: str) -> AxisGrid:
    """The run of exactly ``count`` cells that overlaps the canvas most; at a half-cell tie, drop the flatter strip.

    Starting a cell earlier keeps the head strip and drops the tail; the strip with less colour variation
    (padding, background) is the one to lose.
    """
    u0, u1 = (float(v) for v in fit.u(np.array([0.0, float(fit.length)])))
    centre = (u0 + u1 - count) / 2
    lo = int(np.floor(centre))
    if abs(centre - lo - 0.5) * fit.pitch > _TIE_PX or fit.pitch < 4:
        return _axis(profile, fit, round(centre), count, source)
    early, late = _axis(profile, fit, lo, count, source), _axis(profile, fit, lo + 1, count, source)
    head = (0, int(np.floor(late.start)))
    tail = (int(np.ceil(early.edges()[-1])), fit.length)
    if head[1] - head[0] < 1 or tail[1] - tail[0] < 1:
        return late

    def variation(lo_px: int, hi_px: int) -> float:
        strip = rgb[::4, lo_px:hi_px, :3] if along_x else rgb[lo_px:hi_px, ::4, :3]
        flat = strip.reshape(-1, 3).astype(np.float32)
        return float(np.abs(flat - np.median(flat, axis=0)).mean())

    return early if variation(*head) > variation(*tail) else late


def _mid_share(profile: Profile, fit: LineFit) -> float:
    """Strong edges on the cells' midpoints relative to those on the lines, both above the cells' quarter points.

    Near 0 for a grid at the true pitch (a cell's middle is flat); the share of edges on odd lines for a grid
    at twice the true pitch (art whose features are mostly two cells wide still has some that are not).
    """
    b = max(8, round(fit.pitch))
    fold = _fold(profile.strong, fit.u(np.arange(fit.length, dtype=np.float64)), b)
    to_line, to_mid = _distance(b, 0), _distance(b, b // 2)
    line, mid = float(fold[to_line <= 1].max()), float(fold[to_mid <= 1].max())
    quarter = fold[(np.minimum(to_line, to_mid) >= max(2, b // 8))]
    floor = float(np.median(quarter)) if quarter.size else 0.0
    return max(0.0, mid - floor) / max(line - floor, 1e-9)


def _fit_confidence(profile: Profile, fit: LineFit) -> float:
    return _confidence(profile, fit.u(np.arange(fit.length, dtype=np.float64)), fit.pitch)


def _fixed_fit(profile: Profile, length: int, period: float) -> LineFit:
    """A constant ``period`` with its phase: the lines the sprite size implies (canvas / size)."""
    phase = _phase(profile, period)
    return LineFit(period, (phase,), length, 1.0)


def _cover(rgb: np.ndarray, px: Profile, py: Profile, fits: tuple[LineFit, LineFit]) -> Grid:
    """The cells the canvas holds, as one run per axis (a partial cell at each end counts as half)."""
    counts = [max(1, round(float(np.diff(f.u(np.array([0.0, float(f.length)])))[0]))) for f in fits]
    return Grid(_run(rgb, px, fits[0], counts[0], True, "free"), _run(rgb, py, fits[1], counts[1], False, "free"))


def detect_grid(rgb: np.ndarray, cells: tuple[int, int] | None = None, trust: float = 0.5) -> Grid:
    """Detect the fake-pixel grid of an (H, W, >=3) uint8 render.

    Without ``cells``: the free grid over the whole canvas. With ``cells`` = (columns, rows) of the sprite:
    when the canvas holds that many cells at the detected pitch, exactly that run of cells; otherwise the
    free grid (the window that holds the sprite is found later); and when the free grid is less trusted
    than ``trust``, the period canvas / cells with its phase, if that is trusted more.
    """
    h, w = rgb.shape[:2]
    if cells is not None and (w, h) == tuple(cells):
        return Grid(AxisGrid(1.0, 0.0, w, 1.0, source="size"), AxisGrid(1.0, 0.0, h, 1.0, source="size"))
    px, py = edge_profiles(rgb)
    # Strong edges (art edges, not JPEG block steps or noise on a smooth background) find the pitch and lines.
    ex, ey = px.strong + px.strong_narrow, py.strong + py.strong_narrow
    pitch = best_pitch([ex, ey], [w, h])
    fits = (fit_lines(ex, pitch), fit_lines(ey, pitch))
    while fits[0].pitch / 2 >= _MIN_HALF and _mid_share(px, fits[0]) + _mid_share(py, fits[1]) >= 2 * _MID_SHARE:
        # Edges on the midpoints of the cells: the art has 2-cell features and the true pitch is half.
        fits = (fit_lines(ex, fits[0].pitch / 2), fit_lines(ey, fits[1].pitch / 2))
    if abs(fits[0].pitch / fits[1].pitch - 1) > _SQUARE:
        # Fake pixels are square to a few per cent: try each axis at the other's pitch, keep what fits better.
        alt = (fit_lines(ex, fits[1].pitch), fit_lines(ey, fits[0].pitch))
        fits = tuple(  # type: ignore[assignment]
            a if _fit_confidence(p, a) > _fit_confidence(p, f) else f
            for p, f, a in zip((px, py), fits, alt, strict=True)
        )
    if cells is not None:
        # The size's pitch divides the detected one (art drawn in 2-cell features): every detected line is a
        # line of the size's grid, so the finer grid is the one the size asks for. (The other way round, a
        # size whose pitch is a multiple of the detected one, is never taken: that grid would skip lines.)
        implied = (w / cells[0], h / cells[1])
        k = round(fits[0].pitch / implied[0])
        if k >= 2 and all(abs(f.pitch / (k * p) - 1) < _DIVIDES for f, p in zip(fits, implied, strict=True)):
            fits = (fit_lines(ex, fits[0].pitch / k), fit_lines(ey, fits[1].pitch / k))
        tiles = all(abs(f.length / f.pitch - c) <= _TILES_WITHIN for f, c in zip(fits, cells, strict=True))
        if tiles:
            return Grid(_run(rgb, px, fits[0], cells[0], True, "free"), _run(rgb, py, fits[1], cells[1], False, "free"))
    free = _cover(rgb, px, py, fits)
    for k in (2, 3):  # not trusted: flat art has few lines, and a divisor of the pitch may hold them all
        if free.confidence >= trust or fits[0].pitch / k < _MIN_HALF:
            break
        finer = _cover(rgb, px, py, (fit_lines(ex, fits[0].pitch / k), fit_lines(ey, fits[1].pitch / k)))
        free = finer if finer.confidence > free.confidence else free
    if cells is None or free.confidence >= trust:
        return free
    periods = (w / cells[0], h / cells[1])
    if min(periods) < _MIN_PERIOD:
        return free
    fixed = [_fixed_fit(p, n, period) for p, n, period in zip((px, py), (w, h), periods, strict=True)]
    prior = Grid(_run(rgb, px, fixed[0], cells[0], True, "size"), _run(rgb, py, fixed[1], cells[1], False, "size"))
    return prior if prior.confidence > free.confidence else free
