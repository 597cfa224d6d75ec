"""Asset checks: the pure verifications as tables, then the checks run by Dagster against a real build."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dagster import AssetCheckKey, AssetCheckSeverity, DagsterInstance
from PIL import Image

from pipeline.core.export.manifest import MANIFEST_PATH
from pipeline.core.specs.model import SpriteSpec
from pipeline.defs.asset_keys import MANIFEST_KEY, sprite_key
from pipeline.defs.automation.checks import MANIFEST_CHECKS, SPRITE_CHECK, SPRITE_CHECKS
from pipeline.defs.automation.verify import (
    alpha_finding,
    file_hash_finding,
    palette_finding,
    png_facts,
    size_and_frames_finding,
)
from tests.automation_project import evaluations, keys_of, load_defs, make_project, materialize, run_checks


def png(pixels: list[list[tuple[int, int, int, int]]]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.array(pixels, dtype=np.uint8), "RGBA").save(buf, "PNG")
    return buf.getvalue()


def spec(**fields: object) -> SpriteSpec:
    return SpriteSpec.model_validate({"name": "x", "category": "item", "prompt": "p", "size": "4x4", **fields})


BLACK, WHITE, ODD = (0, 0, 0, 255), (255, 241, 232, 255), (1, 2, 3, 255)  # WHITE is pico-8's #fff1e8
CLEAR, HALF = (0, 0, 0, 0), (0, 0, 0, 128)


@pytest.mark.parametrize(
    ("fields", "pixels", "passed", "says"),
    [
        ({}, [[BLACK, WHITE]], True, "2 of at most 16 colours, all from pico-8"),
        ({}, [[BLACK, ODD]], False, "1 colour(s) not in pico-8: #010203"),
        ({}, [[BLACK, CLEAR]], True, "1 of at most 16"),  # transparent pixels have no colour
        ({"palette": ["#000000", "#ffffff"]}, [[BLACK, WHITE]], False, "not in the spec's palette: #fff1e8"),
        ({"palette": {"adaptive": 2}}, [[BLACK, ODD]], True, "2 of at most 2"),
        ({"palette": {"adaptive": 2}}, [[BLACK, ODD], [WHITE, WHITE]], False, "3 colours used, the palette allows 2"),
        ({"pixel": {"outline": "#010203"}}, [[BLACK, ODD]], True, "2 of at most 17"),
    ],
)
def test_palette_finding(fields: dict, pixels: list, passed: bool, says: str) -> None:
    finding = palette_finding(spec(**fields), png_facts(png(pixels)))
    assert finding.passed is passed
    assert says in finding.description


@pytest.mark.parametrize(
    ("pixels", "passed"), [([[BLACK, CLEAR]], True), ([[BLACK, HALF]], False), ([[WHITE, WHITE]], True)]
)
def test_alpha_finding(pixels: list, passed: bool) -> None:
    assert alpha_finding(png_facts(png(pixels))).passed is passed


def filled(width: int, height: int) -> bytes:
    return png([[BLACK] * width for _ in range(height)])


@pytest.mark.parametrize(
    ("fields", "size", "passed", "says"),
    [
        ({}, (4, 4), True, "1 frame(s) of 4x4 in a 4x4 sheet"),
        ({}, (4, 8), False, "sheet is 4x8, the spec asks for 4x4"),
        ({"animation": {"frames": 2}}, (4, 4), False, "the spec asks for 8x4 (2 frame(s) of 4x4 in 2 column(s))"),
        ({"animation": {"frames": 3, "columns": 2}}, (8, 8), True, "3 frame(s) of 4x4 in a 8x8 sheet"),
    ],
)
def test_size_and_frames_finding(fields: dict, size: tuple[int, int], passed: bool, says: str) -> None:
    finding = size_and_frames_finding(spec(**fields), png_facts(filled(*size)), None)
    assert finding.passed is passed
    assert says in finding.description


@pytest.mark.parametrize(
    ("actual", "materialized", "passed", "says"),
    [
        ("a", "a", True, "holds the materialized bytes"),
        ("a", "b", False, "was changed after it was materialized"),
        (None, "b", False, "is missing from the Bevy folder"),
        ("a", None, False, "no materialization recorded"),
    ],
)
def test_file_hash_finding(actual: str | None, materialized: str | None, passed: bool, says: str) -> None:
    finding = file_hash_finding("sprites/x.png", actual, materialized)
    assert finding.passed is passed and says in finding.description


def test_png_facts_refuses_what_is_not_a_png() -> None:
    with pytest.raises(ValueError, match="not a readable PNG"):
        png_facts(b"GIF89a nonsense")


# --- the checks, executed by Dagster -------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """One build of the three sprites, shared by the tests below (each restores what it tampers with)."""
    settings = make_project(tmp_path_factory.mktemp("checks") / "game")
    with DagsterInstance.ephemeral() as instance:
        defs = load_defs(settings)
        run_id = materialize(defs, instance, keys_of("coin", "gem", "slime"))
        yield settings, defs, instance, run_id


def all_check_keys(*names: str) -> set[AssetCheckKey]:
    keys = {AssetCheckKey(sprite_key(n, "bevy"), SPRITE_CHECK) for n in names}
    return keys | {AssetCheckKey(MANIFEST_KEY, c) for c in MANIFEST_CHECKS}


def sprite_check(name: str) -> AssetCheckKey:
    return AssetCheckKey(sprite_key(name, "bevy"), SPRITE_CHECK)


def meta(result: Any, label: str) -> Any:
    value = result.metadata[label]
    return getattr(value, "value", value)


def test_a_build_runs_every_check_and_they_pass(built) -> None:
    _, _, instance, run_id = built
    results = evaluations(instance, run_id)
    assert set(results) == all_check_keys("coin", "gem", "slime")
    failed = {k.to_user_string(): r.description for k, r in results.items() if not r.passed}
    assert failed == {}
    gem = results[sprite_check("gem")]
    assert {meta(gem, part).split(":")[0] for part in SPRITE_CHECKS} == {"ok"}


def test_the_checks_run_inside_the_build_steps(built) -> None:
    # a check that did not run for the latest materialization looks passed in the UI: no separate step
    _, defs, _, _ = built
    ops = {node.name for node in defs.resolve_implicit_global_asset_job_def().graph.node_defs}
    assert not {"sprite_checks", "manifest_checks"} & ops
    assert {c.name for c in defs.resolve_assets_def(sprite_key("gem", "bevy")).check_specs} == {SPRITE_CHECK}


@pytest.fixture
def restore(built):
    """Put back any file a test changes in the Bevy folder."""
    saved: dict[Path, bytes | None] = {}

    def keep(path: Path) -> Path:
        saved.setdefault(path, path.read_bytes() if path.exists() else None)
        return path

    yield keep
    for path, data in saved.items():
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)


def test_a_replaced_sprite_fails_size_alpha_palette_and_hash(built, restore) -> None:
    settings, defs, instance, _ = built
    gem = restore(settings.assets_dir / "sprites/item/gem.png")
    gem.write_bytes(png([[BLACK, HALF, ODD]]))
    results = run_checks(defs, instance, {sprite_check("gem")})
    assert results.keys() == {sprite_check("gem")}, "only the selected check ran"
    result = results[sprite_check("gem")]
    assert not result.passed and result.severity == AssetCheckSeverity.ERROR
    assert "sheet is 3x1, the spec asks for 16x16" in result.description
    assert "#010203" in result.description and "partial alpha" in result.description
    assert "was changed after it was materialized" in result.description
    assert meta(result, "palette").startswith("FAILED: ") and meta(result, "palette/foreign_colours") == ["#010203"]
    assert {meta(result, part).split(":")[0] for part in SPRITE_CHECKS} == {"FAILED"}


def test_a_manifest_that_lost_an_entry_fails(built, restore) -> None:
    settings, defs, instance, _ = built
    path = restore(settings.assets_dir / MANIFEST_PATH)
    manifest = json.loads(path.read_text())
    manifest["sprites"] = [e for e in manifest["sprites"] if e["name"] != "coin"]
    path.write_text(json.dumps(manifest))
    results = run_checks(defs, instance, {AssetCheckKey(MANIFEST_KEY, c) for c in MANIFEST_CHECKS})
    matches = results[AssetCheckKey(MANIFEST_KEY, "matches_lock")]
    assert not matches.passed
    assert "does not list" in matches.description or "lists sprites" in matches.description
    orphans = results[AssetCheckKey(MANIFEST_KEY, "no_orphan_files")]
    assert not orphans.passed and "sprites/item/coin.png" in orphans.description
    assert orphans.severity == AssetCheckSeverity.WARN


def test_a_stray_file_in_the_sprites_folder_is_an_orphan(built, restore) -> None:
    settings, defs, instance, _ = built
    stray = restore(settings.assets_dir / "sprites/item/old-sword.png")
    stray.write_bytes(png([[BLACK]]))
    results = run_checks(defs, instance, {AssetCheckKey(MANIFEST_KEY, "no_orphan_files")})
    finding = results[AssetCheckKey(MANIFEST_KEY, "no_orphan_files")]
    assert not finding.passed
    assert "1 sprite file(s) not in the manifest: sprites/item/old-sword.png" in finding.description
    assert results.keys() == {AssetCheckKey(MANIFEST_KEY, "no_orphan_files")}, "only the selected check ran"


def test_a_deleted_sprite_file_fails_its_check(built, restore) -> None:
    settings, defs, instance, _ = built
    slime = restore(settings.assets_dir / "sprites/enemy/slime.png")
    slime.unlink()
    results = run_checks(defs, instance, all_check_keys("slime"))
    result = results[sprite_check("slime")]
    assert not result.passed and "sprites/enemy/slime.png is missing from the Bevy folder" in result.description
    # the manifest itself still is what sprites.lock renders: its own check passes
    assert results[AssetCheckKey(MANIFEST_KEY, "matches_lock")].passed
