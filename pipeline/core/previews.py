"""Previews for the Dagster UI: a sprite scaled up with nearest neighbour, as a markdown data-URI image.

Dagster 1.13's UI renders a markdown metadata value in place only when it is shorter than 1000
characters (longer ones hide behind a "[Show Markdown]" link), and renders no raw HTML, so the image
is as large a whole multiple of the sprite (or as large a thumbnail of a big render) as fits in that.
"""

from __future__ import annotations

import base64
import io

from PIL import Image

__all__ = ["INLINE_MARKDOWN_LIMIT", "preview_markdown", "upscale_nearest"]

#: the UI shows markdown metadata inline below this length (``MetadataEntry.tsx``: ``mdStr.length < 1000``)
INLINE_MARKDOWN_LIMIT = 1000


def upscale_nearest(image: Image.Image, target: int = 192) -> Image.Image:
    """Scale by the largest whole factor that keeps the longer side near ``target`` (at least 1x)."""
    factor = max(1, target // max(image.size))
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def _encoded(image: Image.Image) -> bytes:
    """The smallest of RGBA and (when the colours allow it) palette PNG encodings."""
    options = []
    for candidate in (image, _paletted(image)):
        if candidate is None:
            continue
        buf = io.BytesIO()
        candidate.save(buf, format="PNG", optimize=True)
        options.append(buf.getvalue())
    return min(options, key=len)


def _paletted(image: Image.Image) -> Image.Image | None:
    rgba = image.convert("RGBA")
    colours = rgba.getcolors(256)
    if colours is None:
        return None
    return rgba.quantize(colors=len(colours), method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)


def preview_markdown(png: bytes, alt: str, target: int = 192, limit: int = INLINE_MARKDOWN_LIMIT) -> str:
    """Markdown showing the PNG crisply upscaled (or a render downscaled), short enough to show inline."""
    image: Image.Image = Image.open(io.BytesIO(png))
    image.load()
    image = image.convert("RGBA")
    side = max(image.size)
    best = ""
    for size in sorted({s for s in (target, 160, 128, 96, 64, 48, 32, 24, 16) if s <= max(target, side)}, reverse=True):
        if side > size:  # a large render: thumbnail, quantised so that it encodes small
            shown = image.copy()
            shown.thumbnail((size, size), Image.Resampling.BOX)
            shown = shown.quantize(colors=32, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        else:
            shown = upscale_nearest(image, size)
        text = f"![{alt}](data:image/png;base64,{base64.b64encode(_encoded(shown)).decode()})"
        best = text
        if len(text) < limit:
            return text
    return best
