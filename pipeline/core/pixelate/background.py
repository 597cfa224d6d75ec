"""The render's background, modelled on the logical grid: flat, off-white, gradient or vignette; and holes in it.

A diffusion render rarely has one background colour: it is off-white, shaded top to bottom, or darker in
the corners. So the background is a smooth field: per OKLab channel, a quadratic in the cell's position
(``1, u, v, u², v², uv``), fitted to the border cells robustly (start from the commonest border colour,
refit on the cells within the tolerance of the field, three times). It is the background when it explains
at least half of the border, so a sprite may touch the frame.

Cells are background when they are 4-connected to the border through cells close to the field (and to each
other: the fill follows a background that drifts but stops at the sprite's edge). *Holes*, regions of
background enclosed by the sprite (the gap between an arm and the body), are regions of at least two cells
that match the field within half the tolerance and are framed like the sprite's silhouette (their rim is
mostly in the colours of the sprite's outer edge, usually its outline); a light patch inside the sprite
that happens to match the background is framed by other colours and kept, and so is a single pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.core.pixelate.alpha import flood_from_border
from pipeline.core.pixelate.color import oklab_to_srgb, rgb_to_hex

__all__ = ["BORDER_SHARE", "Background", "fit_background", "remove_background"]

BORDER_SHARE = 0.5  # the field must explain this share of the border to be "the background"
DRIFT_REACH = 1.5  # cells this many tolerances from the field may still be background (if connected)
HOLE_SHARE = 0.5  # holes match the field within this share of the tolerance
_RIM_SHARE = 0.6  # a hole's rim must be this much in the colours of the sprite's outer edge
_ROUNDS = 3
_FLAT = 0.25  # a field varying less than this share of the tolerance is one colour


@dataclass(frozen=True)
class Background:
    """The fitted background field (OKLab at every cell) and how well it explains the border."""

    field: np.ndarray  # (h, w, 3) float32
    kind: str  # flat | gradient
    border_share: float

    def describe(self) -> dict[str, object]:
        """JSON-able: the kind, the colour at the centre and the corners, the share of the border explained."""
        h, w = self.field.shape[:2]
        points = [
            self.field[h // 2, w // 2],
            self.field[0, 0],
            self.field[0, -1],
            self.field[-1, 0],
            self.field[-1, -1],
        ]
        hexes = rgb_to_hex(oklab_to_srgb(np.array(points)))
        return {
            "model": self.kind,
            "colour": hexes[0],
            "corners": hexes[1:],
            "border_share": round(self.border_share, 3),
        }


def _ring(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the border cells, each once."""
    if h <= 2 or w <= 2:
        ys, xs = np.mgrid[0:h, 0:w]
        return ys.ravel(), xs.ravel()
    top = (np.zeros(w, np.intp), np.arange(w))
    bottom = (np.full(w, h - 1, np.intp), np.arange(w))
    left = (np.arange(1, h - 1), np.zeros(h - 2, np.intp))
    right = (np.arange(1, h - 1), np.full(h - 2, w - 1, np.intp))
    parts = (top, bottom, left, right)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _design(ys: np.ndarray, xs: np.ndarray, h: int, w: int) -> np.ndarray:
    u = xs / max(w - 1, 1) * 2 - 1
    v = ys / max(h - 1, 1) * 2 - 1
    return np.stack([np.ones_like(u), u, v, u * u, v * v, u * v], axis=1)


def fit_background(lab: np.ndarray, candidates: np.ndarray, tolerance: float) -> Background | None:
    """The background field of an (h, w, 3) OKLab cell grid, or None when no smooth field explains the border.

    ``candidates`` marks cells that may be background (for example: not already transparent).
    """
    h, w = lab.shape[:2]
    ys, xs = _ring(h, w)
    total = len(ys)
    keep = candidates[ys, xs]
    ys, xs = ys[keep], xs[keep]
    ring = lab[ys, xs].astype(np.float64)
    if len(ring) == 0:
        return None
    # Seed: the commonest border colour (cubes of half the tolerance), as a constant field.
    cubes = np.floor(ring / (tolerance / 2)).astype(np.int64)
    _, inverse, counts = np.unique(cubes, axis=0, return_inverse=True, return_counts=True)
    seed = ring[inverse.ravel() == counts.argmax()].mean(axis=0)
    inliers = np.linalg.norm(ring - seed, axis=1) < 2 * tolerance
    design = _design(ys, xs, h, w)
    coef = np.zeros((design.shape[1], 3))
    coef[0] = seed
    for _ in range(_ROUNDS):
        if inliers.sum() < 2 * design.shape[1]:
            break
        coef, *_ = np.linalg.lstsq(design[inliers], ring[inliers], rcond=None)
        inliers = np.linalg.norm(design @ coef - ring, axis=1) < tolerance
    share = float(inliers.sum()) / max(total, 1)
    if share < BORDER_SHARE:
        return None
    gy, gx = np.mgrid[0:h, 0:w]
    field = (_design(gy.ravel(), gx.ravel(), h, w) @ coef).reshape(h, w, 3).astype(np.float32)
    spread = float(np.linalg.norm(field.reshape(-1, 3).max(axis=0) - field.reshape(-1, 3).min(axis=0)))
    return Background(field, "flat" if spread < _FLAT * tolerance else "gradient", share)


def remove_background(
    lab: np.ndarray, opaque: np.ndarray, background: Background, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """(background cells connected to the border, enclosed holes) as boolean masks over the cell grid."""
    distance = np.linalg.norm(lab - background.field, axis=-1)
    seeds = np.zeros_like(opaque)
    seeds[0], seeds[-1], seeds[:, 0], seeds[:, -1] = True, True, True, True
    removed = flood_from_border(
        opaque & (distance < DRIFT_REACH * tolerance), seeds & (distance < tolerance), lab, tolerance
    )
    strict = opaque & ~removed & (distance < HOLE_SHARE * tolerance)
    if not strict.any() or not removed.any():
        return removed, np.zeros_like(removed)
    silhouette = opaque & ~removed & _touching(removed)
    return removed, _holes(strict, opaque & ~removed & ~strict, silhouette, lab, tolerance)


def _touching(mask: np.ndarray) -> np.ndarray:
    """Cells 4-adjacent to ``mask``."""
    p = np.pad(mask, 1)
    return p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]


def _labels(mask: np.ndarray) -> np.ndarray:
    """4-connected component labels of ``mask`` (-1 outside it), by min-label propagation (small grids)."""
    big = mask.size + 1
    lab = np.where(mask, np.arange(mask.size).reshape(mask.shape), big)
    while True:
        p = np.pad(lab, 1, constant_values=big)
        low = np.minimum.reduce([lab, p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]])
        low = np.where(mask, low, big)
        if np.array_equal(low, lab):
            return np.where(mask, lab, -1)
        lab = low


def _holes(
    candidates: np.ndarray, sprite: np.ndarray, silhouette: np.ndarray, lab: np.ndarray, tolerance: float
) -> np.ndarray:
    """Candidate regions (>= 2 cells) whose rim is drawn in the colours of the sprite's outer edge.

    A hole in pixel art is framed like the sprite's silhouette (usually by its outline); a patch of a
    light colour inside the sprite that happens to match the background is framed by other colours.
    """
    edge_colours = lab[silhouette]
    if len(edge_colours) == 0:
        return np.zeros_like(candidates)
    edge_colours = edge_colours[:: max(1, len(edge_colours) // 256)]
    labels = _labels(candidates)
    out = np.zeros_like(candidates)
    for label in np.unique(labels[labels >= 0]):
        region = labels == label
        if region.sum() < 2:
            continue
        rim = sprite & _touching(region)
        if not rim.any():
            continue
        d = np.linalg.norm(lab[rim][:, None, :] - edge_colours[None, :, :], axis=-1).min(axis=1)
        if (d < tolerance).mean() >= _RIM_SHARE:
            out |= region
    return out
