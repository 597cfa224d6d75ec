"""Adaptive palettes: at most N colours chosen from the per-cell colours (after downscaling).

Quantizing the full render wastes slots on noise and edge blends; the cells are already one
colour per art pixel, so each true colour is a tight cloud. The steps:

1. Over-cluster with Pillow's octree (fast, in C) into 4N (at least 64, at most 256) clusters.
2. Merge boxes that are one colour split by noise: two clusters whose centres lie within three
   times their pooled spread (or 0.02 OKLab) are one colour. A palette never holds two entries
   for one true colour, even when N leaves room for them (that would make pixels flicker).
3. While more than N clusters remain, merge the pair with the smallest Ward cost.
4. A few k-means (Lloyd) steps in OKLab from those centres, weighted by pixel counts.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.core.pixelate.color import oklab_to_srgb, srgb_to_oklab

__all__ = ["adaptive_palette"]

_SAME_COLOUR = 0.02  # OKLab distance under which two clusters are always one colour
_SPREAD_FACTOR = 3.0  # ... or under this many pooled standard deviations
_LLOYD_STEPS = 6


def adaptive_palette(rgb: np.ndarray, n_colours: int) -> np.ndarray:
    """(k, 3) uint8 palette, k <= ``n_colours``, for the (n, 3) uint8 colours ``rgb`` (sorted dark to light)."""
    pts = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3)
    if len(pts) == 0 or n_colours <= 0:
        return np.empty((0, 3), dtype=np.uint8)
    key = (pts[:, 0].astype(np.int32) << 16) | (pts[:, 1].astype(np.int32) << 8) | pts[:, 2]
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    colours = pts[first]
    lab = srgb_to_oklab(colours)
    weights = counts.astype(np.float64)
    if len(colours) <= n_colours and _min_distance(lab) >= _SAME_COLOUR:
        return _sorted(colours)
    labels = _over_cluster(pts, colours, lab, min(256, max(4 * n_colours, 64)))
    centres, n, ss = _cluster_stats(lab, weights, labels)
    centres, n = _merge(centres, n, ss, n_colours)
    for _ in range(_LLOYD_STEPS):
        labels = _assign(lab, centres)
        new, n_new, _ = _cluster_stats(lab, weights, labels, len(centres))
        keep = n_new > 0
        if np.allclose(new[keep], centres[keep], atol=1e-5) and keep.all():
            break
        centres, n = new[keep], n_new[keep]
    palette = np.unique(oklab_to_srgb(centres), axis=0)
    return _sorted(palette[:n_colours])


def _sorted(palette: np.ndarray) -> np.ndarray:
    lab = srgb_to_oklab(palette)
    return palette[np.lexsort((lab[:, 2], lab[:, 1], lab[:, 0]))]


def _min_distance(lab: np.ndarray) -> float:
    if len(lab) < 2:
        return float("inf")
    d = np.linalg.norm(lab[:, None, :] - lab[None, :, :], axis=2)
    np.fill_diagonal(d, np.inf)
    return float(d.min())


def _assign(lab: np.ndarray, centres: np.ndarray) -> np.ndarray:
    score = (centres * centres).sum(axis=1)[None, :] - 2.0 * (lab @ centres.T)
    return score.argmin(axis=1)


def _over_cluster(pts: np.ndarray, colours: np.ndarray, lab: np.ndarray, boxes: int) -> np.ndarray:
    """Label each unique colour with one of up to ``boxes`` initial clusters (Pillow's octree, in C)."""
    if boxes >= len(colours):
        return np.arange(len(colours))
    q = Image.fromarray(pts.reshape(1, -1, 3), "RGB").quantize(colors=boxes, method=Image.Quantize.FASTOCTREE)
    pal = np.array((q.getpalette() or [])[: 3 * boxes], dtype=np.uint8).reshape(-1, 3)
    used = np.unique(np.asarray(q))
    return _assign(lab, srgb_to_oklab(pal[used]))


def _cluster_stats(
    lab: np.ndarray, weights: np.ndarray, labels: np.ndarray, k: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted centres, weights and sums of squared distances per label (empty labels dropped unless k)."""
    k = int(labels.max()) + 1 if k is None else k
    n = np.bincount(labels, weights=weights, minlength=k)
    sums = np.stack([np.bincount(labels, weights=weights * lab[:, i], minlength=k) for i in range(3)], axis=1)
    centres = sums / np.maximum(n, 1e-12)[:, None]
    d2 = ((lab - centres[labels]) ** 2).sum(axis=1)
    ss = np.bincount(labels, weights=weights * d2, minlength=k)
    if k == int(labels.max()) + 1 and (n == 0).any():
        keep = n > 0
        return centres[keep], n[keep], ss[keep]
    return centres, n, ss


def _merge(centres: np.ndarray, n: np.ndarray, ss: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge clusters that are one colour, then by Ward cost down to ``limit`` clusters."""
    c, n, ss = centres.astype(np.float64).copy(), n.astype(np.float64).copy(), ss.astype(np.float64).copy()
    k = len(c)
    alive = np.ones(k, dtype=bool)
    ratio = np.full((k, k), np.inf)
    ward = np.full((k, k), np.inf)

    def update(a: int) -> None:
        d2 = ((c - c[a]) ** 2).sum(axis=1)
        same = np.maximum(_SAME_COLOUR**2, _SPREAD_FACTOR**2 * (ss + ss[a]) / (n + n[a]))
        row_ratio = np.where(alive, d2 / same, np.inf)
        row_ward = np.where(alive, n * n[a] / (n + n[a]) * d2, np.inf)
        row_ratio[a] = row_ward[a] = np.inf
        ratio[a, :], ratio[:, a] = row_ratio, row_ratio
        ward[a, :], ward[:, a] = row_ward, row_ward

    d2 = ((c[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
    ratio[:] = d2 / np.maximum(
        _SAME_COLOUR**2, _SPREAD_FACTOR**2 * (ss[:, None] + ss[None, :]) / (n[:, None] + n[None, :])
    )
    ward[:] = n[:, None] * n[None, :] / (n[:, None] + n[None, :]) * d2
    np.fill_diagonal(ratio, np.inf)
    np.fill_diagonal(ward, np.inf)
    while alive.sum() > 1:
        flat = int(ratio.argmin())
        if ratio.flat[flat] >= 1.0:
            if alive.sum() <= limit:
                break
            flat = int(ward.argmin())
        a, b = divmod(flat, k)
        total = n[a] + n[b]
        ss[a] = ss[a] + ss[b] + n[a] * n[b] / total * ((c[a] - c[b]) ** 2).sum()
        c[a] = (c[a] * n[a] + c[b] * n[b]) / total
        n[a] = total
        alive[b] = False
        ratio[b, :], ratio[:, b], ward[b, :], ward[:, b] = np.inf, np.inf, np.inf, np.inf
        update(a)
    return c[alive], n[alive]
