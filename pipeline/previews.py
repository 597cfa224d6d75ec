"""Previews for the Dagster UI: a sprite scaled up with nearest neighbour, as a markdown data-URI image."""

from __future__ import annotations

import base64
import io

from PIL import Image

__all__ = ["preview_markdown", "upscale_nearest"]


def upscale_nearest(image: Image.Image, target: int = 192) -> Image.Image:
    """Scale by the largest whole factor that keeps the longer side near ``target`` (at least 1x)."""
    factor = max(1, target // max(image.size))
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def preview_markdown(png: bytes, alt: str, target: int = 192) -> str:
    """Markdown showing the PNG (upscaled crisply, or downscaled if it is a large render)."""
    image: Image.Image = Image.open(io.BytesIO(png))
    image.load()
    if max(image.size) > target:
        image = image.copy()
        image.thumbnail((target, target), Image.Resampling.BOX)
    else:
        image = upscale_nearest(image, target)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()})"
