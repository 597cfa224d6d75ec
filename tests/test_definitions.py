"""The Dagster definitions load (as workspace.yaml loads them) and have the expected asset graph."""

from __future__ import annotations

import subprocess
import sys

from dagster import AssetKey, in_process_executor

from pipeline.core.specs import load_specs
from pipeline.defs.asset_keys import MANIFEST_KEY, sprite_key, sprite_keys
from pipeline.defs.location import build_definitions
from tests.conftest import REPO


def test_asset_graph_keys_deps_groups_and_versions(project) -> None:  # type: ignore[no-untyped-def]
    defs = build_definitions(project)
    graph = defs.resolve_asset_graph()
    names = list(load_specs(project.specs_dir).specs)
    expected = {k for n in names for k in sprite_keys(n)} | {MANIFEST_KEY}
    assert set(graph.get_all_asset_keys()) == expected
    for n in names:
        raw, pixel, bevy = sprite_keys(n)
        assert graph.get(pixel).parent_keys == {raw} and graph.get(bevy).parent_keys == {pixel}
        assert graph.get(raw).code_version
    assert graph.get(MANIFEST_KEY).parent_keys == {sprite_key(n, "bevy") for n in names}
    knight = graph.get(AssetKey(["knight", "knight_render"]))
    assert knight.group_name == "character" and knight.kinds == {"render", "python"}  # the stage, then the tool
    assert graph.get(AssetKey(["slime", "slime_render"])).group_name == "enemy"
    assert defs.executor is in_process_executor


def test_one_step_per_sprite(project) -> None:  # type: ignore[no-untyped-def]
    defs = build_definitions(project)
    job = defs.resolve_implicit_global_asset_job_def()
    ops = {node.name for node in job.graph.node_defs}
    assert "sprite__knight_walk" in ops and "bevy__manifest" in ops
    # one step per sprite and the manifest; their checks are evaluated inside those steps
    assert ops == {f"sprite__{n.replace('-', '_')}" for n in load_specs(project.specs_dir).specs} | {"bevy__manifest"}


def test_code_location_loads_like_dagster_dev_does() -> None:
    # What `dagster dev -w workspace.yaml` does: import the module named in workspace.yaml.
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "sprites" in out.stdout + out.stderr
