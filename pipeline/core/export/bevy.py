"""Bevy side of a sprite: the PNG sheet and its ``.png.meta`` (nearest sampler), written atomically.

The ``.meta`` format is Bevy's image loader settings (0.15 through 0.18 read the same shape; every
field is required). It is written *before* the PNG so that a hot reload of the PNG sees its meta.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from pipeline.core.export.atomic import atomic_write, safe_target

__all__ = ["IMAGE_META", "ExportedFile", "encode_png", "encode_sheet", "write_sprite_files"]

IMAGE_META = """(
    meta_format_version: "1.0",
    asset: Load(
        loader: "bevy_image::image_loader::ImageLoader",
        settings: (
            format: FromExtension,
            is_srgb: true,
            sampler: Descriptor(ImageSamplerDescriptor(
                label: None,
                address_mode_u: ClampToEdge,
                address_mode_v: ClampToEdge,
                address_mode_w: ClampToEdge,
                mag_filter: Nearest,
                min_filter: Nearest,
                mipmap_filter: Nearest,
                lod_min_clamp: 0.0,
                lod_max_clamp: 32.0,
                compare: None,
                anisotropy_clamp: 1,
                border_color: None,
            )),
            asset_usage: RenderAssetUsages("MAIN_WORLD | RENDER_WORLD"),
        ),
    ),
)
"""


def encode_png(image: Image.Image) -> bytes:
    """Deterministic PNG bytes (no timestamps or text chunks)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def encode_sheet(frames: Sequence[Image.Image], columns: int) -> Image.Image:
    """Lay frames out left to right, top to bottom (the TextureAtlasLayout::from_grid order)."""
    fw, fh = frames[0].size
    rows = -(-len(frames) // columns)
    sheet = Image.new("RGBA", (fw * columns, fh * rows), (0, 0, 0, 0))
    for i, frame in enumerate(frames):
        sheet.paste(frame, ((i % columns) * fw, (i // columns) * fh))
    return sheet


@dataclass(frozen=True)
class ExportedFile:
    path: Path
    sha256: str
    bytes: int
    written: bool  # False when the file already had exactly these bytes
    replaced: bool = False  # True when it overwrote a file that held other bytes


def _write_if_changed(
    target: Path, data: bytes, scratch_dir: Path, replace_later: Callable[[Path, bytes], None] | None = None
) -> ExportedFile:
    digest = hashlib.sha256(data).hexdigest()
    try:
        old: str | None = hashlib.sha256(target.read_bytes()).hexdigest()
    except OSError:
        old = None
    if old is not None and old != digest and replace_later is not None:
        replace_later(target, data)
    elif old != digest:
        atomic_write(target, data, scratch_dir)
    return ExportedFile(
        path=target, sha256=digest, bytes=len(data), written=old != digest, replaced=old not in (None, digest)
    )


def write_sprite_files(
    assets_dir: Path,
    relative_png: str,
    png: bytes,
    scratch_dir: Path,
    replace_later: Callable[[Path, bytes], None] | None = None,
) -> tuple[ExportedFile, ExportedFile]:
    """Write ``<png>.meta`` then the PNG under ``assets_dir``; untouched when the bytes are unchanged.

    ``replace_later(path, bytes)``: called instead of writing a PNG that holds other bytes now (the caller replaces
    it later, together with the manifest line that describes it); the result says ``written`` all the same."""
    png_path = safe_target(assets_dir, relative_png)
    meta_path = safe_target(assets_dir, relative_png + ".meta")
    meta = _write_if_changed(meta_path, IMAGE_META.encode(), scratch_dir)
    image = _write_if_changed(png_path, png, scratch_dir, replace_later)
    return image, meta
