"""Colour maths: sRGB <-> OKLab, nearest palette entry in OKLab."""

from __future__ import annotations

import numpy as np

__all__ = ["hex_to_rgb", "nearest_palette_index", "oklab_distance", "oklab_to_srgb", "rgb_to_hex", "srgb_to_oklab"]

# Björn Ottosson's OKLab matrices (linear sRGB -> LMS, cube-rooted LMS -> Lab) and their inverses.
_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ],
    dtype=np.float32,
)
_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ],
    dtype=np.float32,
)
_M1_INV = np.linalg.inv(_M1.astype(np.float64)).astype(np.float32)
_M2_INV = np.linalg.inv(_M2.astype(np.float64)).astype(np.float32)

_C = np.arange(256, dtype=np.float64) / 255.0
_LINEAR = np.where(_C <= 0.04045, _C / 12.92, ((_C + 0.055) / 1.055) ** 2.4).astype(np.float32)


def hex_to_rgb(colours: tuple[str, ...] | list[str]) -> np.ndarray:
    """('#rrggbb', ...) -> uint8 array of shape (n, 3)."""
    return np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colours], dtype=np.uint8).reshape(-1, 3)


def rgb_to_hex(rgb: np.ndarray) -> list[str]:
    return [f"#{int(r):02x}{int(g):02x}{int(b):02x}" for r, g, b in np.asarray(rgb).reshape(-1, 3)]


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) sRGB -> float32 (..., 3) OKLab."""
    lin = _LINEAR[np.asarray(rgb, dtype=np.uint8)]
    return np.cbrt(lin @ _M1.T) @ _M2.T


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """float (..., 3) OKLab -> uint8 (..., 3) sRGB (clipped to the gamut)."""
    lin = (np.asarray(lab, dtype=np.float32) @ _M2_INV.T) ** 3 @ _M1_INV.T
    lin = np.clip(lin, 0.0, 1.0)
    c = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(c * 255 + 0.5, 0, 255).astype(np.uint8)


def oklab_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean OKLab distance between uint8 sRGB colours (broadcasting)."""
    return np.linalg.norm(srgb_to_oklab(a) - srgb_to_oklab(b), axis=-1)


def nearest_palette_index(rgb: np.ndarray, palette_rgb: np.ndarray, lab: np.ndarray | None = None) -> np.ndarray:
    """Index of the perceptually nearest palette colour (OKLab distance) for each pixel of ``rgb``.

    ``lab`` may pass the pixels already converted to OKLab (same leading shape as ``rgb``).
    """
    shape = np.asarray(rgb).shape[:-1]
    pts = (srgb_to_oklab(rgb) if lab is None else np.asarray(lab, dtype=np.float32)).reshape(-1, 3)
    pal = srgb_to_oklab(np.asarray(palette_rgb, dtype=np.uint8).reshape(-1, 3))
    # |p - q|^2 = |p|^2 - 2 p.q + |q|^2; |p|^2 does not change the argmin.
    score = (pal * pal).sum(axis=1)[None, :] - 2.0 * (pts @ pal.T)
    return score.argmin(axis=1).reshape(shape)
