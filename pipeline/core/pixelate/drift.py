"""Brightness/colour drift correction against a fixed palette.

Diffusion renders drift: a whole image a few percent too warm, or darker towards one corner.
With a fixed palette whose nearest colours are close (Endesga 32 has pairs 0.05 apart in OKLab),
a 5 % drift flips cells to the neighbouring entry. The correction fits, per channel, a gain that
varies linearly across the sprite (``observed = palette colour * (g0 + gx*u + gy*v)``) on the cells
whose palette entry is unambiguous, divides it out and maps again. It is bounded (gains within
+-15 %) and kept only when it brings the cells closer to the palette; renders with no drift are
left as they are.
"""

from __future__ import annotations

import numpy as np

from pipeline.core.pixelate.color import srgb_to_oklab

__all__ = ["correct_drift"]

_MAX_GAIN = 0.15
_ROUNDS = 1
_MIN_CELLS = 24
_FIT_CELLS = 4096


def _nearest_two(lab: np.ndarray, pal_lab: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index of nearest, squared distance to nearest, to second nearest) for (n, 3) OKLab points."""
    d2 = ((lab * lab).sum(axis=1)[:, None] + (pal_lab * pal_lab).sum(axis=1)[None, :] - 2.0 * (lab @ pal_lab.T)).clip(
        min=0
    )
    nearest = d2.argmin(axis=1)
    rows = np.arange(len(d2))
    first = d2[rows, nearest]
    if d2.shape[1] < 2:
        return nearest, first, np.full(len(d2), np.inf)
    d2[rows, nearest] = np.inf
    return nearest, first, d2.min(axis=1)


def correct_drift(
    rgb: np.ndarray, opaque: np.ndarray, palette_rgb: np.ndarray
) -> tuple[np.ndarray, list[float] | None]:
    """(corrected (h, w, 3) uint8 cells, gains [r, g, b] at the centre, or None when nothing was corrected)."""
    h, w = rgb.shape[:2]
    if opaque.sum() < _MIN_CELLS or len(palette_rgb) < 2:
        return rgb, None
    pal = palette_rgb.astype(np.float64)
    pal_lab = srgb_to_oklab(palette_rgb)
    all_ys, all_xs = np.nonzero(opaque)
    step = max(1, len(all_ys) // _FIT_CELLS)  # the fit needs a few thousand cells, not all of them
    ys, xs = all_ys[::step], all_xs[::step]
    u = xs / max(w - 1, 1) - 0.5
    v = ys / max(h - 1, 1) - 0.5
    observed = rgb[ys, xs].astype(np.float64)
    current = observed
    idx, d1, d2 = _nearest_two(srgb_to_oklab(rgb[ys, xs]), pal_lab)
    best_error, best_coef = float(np.sqrt(d1).mean()), None
    for round_ in range(_ROUNDS):
        if round_:
            idx, d1, d2 = _nearest_two(srgb_to_oklab(np.clip(current + 0.5, 0, 255).astype(np.uint8)), pal_lab)
        sure = d1 < 0.25 * d2  # nearest entry at most half as far as the second: unambiguous
        if sure.sum() < _MIN_CELLS:
            break
        target = pal[idx[sure]]
        field = np.empty((len(u), 3))
        coefs = np.empty((3, 3))
        for c in range(3):
            p = target[:, c]
            design = np.stack([p, p * u[sure], p * v[sure]], axis=1)
            coef, *_ = np.linalg.lstsq(design, observed[sure, c], rcond=None)
            coefs[c] = coef
            field[:, c] = coef[0] + coef[1] * u + coef[2] * v
        if np.abs(field - 1.0).max() > _MAX_GAIN:
            break
        current = observed / field
        _, d1, _ = _nearest_two(srgb_to_oklab(np.clip(current + 0.5, 0, 255).astype(np.uint8)), pal_lab)
        error = float(np.sqrt(d1).mean())
        if error >= best_error:
            break
        best_error, best_coef = error, coefs
    if best_coef is None:
        return rgb, None
    g = best_coef  # per channel: (gain at the centre, change across x, change across y)
    u_all = all_xs[:, None] / max(w - 1, 1) - 0.5
    v_all = all_ys[:, None] / max(h - 1, 1) - 0.5
    field_all = np.clip(g[:, 0] + g[:, 1] * u_all + g[:, 2] * v_all, 1 - _MAX_GAIN, 1 + _MAX_GAIN)
    out = rgb.copy()
    out[all_ys, all_xs] = np.clip(rgb[all_ys, all_xs] / field_all + 0.5, 0, 255).astype(np.uint8)
    return out, [round(float(gain), 4) for gain in g[:, 0]]
