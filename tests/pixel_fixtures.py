"""Known pixel art and its fake-pixel renders, generated deterministically (no binary fixtures).

Shared by the pixel-stage tests and ``benchmarks/bench_pixelate.py``. A fixture is a sprite drawn at
logical size with colours from a palette (the ground truth, RGBA), then rendered the way a diffusion
model draws "pixel art": upscaled, shifted off the origin, shaded per cell, blurred, drifting in
brightness, noisy and JPEG-compressed, and finally stored as PNG bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

__all__ = ["Degrade", "Fixture", "make_fixture", "make_sprite", "recovery", "render"]


@dataclass(frozen=True)
class Degrade:
    """How a logical sprite becomes a render. Offsets shift the grid by up to half a cell either way."""

    scale: int
    offset: tuple[int, int] = (0, 0)
    blur: float | None = None  # Gaussian radius in render pixels; None: scale / 8
    noise: float = 6.0  # per-pixel Gaussian noise (levels)
    jitter: float = 6.0  # per-cell shade jitter (levels, uniform +-)
    drift: float = 0.05  # brightness drift across the image (relative, corner to centre)
    jpeg: int | None = 85  # JPEG quality, None: no JPEG
    background: tuple[int, int, int] = (232, 228, 218)


@dataclass
class Fixture:
    name: str
    truth: np.ndarray  # (h, w, 4) uint8, alpha 0 or 255
    png: bytes
    colours: np.ndarray  # (k, 3) uint8: the colours the truth uses
    degrade: Degrade
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return self.truth.shape[1], self.truth.shape[0]

    def image(self) -> Image.Image:
        im = Image.open(io.BytesIO(self.png))
        im.load()
        return im


def _smooth_field(rng: np.random.Generator, w: int, h: int, cells: int) -> np.ndarray:
    coarse = rng.random((cells, cells)).astype(np.float32)
    im = Image.fromarray(coarse, "F").resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(im)


def make_sprite(kind: str, w: int, h: int, colours: np.ndarray, seed: int) -> np.ndarray:
    """An RGBA sprite using exactly ``colours`` (darkest first is the outline): creature, item or tile."""
    rng = np.random.default_rng(seed)
    k = len(colours)
    order = np.argsort(colours.astype(int).sum(axis=1))
    pal = colours[order]
    ys, xs = np.mgrid[0:h, 0:w]
    if kind == "tile":
        mask = np.ones((h, w), dtype=bool)
    else:
        half = (w + 1) // 2
        dx = np.abs(xs - (w - 1) / 2) / (w / 2)
        dy = np.abs(ys - (h - 1) / 2) / (h / 2)
        if kind == "item":
            dx = dx * 1.8
        blob = 1.15 - np.sqrt(dx**2 + dy**2) + 0.35 * (_smooth_field(rng, w, h, 5) - 0.5)
        mask = blob > 0.3
        mask = np.concatenate([mask[:, :half], mask[:, :half][:, ::-1][:, w % 2 :]], axis=1)
        margin = max(1, min(w, h) // 12)
        mask[:margin], mask[-margin:], mask[:, :margin], mask[:, -margin:] = False, False, False, False
    # Shading: a smooth field quantized into the non-outline colours, plus single-pixel accents.
    shade = _smooth_field(rng, w, h, max(3, min(w, h) // 6)) * 0.7 + 0.3 * (1 - (xs + ys) / (w + h))
    levels = np.quantile(shade[mask], np.linspace(0, 1, k)[1:-1]) if k > 2 else np.array([])
    idx = 1 + np.digitize(shade, levels) if k > 1 else np.zeros((h, w), dtype=int)
    accents = mask & (rng.random((h, w)) < 0.02)
    idx[accents] = rng.integers(1, k, size=int(accents.sum())) if k > 1 else 0
    if kind != "tile":
        padded = np.pad(mask, 1)
        interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
        idx[mask & ~interior] = 0
    else:
        idx[rng.random((h, w)) < 0.08] = 0  # dark specks
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    rgba[..., :3] = pal[np.clip(idx, 0, k - 1)]
    rgba[..., 3] = np.where(mask, 255, 0)
    rgba[~mask, :3] = 0
    return rgba


def render(truth: np.ndarray, d: Degrade, seed: int) -> Image.Image:
    """The fake-pixel RGB render of an RGBA ``truth`` sprite under degradation ``d``."""
    rng = np.random.default_rng(seed)
    h, w = truth.shape[:2]
    s = d.scale
    art = np.where(truth[..., 3:] > 0, truth[..., :3], np.array(d.background, dtype=np.uint8)).astype(np.float32)
    art += rng.uniform(-d.jitter, d.jitter, size=(h, w, 1)) + rng.uniform(-d.jitter / 2, d.jitter / 2, size=(h, w, 3))
    big = np.repeat(np.repeat(np.clip(art, 0, 255).astype(np.uint8), s, axis=0), s, axis=1)
    ox, oy = d.offset
    shifted = np.empty_like(big)
    shifted[:] = np.array(d.background, dtype=np.uint8)
    H, W = big.shape[:2]
    shifted[max(oy, 0) : H + min(oy, 0), max(ox, 0) : W + min(ox, 0)] = big[
        max(-oy, 0) : H - max(oy, 0), max(-ox, 0) : W - max(ox, 0)
    ]
    im = Image.fromarray(shifted, "RGB")
    radius = s / 8 if d.blur is None else d.blur
    if radius > 0:
        im = im.filter(ImageFilter.GaussianBlur(radius=radius))
    arr = np.asarray(im).astype(np.float32)
    if d.drift:
        gx, gy = rng.uniform(-1, 1, size=2)
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        field = 1 + d.drift * (gx * (xx / W - 0.5) + gy * (yy / H - 0.5)) * 2
        arr *= field[..., None]
    if d.noise:
        arr += rng.normal(0, d.noise, size=arr.shape).astype(np.float32)
    im = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")
    if d.jpeg is not None:
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=d.jpeg)
        im = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return im


def make_fixture(name: str, kind: str, size: tuple[int, int], colours: np.ndarray, d: Degrade, seed: int) -> Fixture:
    """A sprite of ``kind`` at ``size`` using ``colours``, rendered under ``d``, stored as PNG bytes."""
    truth = make_sprite(kind, size[0], size[1], np.asarray(colours, dtype=np.uint8), seed)
    buf = io.BytesIO()
    render(truth, d, seed + 1).save(buf, format="PNG", compress_level=6)
    used = np.unique(truth[truth[..., 3] > 0][:, :3], axis=0)
    return Fixture(name=name, truth=truth, png=buf.getvalue(), colours=used, degrade=d)


def recovery(truth: np.ndarray, out: np.ndarray, palette: np.ndarray | None = None) -> float:
    """Share of pixels recovered: same alpha, and (opaque) the same colour.

    With ``palette`` (adaptive runs), a pixel's expected colour is the palette entry nearest (OKLab) to its
    true colour, so a palette of N colours is judged on its own terms. ``out`` is (h, w, 4) uint8.
    """
    from pipeline.core.pixelate.color import nearest_palette_index

    t_alpha = truth[..., 3] > 127
    o_alpha = out[..., 3] > 127
    expected = truth[..., :3]
    if palette is not None and len(palette):
        expected = np.asarray(palette, dtype=np.uint8)[nearest_palette_index(expected, palette)]
    same = (t_alpha == o_alpha) & (~t_alpha | (expected == out[..., :3]).all(axis=2))
    return float(same.mean())
