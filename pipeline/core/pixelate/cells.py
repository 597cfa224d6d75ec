"""One robust colour per grid cell, from samples of the cell's inner part.

Edges of a fake pixel are blurred into its neighbours and JPEG rings around them, so only the
central half of each cell is sampled (a fixed lattice of at most 6 x 6 pixels, whatever the render
size: a 1024 px render and a 4096 px one cost the same). The cell's colour is the mean of the
samples within a few levels of a median-of-5 seed taken at the centre (robust to ringing and to a
grid a pixel off, and ~10x cheaper than a full median). When the measured blur is strong enough to
leak neighbouring cells into those samples, the leak is solved out on the logical grid.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.core.pixelate.grid import AxisGrid, Grid

__all__ = ["cell_colours", "sample_positions"]

_MAX_SAMPLES = 6  # per axis and cell
_LEAK_IGNORED = 0.985  # own share above which the blur's leak is left alone
_INLIER = 24  # levels from the seed a sample may differ and still count (noise ~6, JPEG ringing more)


def sample_positions(axis: AxisGrid, length: int) -> np.ndarray:
    """(count, m) pixel indices spread over the central half of each cell, clipped to the image."""
    m = int(min(_MAX_SAMPLES, max(1, axis.period // 2)))
    fractions = 0.25 + 0.5 * (np.arange(m) + 0.5) / m
    edges = axis.edges()
    lo, hi = edges[:-1], edges[1:]
    pos = np.floor(lo[:, None] + fractions[None, :] * (hi - lo)[:, None]).astype(np.intp)
    # A cell cut by the image border is sampled in the part that exists.
    first = np.clip(np.ceil(lo), 0, length - 1).astype(np.intp)
    last = np.clip(np.ceil(hi) - 1, 0, length - 1).astype(np.intp)
    return np.clip(pos, first[:, None], np.maximum(first, last)[:, None])


def cell_colours(image: np.ndarray, grid: Grid) -> np.ndarray:
    """(rows, cols, C) uint8 robust colour of each cell, C = the image's channel count."""
    h, w = image.shape[:2]
    ys = sample_positions(grid.y, h)
    xs = sample_positions(grid.x, w)
    rows, my = ys.shape
    cols, mx = xs.shape
    picked = image[np.ix_(ys.ravel(), xs.ravel())]  # (rows*my, cols*mx, C), one gather
    c = picked.shape[2]
    # Samples first and contiguous: every reduction below is a cheap elementwise pass.
    samples = np.ascontiguousarray(picked.reshape(rows, my, cols, mx, c).transpose(1, 3, 0, 2, 4))
    if my * mx <= 4:
        colours = np.median(samples.reshape(my * mx, rows, cols, c), axis=0).round().astype(np.uint8)
    else:
        colours = _seeded_mean(samples)
    return _undo_leak(colours, _own_share(grid.x, xs), _own_share(grid.y, ys))


def _own_share(axis: AxisGrid, positions: np.ndarray) -> float:
    """Share of a cell's samples that is its own colour along one axis, given the edges' Gaussian blur."""
    if axis.blur <= 0 or axis.period < 2:
        return 1.0
    # Sample offsets from the cell centre (pixel centres), for a whole cell away from the image border.
    k = min(1, len(positions) - 1)
    edges = axis.edges()
    u = positions[k] + 0.5 - (edges[k] + edges[k + 1]) / 2
    scale = axis.blur * math.sqrt(2)
    half = axis.period / 2
    shares = [(math.erf((half - d) / scale) + math.erf((half + d) / scale)) / 2 for d in u]
    return float(np.mean(shares))


def _undo_leak(colours: np.ndarray, fx: float, fy: float) -> np.ndarray:
    """Remove the blur's leak of neighbouring cells into each cell's samples (a no-op for sharp renders).

    measured = fx*fy*own + (1-fx)*fy*mean(left, right) + fx*(1-fy)*mean(up, down) (+ a diagonal term),
    solved for ``own`` with the measured neighbours standing in for theirs. RGB only; alpha is kept.
    """
    if min(fx, fy) > _LEAK_IGNORED:
        return colours
    rgb = colours[..., :3].astype(np.float32)
    p = np.pad(rgb, ((1, 1), (1, 1), (0, 0)), mode="edge")
    across = (p[1:-1, :-2] + p[1:-1, 2:]) / 2
    down = (p[:-2, 1:-1] + p[2:, 1:-1]) / 2
    diagonal = (p[:-2, :-2] + p[:-2, 2:] + p[2:, :-2] + p[2:, 2:]) / 4
    own = (rgb - (1 - fx) * fy * across - fx * (1 - fy) * down - (1 - fx) * (1 - fy) * diagonal) / (fx * fy)
    out = colours.copy()
    out[..., :3] = np.clip(own + 0.5, 0, 255).astype(np.uint8)
    return out


def _median5(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Elementwise median of five arrays with min/max only (a selection network)."""
    lo1, hi1 = np.minimum(a, b), np.maximum(a, b)
    lo2, hi2 = np.minimum(c, d), np.maximum(c, d)
    # Drop the smallest of the four (min of the two minima) and the largest (max of the maxima)...
    mid_lo = np.maximum(lo1, lo2)
    mid_hi = np.minimum(hi1, hi2)
    # ...the median of five is the median of the two middle values of four and the fifth.
    lo, hi = np.minimum(mid_lo, mid_hi), np.maximum(mid_lo, mid_hi)
    return np.maximum(lo, np.minimum(hi, e))


def _seeded_mean(samples: np.ndarray) -> np.ndarray:
    """Mean of the samples within ``_INLIER`` levels of a median-of-5 seed from the cell's centre."""
    my, mx = samples.shape[:2]
    # The central 2x2 samples and one below them (indices clipped for thin lattices).
    r = np.clip(np.array([-1, -1, 0, 0, 1]) + my // 2, 0, my - 1)
    c = np.clip(np.array([-1, 0, -1, 0, 0]) + mx // 2, 0, mx - 1)
    seed = _median5(*(samples[r[i], c[i]] for i in range(5))).astype(np.int16)
    flat = samples.reshape(my * mx, *samples.shape[2:]).astype(np.int16)
    inlier = np.abs(flat - seed) <= _INLIER
    total = np.where(inlier, flat, 0).sum(axis=0, dtype=np.int32)
    count = inlier.sum(axis=0, dtype=np.int32)
    return ((2 * total + count) // (2 * count)).astype(np.uint8)
