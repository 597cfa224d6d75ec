"""Bevy export: path safety, atomic writes, the .meta file, the manifest and .assets.ron."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from pipeline.core.export import (
    IMAGE_META,
    AtlasLayout,
    ManifestEntry,
    PaletteInfo,
    atomic_write,
    encode_sheet,
    render_assets_ron,
    safe_target,
    write_manifest,
    write_sprite_files,
)
from pipeline.errors import ExportError, UnsafePathError


@pytest.mark.parametrize(
    "relative", ["../x.png", "a/../../x.png", "/etc/passwd", "C:/x.png", "a//b.png", "./a.png", "a/./b.png"]
)
def test_safe_target_refuses_escapes(tmp_path: Path, relative: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_target(tmp_path, relative)


def test_safe_target_refuses_symlinked_folders(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "assets"
    root.mkdir()
    os.symlink(outside, root / "sprites")
    with pytest.raises(UnsafePathError, match="symlink"):
        safe_target(root, "sprites/x.png")
    assert safe_target(root, "other/x.png") == root / "other" / "x.png"


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "assets" / "a" / "x.png"
    scratch = tmp_path / "scratch"
    atomic_write(target, b"old", scratch)
    atomic_write(target, b"new bytes", scratch)
    assert target.read_bytes() == b"new bytes"
    assert list(scratch.iterdir()) == []
    assert [p.name for p in target.parent.iterdir()] == ["x.png"]


def test_a_batch_replaces_nothing_until_every_file_is_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while a batch is being prepared leaves every target as it was and no scratch file."""
    import pipeline.core.export.atomic as atomic

    scratch = tmp_path / "scratch"
    a, b = tmp_path / "a.png", tmp_path / "manifest.json"
    atomic_write(a, b"old a", scratch)
    atomic_write(b, b"old b", scratch)
    real = atomic._write_temp

    def failing(directory: Path, name: str, data: bytes) -> Path:
        if name == "manifest.json":
            raise OSError(28, "No space left on device")
        return real(directory, name, data)

    monkeypatch.setattr(atomic, "_write_temp", failing)
    batch = atomic.AtomicBatch(scratch)
    batch.add(a, b"new a")
    with pytest.raises(ExportError, match="No space left"):
        batch.add(b, b"new b")
    assert (a.read_bytes(), b.read_bytes()) == (b"old a", b"old b")
    assert list(scratch.iterdir()) == []
    monkeypatch.setattr(atomic, "_write_temp", real)
    batch = atomic.AtomicBatch(scratch)
    batch.add(a, b"new a")
    batch.add(b, b"new b")
    assert a.read_bytes() == b"old a"  # prepared, not yet in place
    batch.commit()
    assert (a.read_bytes(), b.read_bytes()) == (b"new a", b"new b")
    assert list(scratch.iterdir()) == []


def test_a_replaced_png_waits_for_its_manifest_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-exporting a sprite with other bytes: when its manifest line cannot be written, the PNG keeps its
    old bytes too (the manifest never describes bytes its file no longer holds); then both move at once."""
    import hashlib

    import pipeline.core.export.atomic as atomic
    from tests.test_build_state_property import World, build, keyed_stages

    world = World(tmp_path / "game", tmp_path / "cache")
    s = world.settings
    build(s, keyed_stages)
    png = s.assets_dir / "sprites/item/ant.png"
    manifest = s.assets_dir / "sprites/manifest.json"

    def listed_sha() -> str:
        return next(e["sha256"] for e in json.loads(manifest.read_text())["sprites"] if e["name"] == "ant")

    old = png.read_bytes()
    assert hashlib.sha256(old).hexdigest() == listed_sha()
    world.apply(("set", "ant", "palette", 2))
    real = atomic._write_temp

    def no_manifest(directory: Path, name: str, data: bytes) -> Path:
        if name == "manifest.json":
            raise OSError(28, "No space left on device")
        return real(directory, name, data)

    monkeypatch.setattr(atomic, "_write_temp", no_manifest)
    with pytest.raises(ExportError, match="No space left"):
        build(s, keyed_stages)
    assert png.read_bytes() == old and hashlib.sha256(old).hexdigest() == listed_sha()
    assert [p for p in s.assets_dir.rglob("*") if p.name.endswith(".tmp")] == []
    monkeypatch.setattr(atomic, "_write_temp", real)
    build(s, keyed_stages)
    assert png.read_bytes() != old and hashlib.sha256(png.read_bytes()).hexdigest() == listed_sha()


def test_meta_is_written_first_and_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    assets, scratch = tmp_path / "assets", tmp_path / "scratch"
    png, meta = write_sprite_files(assets, "sprites/a.png", b"\x89PNG-data", scratch)
    assert png.written and meta.written
    assert (assets / "sprites/a.png.meta").read_text() == IMAGE_META
    assert "mag_filter: Nearest" in IMAGE_META and "min_filter: Nearest" in IMAGE_META
    assert 'loader: "bevy_image::image_loader::ImageLoader"' in IMAGE_META
    mtime = (assets / "sprites/a.png").stat().st_mtime_ns
    png2, meta2 = write_sprite_files(assets, "sprites/a.png", b"\x89PNG-data", scratch)
    assert not png2.written and not meta2.written
    assert (assets / "sprites/a.png").stat().st_mtime_ns == mtime


def test_sheet_layout_is_row_major() -> None:
    frames = [Image.new("RGBA", (4, 3), (i * 40, 0, 0, 255)) for i in range(5)]
    sheet = encode_sheet(frames, columns=2)
    assert sheet.size == (8, 9)
    assert sheet.getpixel((4, 0))[0] == 40 and sheet.getpixel((0, 3))[0] == 80 and sheet.getpixel((0, 6))[0] == 160
    assert sheet.getpixel((4, 6)) == (0, 0, 0, 0)  # the unused cell stays transparent


def _entry(name: str, frames: int = 1) -> ManifestEntry:
    return ManifestEntry(
        name=name,
        path=f"sprites/item/{name}.png",
        category="item",
        frames=frames,
        resolution=[16, 16],
        prompt="p",
        workflow="procedural",
        negative_prompt="",
        fps=8.0,
        atlas=AtlasLayout(tile_width=16, tile_height=16, columns=frames, rows=1),
        palette=PaletteInfo(kind="named", name="pico-8", colors=["#000000"]),
        seed=1,
        backend="procedural",
        input_hash="k" * 64,
        sha256="s" * 64,
    )


def test_manifest_is_sorted_versioned_and_only_rewritten_on_change(tmp_path: Path) -> None:
    assets, scratch = tmp_path / "assets", tmp_path / "scratch"
    _, changed = write_manifest(assets, scratch, [_entry("b"), _entry("a", frames=4)])
    assert changed
    data = json.loads((assets / "sprites/manifest.json").read_text())
    assert data["version"] == "1.0" and data["sprite_count"] == 2
    assert [s["name"] for s in data["sprites"]] == ["a", "b"]
    # the fields the DGX-Pixels Bevy example's loader reads
    for key in ("name", "path", "category", "frames", "resolution", "prompt", "workflow"):
        assert key in data["sprites"][0]
    before = (assets / "sprites/manifest.json").stat().st_mtime_ns
    _, changed = write_manifest(assets, scratch, [_entry("a", frames=4), _entry("b")])
    assert not changed and (assets / "sprites/manifest.json").stat().st_mtime_ns == before


def test_manifest_timestamp_honours_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    manifest, _ = write_manifest(tmp_path / "assets", tmp_path / "s", [_entry("a")])
    assert manifest.generated_at == "2023-11-14T22:13:20Z"


def test_assets_ron_has_an_image_per_sprite_and_a_layout_per_sheet() -> None:
    ron = render_assets_ron([_entry("coin"), _entry("slime", frames=4)])
    assert '"coin": Image(path: "sprites/item/coin.png", sampler: Nearest),' in ron
    assert '"slime.layout": TextureAtlasLayout(tile_size_x: 16, tile_size_y: 16, columns: 4, rows: 1),' in ron
    assert "coin.layout" not in ron
    assert ron.startswith("({") and ron.rstrip().endswith("})")
