"""Bevy export stage (no Dagster import): PNG + .meta, the manifest, .assets.ron, atomic writes."""

from pipeline.core.export.atomic import atomic_write, safe_target
from pipeline.core.export.bevy import IMAGE_META, encode_png, encode_sheet, write_sprite_files
from pipeline.core.export.manifest import (
    ASSETS_RON_PATH,
    MANIFEST_PATH,
    AtlasLayout,
    Manifest,
    ManifestEntry,
    PaletteInfo,
    render_assets_ron,
    write_manifest,
)

__all__ = [
    "ASSETS_RON_PATH",
    "IMAGE_META",
    "MANIFEST_PATH",
    "AtlasLayout",
    "Manifest",
    "ManifestEntry",
    "PaletteInfo",
    "atomic_write",
    "encode_png",
    "encode_sheet",
    "render_assets_ron",
    "safe_target",
    "write_manifest",
    "write_sprite_files",
]
