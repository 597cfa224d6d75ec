"""Transparency at logical size: background removal, orphan pixels, a 1 px outline.

Everything here works on the sprite's own grid (at most a few hundred cells a side), so the
flood fill is a handful of vectorized run-filling sweeps rather than a per-pixel queue.
"""

from __future__ import annotations

import numpy as np

__all__ = ["add_outline", "flood_from_border", "key_mask", "remove_orphans"]


def key_mask(lab: np.ndarray, key_lab: np.ndarray, tolerance: float) -> np.ndarray:
    """Cells within ``tolerance`` (OKLab) of a key colour, anywhere in the sprite."""
    return np.linalg.norm(lab - key_lab, axis=-1) < tolerance


def flood_from_border(
    allowed: np.ndarray, seeds: np.ndarray | None = None, lab: np.ndarray | None = None, step: float = np.inf
) -> np.ndarray:
    """Cells of ``allowed`` 4-connected to the border seeds through ``allowed`` cells.

    ``seeds``: where the fill may start (default: every allowed border cell). With ``lab`` and
    ``step``, the fill only crosses between neighbours closer than ``step`` (OKLab): it follows a
    background that drifts slowly across the image but stops at the sharp edge of the sprite.
    """
    if seeds is None:
        seeds = np.zeros_like(allowed)
        seeds[0], seeds[-1], seeds[:, 0], seeds[:, -1] = True, True, True, True
    mask = seeds & allowed
    across = _links(lab, step, axis=1) if lab is not None else None
    down = _links(lab, step, axis=0) if lab is not None else None
    while True:
        grown = _fill_runs(allowed, mask, across)
        grown = _fill_runs(allowed.T, grown.T, None if down is None else down.T).T
        if np.array_equal(grown, mask):
            return mask
        mask = grown


def _links(lab: np.ndarray, step: float, axis: int) -> np.ndarray:
    """links[y, x] (axis 1): cell (y, x) is within ``step`` of its left neighbour (column 0: False)."""
    d = np.linalg.norm(np.diff(lab, axis=axis), axis=-1) < step
    pad = ((0, 0), (1, 0)) if axis == 1 else ((1, 0), (0, 0))
    return np.pad(d, pad, constant_values=False)


def _fill_runs(allowed: np.ndarray, seeds: np.ndarray, linked: np.ndarray | None = None) -> np.ndarray:
    """Fill every horizontal run of ``allowed`` (and ``linked``) cells that holds a seed."""
    start = allowed.copy()
    joined = allowed[:, :-1] if linked is None else allowed[:, :-1] & linked[:, 1:]
    start[:, 1:] &= ~joined
    run = np.cumsum(start.ravel())
    seeded = np.zeros(int(run[-1]) + 1, dtype=bool)
    seeded[run[(seeds & allowed).ravel()]] = True
    return allowed & seeded[run].reshape(allowed.shape)


def _neighbours(mask: np.ndarray, diagonal: bool) -> np.ndarray:
    """How many of each cell's 4 (or 8) neighbours are set."""
    p = np.pad(mask, 1).astype(np.uint8)
    count = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]
    if diagonal:
        count = count + p[:-2, :-2] + p[:-2, 2:] + p[2:, :-2] + p[2:, 2:]
    return count


def remove_orphans(opaque: np.ndarray) -> np.ndarray:
    """Opaque cells with no opaque neighbour (8-connected): stray pixels to clear."""
    return opaque & (_neighbours(opaque, diagonal=True) == 0)


def add_outline(opaque: np.ndarray) -> np.ndarray:
    """Transparent cells touching an opaque one (4-connected): where a 1 px outline goes."""
    return ~opaque & (_neighbours(opaque, diagonal=False) > 0)
