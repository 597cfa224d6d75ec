"""Pixel stage: a high-resolution render -> true pixel art (pure functions, no Dagster import).

Public API (stable; the Dagster asset, the CLI and the MCP server call only this):

    PixelParams     what the stage is asked for (logical size, palette, alpha options)
    PixelResult     frames at logical size (RGBA), the palette used, metadata of every decision
    pixelate_frames(frames, params) -> PixelResult
    pixelate_sheet(render, params, frames, columns) -> PixelResult   one render of a whole sheet, sliced
    frame_consistency(frames) -> dict      do animation frames belong together (unchanged pixels, palette)
    detect_grid(array, cells) -> Grid      the fake-pixel grid of one render (pitch, lines, confidence)

Modules: pitch (free pitch from the edge spectrum, per-line positions), grid (the canvas grid, the size
as a prior, confidence, blur), cells (one robust colour per cell), background (a smooth background
field, holes), window (the sprite's cells in the canvas grid), color (OKLab), palettes (named, files),
sheet (the frames of a sheet render), consistency (frame to frame),
drift (brightness drift against a fixed palette), quantize (adaptive palettes), dither (palette
mapping), alpha (flood fill, key colour, orphans, outline), core (the stage), params (its parameters
and result). See docs/pixelate.md.
"""

from pipeline.core.pixelate.consistency import frame_consistency
from pipeline.core.pixelate.core import pixelate_frames, pixelate_sheet, render_array
from pipeline.core.pixelate.grid import Grid, detect_grid
from pipeline.core.pixelate.palettes import NAMED_PALETTES
from pipeline.core.pixelate.params import PixelParams, PixelResult

__all__ = [
    "NAMED_PALETTES",
    "Grid",
    "PixelParams",
    "PixelResult",
    "detect_grid",
    "frame_consistency",
    "pixelate_frames",
    "pixelate_sheet",
    "render_array",
]
