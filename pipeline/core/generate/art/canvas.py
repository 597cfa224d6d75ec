"""A small pixel-art canvas: parts painted in materials, then shaded, outlined and cleaned.

Drawers paint shapes given in box coordinates (``u`` left to right, ``v`` top to bottom, 0..1 over the
sprite inside a 1 px margin) with a material; :meth:`Canvas.finish` turns that into RGBA pixels:

* each part is shaded by where it meets other parts or the outside (light from the upper left): its
  upper-left rim one shade lighter, its lower-right rim one darker, unless a drawer set a tone itself;
* a 1 px outline (``ink``) goes around the whole silhouette, and enclosed gaps are inked too, so the
  pixel stage's background removal (a flood from the border) finds exactly the drawn silhouette;
* opaque specks of fewer than 3 pixels (8-connected) are removed: there are none left to find.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.core.generate.art.colours import RGB, Ramp

__all__ = ["INK", "Canvas", "components"]

INK = -1  # material index of the outline colour (also usable inside the sprite: slits, mouths, seams)
MIN_SPECK = 3


def components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of ``mask``: (labels, count); labels 0 is background."""
    h, w = mask.shape
    labels = np.zeros((h, w), dtype=np.int32)
    count = 0
    for y, x in zip(*np.nonzero(mask), strict=True):
        if labels[y, x]:
            continue
        count += 1
        stack = [(int(y), int(x))]
        labels[y, x] = count
        while stack:
            cy, cx = stack.pop()
            for ny in (cy - 1, cy, cy + 1):
                for nx in (cx - 1, cx, cx + 1):
                    if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not labels[ny, nx]:
                        labels[ny, nx] = count
                        stack.append((ny, nx))
    return labels, count


def _shifted(a: np.ndarray, dy: int, dx: int, fill: int) -> np.ndarray:
    """a[y - dy, x - dx] at (y, x), ``fill`` where that falls outside."""
    out = np.full_like(a, fill)
    h, w = a.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = a[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


class Canvas:
    """Paint parts by material; ``finish`` shades, outlines and cleans them into an RGBA array."""

    def __init__(self, width: int, height: int, ink: RGB, margin: int = 1):
        self.w, self.h = width, height
        self.ink = ink
        self.part = np.zeros((height, width), dtype=np.int16)  # 0: empty, n: materials[n - 1], INK
        self.tone = np.zeros((height, width), dtype=np.int8)
        self.fixed = np.zeros((height, width), dtype=bool)  # tone set by a drawer, not by the rim shading
        self.materials: list[Ramp] = []
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
        self.px_u = 1.0 / max(width - 2 * margin, 1)  # one pixel in box units
        self.px_v = 1.0 / max(height - 2 * margin, 1)
        self.u = (xs + 0.5 - margin) * self.px_u
        self.v = (ys + 0.5 - margin) * self.px_v
        self.x, self.y = xs, ys

    # -- materials and painting ----------------------------------------------------------------------

    def material(self, ramp: Ramp) -> int:
        self.materials.append(ramp)
        return len(self.materials)

    def paint(self, mask: np.ndarray, material: int, tone: int | None = None) -> None:
        """Paint ``mask`` in ``material`` (on top of what is there); ``tone`` fixes its shade (-2..2)."""
        self.part[mask] = material
        self.fixed[mask] = tone is not None
        self.tone[mask] = tone or 0

    def shade(self, mask: np.ndarray, tone: int) -> None:
        """Fix the shade of already painted pixels under ``mask`` (highlights, shadows)."""
        mask = mask & (self.part > 0)
        self.tone[mask] = tone
        self.fixed[mask] = True

    def erase(self, mask: np.ndarray) -> None:
        self.part[mask] = 0

    # -- shapes, in box units (u, v in 0..1) --------------------------------------------------------

    def ellipse(self, cu: float, cv: float, ru: float, rv: float) -> np.ndarray:
        return ((self.u - cu) / max(ru, 1e-6)) ** 2 + ((self.v - cv) / max(rv, 1e-6)) ** 2 <= 1.0

    def rect(self, u0: float, v0: float, u1: float, v1: float) -> np.ndarray:
        return (self.u >= u0) & (self.u <= u1) & (self.v >= v0) & (self.v <= v1)

    def polygon(self, points: Sequence[tuple[float, float]]) -> np.ndarray:
        """Pixels whose centre is inside the polygon (even-odd rule)."""
        inside = np.zeros(self.u.shape, dtype=bool)
        n = len(points)
        for i in range(n):
            (u0, v0), (u1, v1) = points[i], points[(i + 1) % n]
            crosses = (self.v < v0) != (self.v < v1)
            at = u0 + (self.v - v0) * (u1 - u0) / ((v1 - v0) or 1e-12)
            inside ^= crosses & (self.u < at)
        return inside

    def line(self, p0: tuple[float, float], p1: tuple[float, float], width_px: float = 1.0) -> np.ndarray:
        """A segment ``width_px`` pixels thick (measured in pixels, so thin lines stay thin)."""
        x0, y0 = p0[0] / self.px_u, p0[1] / self.px_v
        x1, y1 = p1[0] / self.px_u, p1[1] / self.px_v
        px, py = self.u / self.px_u, self.v / self.px_v
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((px - x0) * dx + (py - y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
        return np.hypot(px - (x0 + t * dx), py - (y0 + t * dy)) <= width_px / 2

    def mirror(self, mask: np.ndarray) -> np.ndarray:
        """The mask and its left-right mirror image (for symmetric subjects)."""
        return mask | mask[:, ::-1]

    # -- finishing ------------------------------------------------------------------------------------

    def _rim_tones(self) -> np.ndarray:
        p = self.part
        differs = {d: _shifted(p, *d, fill=0) != p for d in ((1, 0), (-1, 0), (0, 1), (0, -1))}
        # (1, 0): the pixel above is another part; (-1, 0): the pixel below; (0, 1): left; (0, -1): right
        tx = differs[(0, 1)].astype(np.int8) - differs[(0, -1)].astype(np.int8)
        ty = differs[(1, 0)].astype(np.int8) - differs[(-1, 0)].astype(np.int8)
        return np.clip(tx + ty, -1, 1).astype(np.int8)

    def finish(self, outline: bool = True) -> np.ndarray:
        """The sprite as (h, w, 4) uint8 RGBA: shaded, outlined, enclosed gaps inked, specks removed."""
        filled = self.part != 0
        if outline:
            grown = filled.copy()
            for d in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                grown |= _shifted(filled.astype(np.int8), *d, fill=0).astype(bool)
            self.part[grown & ~filled] = INK
            filled = grown
        filled |= _enclosed(~filled)
        self.part[filled & (self.part == 0)] = INK
        labels, count = components(filled)
        for i in range(1, count + 1):
            if (labels == i).sum() < MIN_SPECK:
                filled[labels == i] = False
        tones = np.where(self.fixed, self.tone, self._rim_tones())
        out = np.zeros((self.h, self.w, 4), dtype=np.uint8)
        for index, material in enumerate(self.materials, start=1):
            for tone in range(-2, 3):
                out[(self.part == index) & (tones == tone)] = (*material[tone], 255)
        out[self.part == INK] = (*self.ink, 255)
        out[~filled] = 0
        return out


def _enclosed(empty: np.ndarray) -> np.ndarray:
    """Empty pixels not 4-connected to the border: gaps the sprite encloses."""
    reach = np.zeros_like(empty)
    reach[0], reach[-1], reach[:, 0], reach[:, -1] = empty[0], empty[-1], empty[:, 0], empty[:, -1]
    while True:
        grown = reach.copy()
        for d in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            grown |= _shifted(reach.astype(np.int8), *d, fill=0).astype(bool)
        grown &= empty
        if np.array_equal(grown, reach):
            return empty & ~reach
        reach = grown
