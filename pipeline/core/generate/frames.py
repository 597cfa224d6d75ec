"""How the procedural backend makes animation frames by each ``animation.method`` (pure numpy, deterministic).

It models what each method does on a diffusion model, so the whole path (slicing, consistency figures,
caching) is exercised without a GPU:

* ``sheet``: every frame of the animation drawn with one seed, side by side in one canvas with gutters and a
  margin, rendered as one image (as a sprite-sheet prompt or LoRA draws them);
* ``img2img``: frame 0 drawn; each next frame is the previous one moved toward the next pose. ``denoise``
  sets how much may change: at 0.5 and above every moved part follows the pose, below only a share of them
  (the rest stays as it was: too little denoise, too little motion); above 0.5 a growing share of the
  sprite is redrawn from an independent sample (too much denoise: the character drifts);
* ``batch``: each frame drawn with its own seed and varied like an independent sample of one prompt is
  (another hue for the coloured parts, placed a pixel or two elsewhere): variations, not a cycle.
"""

from __future__ import annotations

import colorsys
import hashlib

import numpy as np

__all__ = ["batch_seed", "compose_sheet", "img2img_step", "sheet_geometry", "vary"]


def sheet_geometry(width: int, height: int, frames: int, columns: int) -> tuple[int, int, int, int]:
    """(canvas width, canvas height, gutter, margin) in logical pixels of a procedural sheet."""
    gutter = max(2, min(width, height) // 8)
    margin = 2 * gutter
    rows = -(-frames // columns)
    return (
        columns * width + (columns - 1) * gutter + 2 * margin,
        rows * height + (rows - 1) * gutter + 2 * margin,
        gutter,
        margin,
    )


def compose_sheet(frames: list[np.ndarray], columns: int) -> np.ndarray:
    """The (h, w, 4) RGBA canvas holding ``frames`` (each (h, w, 4)) row-major, transparent between them."""
    h, w = frames[0].shape[:2]
    cw, ch, gutter, margin = sheet_geometry(w, h, len(frames), columns)
    canvas = np.zeros((ch, cw, 4), dtype=np.uint8)
    for i, frame in enumerate(frames):
        x = margin + (i % columns) * (w + gutter)
        y = margin + (i // columns) * (h + gutter)
        canvas[y : y + h, x : x + w] = frame
    return canvas


def batch_seed(seed: int, index: int) -> int:
    """The seed of batch sample ``index``: the spec's for the first, an unrelated one for each other."""
    if index == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}/{index}".encode()).digest()[:7], "big")


def vary(sprite: np.ndarray, seed: int) -> np.ndarray:
    """``sprite`` as another sample of the same prompt draws it: coloured parts in another hue, moved by up to
    two pixels (never out of the frame). Deterministic in ``seed``."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32, 7])
    opaque = sprite[..., 3] > 0
    out = sprite.copy()
    turn = float(rng.uniform(0.15, 0.5))
    colours = np.unique(sprite[opaque][:, :3], axis=0)
    for rgb in colours:
        hue, sat, val = colorsys.rgb_to_hsv(*(rgb / 255.0))
        if sat < 0.2:  # outline, greys and whites keep their colour
            continue
        r, g, b = colorsys.hsv_to_rgb((hue + turn) % 1.0, sat, val)
        out[opaque & np.all(sprite[..., :3] == rgb, axis=-1), :3] = (round(r * 255), round(g * 255), round(b * 255))
    rows, cols = np.flatnonzero(opaque.any(axis=1)), np.flatnonzero(opaque.any(axis=0))
    if len(rows) == 0:
        return out
    h, w = opaque.shape
    dx = int(np.clip(rng.integers(-2, 3), -cols[0], w - 1 - cols[-1]))
    dy = int(np.clip(rng.integers(-2, 3), -rows[0], h - 1 - rows[-1]))
    return np.roll(out, (dy, dx), axis=(0, 1))


def _blocks(a: np.ndarray, size: int) -> np.ndarray:
    """(rows, cols) view of ``a`` (h, w, ...) in size x size blocks: a per-block reduction helper."""
    h, w = a.shape[:2]
    ph, pw = -(-h // size) * size, -(-w // size) * size
    padded = np.zeros((ph, pw, *a.shape[2:]), dtype=a.dtype)
    padded[:h, :w] = a
    return padded.reshape(ph // size, size, pw // size, size, *a.shape[2:])


def _expand(mask: np.ndarray, size: int, shape: tuple[int, int]) -> np.ndarray:
    return np.repeat(np.repeat(mask, size, axis=0), size, axis=1)[: shape[0], : shape[1]]


def img2img_step(
    previous: np.ndarray, pose: np.ndarray, sample: np.ndarray, denoise: float, rng: np.random.Generator
) -> np.ndarray:
    """The next frame from ``previous`` (all (h, w, 4) RGBA): toward ``pose``, drifting toward ``sample``.

    Works on blocks (an eighth of the sprite) so a part moves or stays as a whole.
    """
    h, w = previous.shape[:2]
    size = max(2, min(h, w) // 8)
    follow, drift = min(1.0, 2 * denoise), max(0.0, 2 * denoise - 1)
    moved = _blocks(np.any(previous != pose, axis=-1), size).any(axis=(1, 3))
    take_pose = moved & (rng.random(moved.shape) < follow)
    redraw = rng.random(moved.shape) < drift
    out = np.where(_expand(take_pose, size, (h, w))[..., None], pose, previous)
    return np.where(_expand(redraw, size, (h, w))[..., None], sample, out)
