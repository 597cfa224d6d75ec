"""The embedded ``procedural`` backend: deterministic sprite renders with no GPU and no network.

It is honest about what it is: it does not understand prompts. It draws a sprite procedurally at the
logical size (a subject named by a word of the prompt, else chosen by category; colours from words in
the prompt; details from the seed: ``pipeline.core.generate.art``), then renders it the way a diffusion
model draws "pixel art": upscaled to the render resolution on a flat background, with soft edges and
colour noise, so the pixel stage has real work to do. Animation frames are made the way each
``animation.method`` makes them on a model (``pipeline.core.generate.frames``): one sheet render, a chain of
perturbations, or independent samples. Same request, same bytes, on every machine.
"""

from __future__ import annotations

import colorsys
import io
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageFilter

from pipeline.core.generate.art import draw
from pipeline.core.generate.base import (
    Backend,
    GenerationRequest,
    GenerationResult,
    ProgressFn,
    canonical_json,
    sha256_hex,
)
from pipeline.core.generate.frames import batch_seed, compose_sheet, img2img_step, sheet_geometry, vary
from pipeline.core.versions import PROCEDURAL_VERSION

if TYPE_CHECKING:
    from pipeline.core.specs.model import SpriteSpec
    from pipeline.settings import Settings

__all__ = ["PROCEDURAL_RENDER_SCALE", "ProceduralBackend", "background_for", "draw_sprite", "render_frame"]

PROCEDURAL_RENDER_SCALE = 8  # render px per sprite px when the spec sets no generation.render_scale


def draw_sprite(category: str, prompt: str, w: int, h: int, seed: int, frame: int, frames: int) -> np.ndarray:
    """The logical-size sprite (h, w, 4 uint8 RGBA) for one animation frame. Deterministic.

    What it draws is chosen from the prompt's words (``pipeline.core.generate.art``); ``seed`` varies details,
    so two sprites with one seed and one subject (a knight and its walk cycle) are the same character.
    """
    return draw(category, prompt, w, h, seed, frame, frames)


def background_for(seed: int) -> tuple[int, int, int]:
    """The flat, light, slightly tinted background a render sits on (the pixel stage removes it)."""
    hue = (seed % 360) / 360
    r, g, b = colorsys.hsv_to_rgb(hue, 0.07, 0.94)
    return (round(r * 255), round(g * 255), round(b * 255))


def render_frame(
    sprite: np.ndarray, scale: int, seed: int, background: tuple[int, int, int] | None = None
) -> Image.Image:
    """Upscale a logical sprite like a diffusion model draws pixel art: on a flat background, with soft
    edges and grain. ``sprite`` is RGB, or RGBA whose transparent pixels become ``background``.

    The grain is noise with no mean over any fake pixel (each cell's noise is point-symmetric about its
    centre, negated): it breaks every flat area into hundreds of colours without shifting a cell's
    colour, so the pixel stage recovers the drawing exactly, whatever the palette. (Cells that *are*
    off colour, drift and JPEG are what ``benchmarks/bench_pixelate.py`` measures.)
    """
    h, w = sprite.shape[:2]
    if sprite.shape[2] == 4:
        flat = np.empty((h, w, 3), dtype=np.uint8)
        flat[:] = background or background_for(seed)
        opaque = sprite[..., 3] >= 128
        flat[opaque] = sprite[..., :3][opaque]
        sprite = flat
    big = Image.fromarray(sprite, "RGB").resize((w * scale, h * scale), Image.Resampling.NEAREST)
    if scale >= 4:
        big = big.filter(ImageFilter.GaussianBlur(radius=scale / 8))
    rng = np.random.default_rng([seed, w, h, scale])
    grain = rng.normal(0, 4, size=(h, scale, w, scale, 3)).round().astype(np.int16)
    grain = (grain - grain[:, ::-1, :, ::-1]).reshape(h * scale, w * scale, 3)  # sums to zero in a cell
    base = np.asarray(big).astype(np.int16)
    room = np.minimum(base, 255 - base)  # no clipping at black or white: that would shift the mean
    return Image.fromarray((base + np.clip(grain, -room, room)).astype(np.uint8), "RGB")


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
        anim = spec.animation
        width, height, renders = spec.size.width, spec.size.height, anim.frames
        if anim.frames > 1:
            payload["animation"] = {"method": anim.method}
            if anim.method == "sheet":
                payload["animation"].update(frames=anim.frames, columns=anim.sheet_columns)
                width, height, _, _ = sheet_geometry(width, height, anim.frames, anim.sheet_columns)
                renders = 1
            elif anim.method == "img2img":
                payload["animation"]["denoise"] = anim.denoise
        return GenerationRequest(
            sprite=spec.name,
            backend=self.kind,
            backend_version=self.version,
            payload=payload,
            frames=renders,
            width=width * scale,
            height=height * scale,
        )

    def generate(
        self,
        request: GenerationRequest,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        p = request.payload
        noise_seed = int(sha256_hex(canonical_json(p))[:8], 16)
        sprites = _logical_frames(p, request.frames, request.sprite, cancel)
        frames: list[bytes] = []
        for i, sprite in enumerate(sprites):
            img = render_frame(sprite, p["render_scale"], noise_seed + i, background_for(noise_seed))
            buf = io.BytesIO()
            img.save(buf, format="PNG", compress_level=1)
            frames.append(buf.getvalue())
            if progress:
                progress((i + 1) / len(sprites), f"render {i + 1}/{len(sprites)}")
        info: dict[str, Any] = {"backend": self.kind}
        if "animation" in p:
            info["frame_method"] = p["animation"]["method"]
        return GenerationResult(frames=frames, info=info)


def _logical_frames(p: dict[str, Any], renders: int, sprite: str, cancel: threading.Event | None) -> list[np.ndarray]:
    """The logical-size images to render: one per frame, or one sheet of them (``animation.method``)."""
    w, h = p["size"]
    anim = p.get("animation") or {"method": "still"}
    method = anim["method"]
    count = anim["frames"] if method == "sheet" else renders
    out: list[np.ndarray] = []
    for i in range(count):
        if cancel is not None and cancel.is_set():
            from pipeline.errors import GenerationCancelled

            raise GenerationCancelled(f"{sprite}: cancelled before frame {i + 1}")
        if method == "batch":
            seed = batch_seed(p["seed"], i)
            drawn = draw_sprite(p["category"], p["prompt"], w, h, seed, i, count)
            out.append(vary(drawn, seed) if i else drawn)
            continue
        pose = draw_sprite(p["category"], p["prompt"], w, h, p["seed"], i, count)
        if method == "img2img" and i > 0:
            other = batch_seed(p["seed"], 1)  # one seed, so the drift is always toward the same other sample
            sample = vary(draw_sprite(p["category"], p["prompt"], w, h, other, i, count), other)
            rng = np.random.default_rng([p["seed"] & 0xFFFFFFFF, i, round(anim["denoise"] * 1000)])
            pose = img2img_step(out[-1], pose, sample, anim["denoise"], rng)
        out.append(pose)
    if method == "sheet":
        return [compose_sheet(out, anim["columns"])]
    return out
