"""Style presets of ``generate_sprite`` / ``generate_batch`` (the DGX-Pixels server's ``style`` argument),
each a few spec fields: words for the prompt, a palette, an outline. Arguments given explicitly win."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args

from pipeline.faces.mcp.requests import SpriteRequest

__all__ = ["STYLES", "StyleName", "StylePreset", "apply_style"]

StyleName = Literal["pixel_art", "16bit", "8bit", "retro", "game_sprite"]


@dataclass(frozen=True)
class StylePreset:
    words: str  # added to the prompt ("..., 16-bit style"): what a diffusion model reads
    palette: str | None = None  # a named palette (the spec's ``palette``)
    outline: str | None = None  # the spec's ``pixel.outline``


STYLES: dict[str, StylePreset] = {
    "pixel_art": StylePreset(""),  # the project's own defaults, unchanged
    "16bit": StylePreset("16-bit", palette="db32"),
    "8bit": StylePreset("8-bit", palette="nes"),
    "retro": StylePreset("retro", palette="gameboy"),
    "game_sprite": StylePreset("game sprite", outline="#000000"),
}
assert set(STYLES) == set(get_args(StyleName))


def apply_style(request: SpriteRequest, style: str | None) -> SpriteRequest:
    """``request`` with the preset's fields where the caller left them unset."""
    if style is None:
        return request
    preset = STYLES[style]
    prompt = f"{request.prompt.strip()}, {preset.words} style" if preset.words else request.prompt
    return dataclasses.replace(
        request,
        prompt=prompt,
        palette=request.palette if request.palette is not None else preset.palette,
        outline=request.outline if request.outline is not None else preset.outline,
    )
