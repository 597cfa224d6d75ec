"""The embedded ``procedural`` backend: deterministic sprite renders with no GPU and no network.

It is honest about what it is: it does not understand prompts. It draws a sprite procedurally at the
logical size (a silhouette by category, colours from words in the prompt, variation from the seed),
then renders it the way a diffusion model draws "pixel art": upscaled to the render resolution with
soft edges, colour noise and a flat background, so the pixel stage has real work to do. Same request,
same bytes, on every machine.
"""

from __future__ import annotations

import colorsys
import io
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageFilter

from pipeline.generate.base import (
    Backend,
    GenerationRequest,
    GenerationResult,
    ProgressFn,
    canonical_json,
    sha256_hex,
)
from pipeline.versions import PROCEDURAL_VERSION

if TYPE_CHECKING:
    from pipeline.settings import Settings
    from pipeline.specs.model import SpriteSpec

__all__ = ["PROCEDURAL_RENDER_SCALE", "ProceduralBackend", "draw_sprite", "render_frame"]

PROCEDURAL_RENDER_SCALE = 8  # render px per sprite px when the spec sets no generation.render_scale

# Words that steer the base hue (degrees). First match in the prompt wins.
_HUES = {
    "fire": 15,
    "flame": 15,
    "lava": 10,
    "red": 0,
    "blood": 355,
    "orange": 30,
    "gold": 45,
    "golden": 45,
    "yellow": 55,
    "lightning": 55,
    "green": 120,
    "poison": 100,
    "slime": 110,
    "forest": 130,
    "leaf": 110,
    "ice": 190,
    "frost": 190,
    "water": 200,
    "blue": 220,
    "sky": 205,
    "ocean": 210,
    "purple": 275,
    "magic": 280,
    "arcane": 265,
    "shadow": 260,
    "pink": 320,
    "crystal": 300,
    "stone": 30,
    "wood": 28,
    "skeleton": 45,
    "bone": 45,
    "ghost": 180,
}
_DESATURATED = ("stone", "skeleton", "bone", "ghost", "iron", "steel", "grey", "gray", "silver")


def _palette_for(prompt: str, rng: np.random.Generator) -> dict[str, tuple[int, int, int]]:
    words = prompt.lower().replace(",", " ").split()
    hue = next((_HUES[w] for w in words if w in _HUES), float(rng.integers(0, 360)))
    sat = 0.25 if any(w in _DESATURATED for w in words) else 0.75
    accent_hue = (hue + 150 + float(rng.integers(-20, 20))) % 360

    def c(h: float, s: float, v: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hsv_to_rgb(h / 360, s, v)
        return (round(r * 255), round(g * 255), round(b * 255))

    return {
        "outline": c(hue, min(1.0, sat + 0.2), 0.18),
        "dark": c(hue, sat, 0.45),
        "base": c(hue, sat, 0.72),
        "light": c(hue, sat * 0.6, 0.95),
        "accent": c(accent_hue, 0.8, 0.9),
        "background": c((hue + 180) % 360, 0.08, 0.93),
    }


def _symmetric_mask(rng: np.random.Generator, w: int, h: int, fill: float, taper: str) -> np.ndarray:
    """A left-right symmetric blob: random cells kept with a probability that falls off from the centre."""
    half = (w + 1) // 2
    ys, xs = np.mgrid[0:h, 0:half]
    cx = (half - 1) if w % 2 else half - 0.5
    dx = (cx - xs) / max(cx, 1)
    dy = (ys - (h - 1) / 2) / ((h - 1) / 2)
    if taper == "humanoid":  # narrow head on top, wider body, legs
        width_at = np.where(ys < h * 0.35, 0.45, np.where(ys < h * 0.75, 0.8, 0.55))
        p = np.clip(1.2 - np.abs(dx) / width_at, 0, 1) * (np.abs(dy) < 0.92)
    elif taper == "round":
        p = np.clip(1.25 - np.sqrt(dx**2 + dy**2), 0, 1)
    else:  # tall object (items, props)
        p = np.clip(1.1 - np.abs(dx) * 1.6 - np.abs(dy) * 0.3, 0, 1)
    half_mask = rng.random((h, half)) < p * fill + (p > 0.75)
    mask = np.concatenate([half_mask, half_mask[:, ::-1][:, (w % 2) :]], axis=1)
    margin = max(1, min(w, h) // 10)
    mask[:margin], mask[-margin:], mask[:, :margin], mask[:, -margin:] = False, False, False, False
    return mask


def _shade(mask: np.ndarray, pal: dict[str, tuple[int, int, int]], rng: np.random.Generator) -> np.ndarray:
    """Colour a mask: outline, dark lower-right, light upper-left, a few accent pixels."""
    h, w = mask.shape
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[:] = pal["background"]
    img[mask] = pal["base"]
    ys, xs = np.mgrid[0:h, 0:w]
    light = mask & ((xs + ys) < (w + h) * 0.42)
    dark = mask & ((xs + ys) > (w + h) * 0.62)
    img[light] = pal["light"]
    img[dark] = pal["dark"]
    accent = mask & (rng.random((h, w)) < 0.06)
    img[accent | accent[:, ::-1]] = pal["accent"]
    padded = np.pad(mask, 1)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    img[mask & ~interior] = pal["outline"]
    return img


def draw_sprite(category: str, prompt: str, w: int, h: int, seed: int, frame: int, frames: int) -> np.ndarray:
    """The logical-size sprite (h, w, 3 uint8) for one animation frame. Deterministic."""
    rng = np.random.default_rng([seed, w, h, *canonical_json(prompt)[:64]])
    pal = _palette_for(prompt, rng)
    phase = 2 * np.pi * frame / max(frames, 1)
    if category == "tile":  # fills the whole cell: a textured, seamless-ish block
        base = rng.random((h, w))
        shimmer = 0.08 * np.sin(phase + np.arange(w)[None, :] / 3)
        levels = np.digitize(base + shimmer, [0.25, 0.7, 0.92])
        names = ["dark", "base", "light", "accent"]
        return np.array([pal[names[i]] for i in levels.ravel()], dtype=np.uint8).reshape(h, w, 3)
    if category == "ui":
        img = np.zeros((h, w, 3), dtype=np.uint8)
        img[:] = pal["background"]
        m = max(1, min(w, h) // 8)
        img[m:-m, m:-m] = pal["outline"]
        img[m + 1 : -m - 1, m + 1 : -m - 1] = pal["base"]
        img[m + 1 : m + 2, m + 1 : -m - 1] = pal["light"]
        glow = int(abs(np.sin(phase)) * 2)
        img[h // 2 - 1 - glow : h // 2 + 1 + glow, w // 2 - 1 : w // 2 + 1] = pal["accent"]
        return img
    if category == "effect":
        ys, xs = np.mgrid[0:h, 0:w]
        r = np.hypot(xs - (w - 1) / 2, ys - (h - 1) / 2) / (min(w, h) / 2)
        angle = np.arctan2(ys - (h - 1) / 2, xs - (w - 1) / 2)
        spikes = 0.55 + 0.25 * np.cos(angle * int(rng.integers(4, 9)) + phase) + 0.1 * np.sin(phase)
        img = np.zeros((h, w, 3), dtype=np.uint8)
        img[:] = pal["background"]
        img[r < spikes] = pal["base"]
        img[r < spikes * 0.6] = pal["light"]
        img[r < spikes * 0.25] = pal["accent"]
        return img
    taper = {"character": "humanoid", "enemy": "round"}.get(category, "tall")
    mask = _symmetric_mask(rng, w, h, fill=0.55, taper=taper)
    img = _shade(mask, pal, rng)
    bob = round(np.sin(phase) * max(1, h // 16)) if frames > 1 else 0
    if bob:
        img = np.roll(img, bob, axis=0)
        fill = img[0:1] if bob > 0 else img[-1:]
        fill[:] = pal["background"]
    return img


def render_frame(sprite: np.ndarray, scale: int, seed: int) -> Image.Image:
    """Upscale a logical sprite like a diffusion model draws pixel art: soft edges and colour noise."""
    h, w = sprite.shape[:2]
    big = Image.fromarray(sprite, "RGB").resize((w * scale, h * scale), Image.Resampling.NEAREST)
    if scale >= 4:
        big = big.filter(ImageFilter.GaussianBlur(radius=scale / 8))
    rng = np.random.default_rng([seed, w, h, scale])
    arr = np.asarray(big).astype(np.int16)
    arr += rng.normal(0, 5, size=arr.shape).round().astype(np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


class ProceduralBackend(Backend):
    """Embedded, deterministic renderer. No GPU, no network; ignores ComfyUI-only settings."""

    kind = "procedural"
    remote = False
    version = PROCEDURAL_VERSION

    def resolve(self, spec: SpriteSpec, settings: Settings) -> GenerationRequest:
        payload: dict[str, Any] = {
            "category": spec.category,
            "prompt": spec.prompt,
            "seed": spec.effective_seed,
            "size": [spec.size.width, spec.size.height],
            "render_scale": spec.generation.render_scale or PROCEDURAL_RENDER_SCALE,
        }
        scale = payload["render_scale"]
        return GenerationRequest(
            sprite=spec.name,
            backend=self.kind,
            backend_version=self.version,
            payload=payload,
            frames=spec.animation.frames,
            width=spec.size.width * scale,
            height=spec.size.height * scale,
        )

    def generate(
        self,
        request: GenerationRequest,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        p = request.payload
        w, h = p["size"]
        seed = int(sha256_hex(canonical_json(p))[:8], 16)
        frames: list[bytes] = []
        for i in range(request.frames):
            if cancel is not None and cancel.is_set():
                from pipeline.errors import GenerationCancelled

                raise GenerationCancelled(f"{request.sprite}: cancelled before frame {i + 1}")
            sprite = draw_sprite(p["category"], p["prompt"], w, h, seed, i, request.frames)
            img = render_frame(sprite, p["render_scale"], seed + i)
            buf = io.BytesIO()
            img.save(buf, format="PNG", compress_level=1)
            frames.append(buf.getvalue())
            if progress:
                progress((i + 1) / request.frames, f"frame {i + 1}/{request.frames}")
        return GenerationResult(frames=frames, info={"backend": self.kind})
