"""Palette mapping in OKLab: nearest colour, ordered (Bayer) dithering or Floyd-Steinberg.

Dithering is off by default: recovered pixel art is already one palette colour per cell, and
dithering would add noise. It helps when a render's colours lie between the palette's (a smooth
gradient mapped to 4 Game Boy shades). Both variants are vectorized: ordered dithering picks, per
cell, between its two nearest palette colours by comparing its position between them with a 4x4
Bayer threshold; error diffusion walks anti-diagonals (x + 2y = t), because every pixel only
pushes error to pixels with a larger t, so all pixels of one t can be processed at once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DITHER_MODES", "map_to_palette"]

DITHER_MODES = ("none", "ordered", "floyd-steinberg")

_BAYER4 = (
    np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], dtype=np.float32) + 0.5
) / 16.0 - 0.5


def _nearest(lab: np.ndarray, pal: np.ndarray) -> np.ndarray:
    score = (pal * pal).sum(axis=1) - 2.0 * (lab @ pal.T)
    return score.argmin(axis=-1)


def _ordered(lab: np.ndarray, pal: np.ndarray) -> np.ndarray:
    """Bayer dithering between each cell's two nearest palette colours, in proportion to its position between them."""
    h, w = lab.shape[:2]
    score = (pal * pal).sum(axis=1) - 2.0 * (lab @ pal.T)
    first = score.argmin(axis=-1)
    np.put_along_axis(score, first[..., None], np.inf, axis=-1)
    second = score.argmin(axis=-1)
    a, b = pal[first], pal[second]
    span = ((b - a) ** 2).sum(axis=-1)
    mix = np.clip(((lab - a) * (b - a)).sum(axis=-1) / np.maximum(span, 1e-12), 0.0, 1.0)
    threshold = np.tile(_BAYER4 + 0.5, (h // 4 + 1, w // 4 + 1))[:h, :w]  # in (0, 1)
    return np.where(mix > threshold, second, first)


def map_to_palette(lab: np.ndarray, opaque: np.ndarray, palette_lab: np.ndarray, mode: str = "none") -> np.ndarray:
    """Palette index for every cell of an (h, w, 3) OKLab image; transparent cells get 0 and spread no error."""
    pal = np.asarray(palette_lab, dtype=np.float32)
    if mode == "none" or len(pal) < 2:
        return _nearest(lab, pal)
    if mode == "ordered":
        return _ordered(lab, pal)
    if mode == "floyd-steinberg":
        return _error_diffusion(lab, opaque, pal)
    raise ValueError(f"dither '{mode}': use one of {', '.join(DITHER_MODES)}")


def _error_diffusion(lab: np.ndarray, opaque: np.ndarray, pal: np.ndarray) -> np.ndarray:
    h, w = lab.shape[:2]
    err = np.zeros((h + 1, w + 2, 3), dtype=np.float32)  # padded: column j of the image is j + 1
    out = np.zeros((h, w), dtype=np.intp)
    ys, xs = np.mgrid[0:h, 0:w]
    t = (xs + 2 * ys).ravel()
    order = np.argsort(t, kind="stable")
    bounds = np.searchsorted(t[order], np.arange(t.max() + 2))
    weights = ((0, 1, 7 / 16), (1, -1, 3 / 16), (1, 0, 5 / 16), (1, 1, 1 / 16))
    for step in range(len(bounds) - 1):
        cells = order[bounds[step] : bounds[step + 1]]
        y, x = ys.ravel()[cells], xs.ravel()[cells]
        keep = opaque[y, x]
        y, x = y[keep], x[keep]
        if len(y) == 0:
            continue
        value = lab[y, x] + err[y, x + 1]
        idx = _nearest(value, pal)
        out[y, x] = idx
        e = value - pal[idx]
        for dy, dx, wgt in weights:
            err[y + dy, x + 1 + dx] += wgt * e
    return out
