"""Colour maths: sRGB <-> OKLab, nearest palette entry in OKLab."""

from __future__ import annotations

import numpy as np

__all__ = ["hex_to_rgb", "nearest_palette_index", "rgb_to_hex", "srgb_to_oklab"]


def hex_to_rgb(colours: tuple[str, ...] | list[str]) -> np.ndarray:
    """('#rrggbb', ...) -> uint8 array of shape (n, 3)."""
    return np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colours], dtype=np.uint8)


def rgb_to_hex(rgb: np.ndarray) -> list[str]:
    return [f"#{int(r):02x}{int(g):02x}{int(b):02x}" for r, g, b in np.asarray(rgb).reshape(-1, 3)]


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) sRGB -> float32 (..., 3) OKLab (Björn Ottosson's matrices)."""
    c = np.asarray(rgb, dtype=np.float32) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m1 = np.array(
        [
            [0.4122214708, 0.5363325363, 0.0514459929],
            [0.2119034982, 0.6806995451, 0.1073969566],
            [0.0883024619, 0.2817188376, 0.6299787005],
        ],
        dtype=np.float32,
    )
    m2 = np.array(
        [
            [0.2104542553, 0.7936177850, -0.0040720468],
            [1.9779984951, -2.4285922050, 0.4505937099],
            [0.0259040371, 0.7827717662, -0.8086757660],
        ],
        dtype=np.float32,
    )
    lms = np.cbrt(lin @ m1.T)
    return lms @ m2.T


def nearest_palette_index(rgb: np.ndarray, palette_rgb: np.ndarray) -> np.ndarray:
    """Index of the perceptually nearest palette colour (OKLab distance) for each pixel of ``rgb``."""
    flat = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3)
    lab = srgb_to_oklab(flat)
    pal = srgb_to_oklab(palette_rgb)
    d = ((lab[:, None, :] - pal[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1).reshape(np.asarray(rgb).shape[:-1])
