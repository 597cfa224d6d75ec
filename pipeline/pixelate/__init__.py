"""Pixel stage: a high-resolution render -> true pixel art (pure functions, no Dagster import).

Public API (stable; the Dagster asset, the CLI and the MCP server call only this):

    PixelParams     what the stage is asked for (logical size, palette, alpha options)
    PixelResult     frames at logical size (RGBA), the palette used, metadata of every decision
    pixelate_frames(frames, params) -> PixelResult
"""

from pipeline.pixelate.core import PixelParams, PixelResult, pixelate_frames
from pipeline.pixelate.palettes import NAMED_PALETTES

__all__ = ["NAMED_PALETTES", "PixelParams", "PixelResult", "pixelate_frames"]
