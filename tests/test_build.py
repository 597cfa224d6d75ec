"""Offline end-to-end builds through Dagster into a temporary Bevy folder, via the CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pipeline.core.export import IMAGE_META
from pipeline.core.pixelate.palettes import NAMED_PALETTES
from pipeline.core.specs import load_specs
from pipeline.core.specs.model import AdaptivePalette
from pipeline.faces.cli import main
from pipeline.settings import Settings
from tests.conftest import make_project

pytestmark = pytest.mark.slow


def _build(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["build", "--project-dir", str(settings.project_dir), *args])
    return result.exit_code, result.output


def _hex(rgb: tuple[int, ...]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb[:3])


def test_build_writes_what_every_spec_asks_for(project: Settings, dagster_home: Path) -> None:
    code, out = _build(project)
    assert code == 0, out
    specs = load_specs(project.specs_dir)
    assert f"{len(specs)} built, 0 up to date" in out
    manifest = json.loads((project.assets_dir / "sprites/manifest.json").read_text())
    entries = {e["name"]: e for e in manifest["sprites"]}
    assert manifest["sprite_count"] == len(specs) == len(entries)
    for loaded in specs:
        spec = loaded.spec
        png_path = project.assets_dir / spec.output_path
        entry = entries[spec.name]
        assert entry["path"] == spec.output_path
        assert entry["resolution"] == [spec.size.width, spec.size.height]
        assert entry["frames"] == spec.animation.frames
        assert hashlib.sha256(png_path.read_bytes()).hexdigest() == entry["sha256"]
        assert (png_path.parent / (png_path.name + ".meta")).read_text() == IMAGE_META
        image = Image.open(png_path)
        assert image.mode == "RGBA"
        assert image.size == spec.sheet_size
        atlas = entry["atlas"]
        assert (atlas["columns"] * atlas["tile_width"], atlas["rows"] * atlas["tile_height"]) == image.size
        pixels = np.asarray(image).reshape(-1, 4)
        assert set(np.unique(pixels[:, 3]).tolist()) <= {0, 255}, f"{spec.name}: alpha is not binary"
        opaque = {_hex(tuple(p)) for p in np.unique(pixels[pixels[:, 3] == 255], axis=0)}
        assert opaque, f"{spec.name}: empty sprite"
        if isinstance(spec.palette, AdaptivePalette):
            assert len(opaque) <= spec.palette.adaptive
            assert opaque <= set(entry["palette"]["colors"])
        else:
            allowed = set(spec.palette) if isinstance(spec.palette, list) else set(NAMED_PALETTES[spec.palette])
            assert opaque <= allowed, f"{spec.name}: colours outside its palette"
    ron = (project.assets_dir / "sprites/sprites.assets.ron").read_text()
    assert '"knight-walk.layout": TextureAtlasLayout(tile_size_x: 32, tile_size_y: 32, columns: 4, rows: 1)' in ron


def test_rebuild_is_a_no_op_and_edits_rebuild_only_what_changed(project: Settings, dagster_home: Path) -> None:
    assert _build(project)[0] == 0
    files = {p: p.stat().st_mtime_ns for p in project.assets_dir.rglob("*") if p.is_file()}
    code, out = _build(project)
    assert code == 0 and "0 built, 14 up to date" in out
    assert {p: p.stat().st_mtime_ns for p in project.assets_dir.rglob("*") if p.is_file()} == files

    goblin = project.specs_dir / "enemies/goblin.yaml"
    goblin.write_text(goblin.read_text().replace("rusty dagger", "rusty axe"))
    code, out = _build(project)
    assert code == 0 and "1 built, 13 up to date" in out, out
    assert "prompt" in out  # the reason names what changed

    (project.assets_dir / "sprites/enemy/skeleton.png").write_bytes(b"tampered")
    code, out = _build(project)
    assert "1 built, 13 up to date" in out and "modified" in out, out


def test_two_builds_are_byte_identical(tmp_path: Path, dagster_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = make_project(tmp_path / "a")
    b = make_project(tmp_path / "b")
    assert _build(a)[0] == 0 and _build(b)[0] == 0

    def tree(s: Settings) -> dict[str, bytes]:
        return {p.relative_to(s.assets_dir).as_posix(): p.read_bytes() for p in s.assets_dir.rglob("*") if p.is_file()}

    ta, tb = tree(a), tree(b)
    assert ta.keys() == tb.keys() and len(ta) == 2 * 14 + 2
    assert all(ta[k] == tb[k] for k in ta), [k for k in ta if ta[k] != tb[k]]


def test_offline_build_uses_the_embedded_backend_and_the_cache(project: Settings, dagster_home: Path) -> None:
    # --offline forbids generation *servers*; the embedded backend is local, so samples build offline
    code, out = _build(project, "goblin", "--offline")
    assert code == 0, out
    shutil.rmtree(project.assets_dir)
    code, out = _build(project, "goblin", "--offline")
    assert code == 0, out
    assert (project.assets_dir / "sprites/enemy/goblin.png").is_file()


def test_bad_specs_exit_2_with_messages(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path, {"x.yaml": "name: a\ncategory: enemy\nprompt: p\nsize: big\n"})
    result = CliRunner().invoke(main, ["check", "--project-dir", str(settings.project_dir)])
    assert result.exit_code == 2
    assert "x.yaml:4: sprite 'a': field 'size'" in result.output and "Traceback" not in result.output
    code, out = _build(settings)
    assert code == 2 and "x.yaml:4" in out


def test_deleted_spec_is_removed_from_manifest_and_folder(project: Settings, dagster_home: Path) -> None:
    assert _build(project)[0] == 0
    (project.specs_dir / "enemies/goblin.yaml").unlink()
    code, out = _build(project)
    assert code == 0, out
    manifest = json.loads((project.assets_dir / "sprites/manifest.json").read_text())
    assert "goblin" not in {e["name"] for e in manifest["sprites"]}
    assert not (project.assets_dir / "sprites/enemy/goblin.png").exists()
    assert not (project.assets_dir / "sprites/enemy/goblin.png.meta").exists()


def test_selection_and_unknown_names(project: Settings, dagster_home: Path) -> None:
    code, out = _build(project, "knight*")
    assert code == 0 and "2 built, 0 up to date" in out, out
    code, out = _build(project, "goblinn")
    assert code == 2 and "Did you mean: goblin" in out


def test_every_build_evaluates_the_sprite_check(project: Settings, dagster_home: Path) -> None:
    # a check not run for the latest materialization shows as a green "0 / 1 Passed" in the UI
    from dagster import AssetCheckKey, DagsterInstance

    from pipeline.defs.asset_keys import sprite_key

    key = AssetCheckKey(sprite_key("goblin", "bevy"), "bevy_file_valid")
    assert _build(project, "goblin")[0] == 0
    instance = DagsterInstance.get()
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key]).get(key)
    assert record is not None and record.status.value == "SUCCEEDED"
    latest = instance.get_latest_materialization_event(sprite_key("goblin", "bevy"))
    assert latest is not None and record.run_id == latest.run_id
