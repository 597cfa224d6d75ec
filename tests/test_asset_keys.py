"""Asset keys (``pipeline.defs.asset_keys``): what the UI's graph labels say, selections by sprite name, and
what happens to the entries an existing instance holds under the keys before the renaming.

The UI itself (the labels Chromium renders) is checked in ``tests/test_webserver_ui.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import AssetKey, AssetMaterialization, AssetSelection, DagsterInstance

from pipeline.core.specs import load_specs
from pipeline.defs.asset_keys import (
    MANIFEST_KEY,
    STAGES,
    legacy_sprite_keys,
    spec_problem_key,
    sprite_key,
    sprite_keys,
    sprite_selection,
    stage_of_key,
)
from pipeline.defs.location import build_definitions
from pipeline.faces.cli import main
from pipeline.settings import Settings


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("goblin", ["goblin/goblin_render", "goblin/goblin_pixel_art", "goblin/goblin_bevy"]),
        (
            "knight-walk",
            ["knight-walk/knight-walk_render", "knight-walk/knight-walk_pixel_art", "knight-walk/knight-walk_bevy"],
        ),
        ("raw", ["raw/raw_render", "raw/raw_pixel_art", "raw/raw_bevy"]),
    ],
)
def test_the_last_part_of_each_key_names_the_sprite_and_its_stage(name: str, keys: list[str]) -> None:
    # the asset graph labels a node with the last part of its key: the three differ and each says both
    assert [k.to_user_string() for k in sprite_keys(name)] == keys
    assert [stage_of_key(k) for k in sprite_keys(name)] == [(name, stage) for stage in STAGES]
    assert [sprite_key(name, stage) for stage in STAGES] == list(sprite_keys(name))


@pytest.mark.parametrize(
    "key",
    [
        MANIFEST_KEY,
        spec_problem_key("items.yaml"),
        spec_problem_key("spec_render.yaml"),  # beside a sprite named `spec`: spec/spec_render_yaml
        AssetKey(["raw", "goblin"]),  # the key before the renaming
        AssetKey(["goblin", "king_render"]),
        AssetKey(["goblin", "goblin_king_render"]),
        AssetKey(["goblin", "goblin_render", "x"]),
        AssetKey(["goblin_render"]),
    ],
)
def test_keys_that_are_no_stage_of_a_sprite(key: AssetKey) -> None:
    assert stage_of_key(key) is None


def test_selections_by_sprite_name(project: Settings) -> None:
    graph = build_definitions(project).resolve_asset_graph()
    names = list(load_specs(project.specs_dir).specs)

    def selected(selection: str) -> set[AssetKey]:
        return set(AssetSelection.from_string(selection).resolve(graph))

    for name in names:  # knight's selection does not take knight-walk's assets
        assert selected(sprite_selection(name)) == set(sprite_keys(name)), name
    assert selected('key:"*_render"') == {sprite_key(n, "raw") for n in names}
    # the classic syntax of `dagster asset materialize --select`: the chain and its manifest
    assert selected("goblin/goblin_render*") == {*sprite_keys("goblin"), MANIFEST_KEY}
    assert selected('key:"goblin/*"+') == {*sprite_keys("goblin"), MANIFEST_KEY}


@pytest.mark.slow
def test_entries_under_the_keys_before_the_renaming_leave_the_instance(project: Settings, dagster_home: Path) -> None:
    # an instance from before the renaming: goblin's and slime's old keys, and another project's raw/ key
    foreign = AssetKey(["raw", "orders"])
    with DagsterInstance.get() as instance:
        for key in (*legacy_sprite_keys("goblin"), legacy_sprite_keys("slime")[2], foreign):
            instance.report_runless_asset_event(AssetMaterialization(key))
    result = CliRunner().invoke(main, ["build", "--project-dir", str(project.project_dir), "goblin"])
    assert result.exit_code == 0, result.output
    with DagsterInstance.get() as instance:
        keys = set(instance.get_asset_keys())
        # the UI would list them as "External Asset", materialized, next to their renamed selves
        assert not {*legacy_sprite_keys("goblin"), *legacy_sprite_keys("slime")} & keys
        assert foreign in keys, "a key that is no sprite's old key is not ours to wipe"
        assert set(sprite_keys("goblin")) <= keys and MANIFEST_KEY in keys
