"""The spec sensor, evaluated with Dagster's ``build_sensor_context`` against a temporary project.

"Reloading the code location" is calling ``load_defs`` again, exactly what the code server does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetKey,
    DagsterInstance,
    Definitions,
    SensorResult,
    build_sensor_context,
)

from pipeline.core.export.manifest import MANIFEST_PATH
from pipeline.defs.asset_keys import sprite_key
from pipeline.defs.automation.reload import request_reload
from pipeline.defs.automation.sensors import SPEC_SENSOR_NAME
from pipeline.defs.automation.spec_changes import diff_files, parse_cursor, render_cursor
from pipeline.settings import Settings
from tests.automation_project import BAT_YAML, keys_of, load_defs, make_project, materialize


def tick(defs: Definitions, instance: DagsterInstance, cursor: str | None) -> SensorResult:
    sensor = defs.resolve_sensor_def(SPEC_SENSOR_NAME)
    result = sensor(build_sensor_context(instance=instance, cursor=cursor, definitions=defs))
    assert isinstance(result, SensorResult)
    return result


def requested(result: SensorResult) -> set:
    assert result.run_requests, f"expected a run request, got skip: {result.skip_reason}"
    assert len(result.run_requests) == 1
    return set(result.run_requests[0].asset_selection or [])


def skip_text(result: SensorResult) -> str:
    assert not result.run_requests, f"expected a skip, got {result.run_requests}"
    assert result.skip_reason is not None
    return result.skip_reason.skip_message or ""


@pytest.fixture
def project(tmp_path: Path) -> Settings:
    return make_project(tmp_path / "game")


@pytest.fixture
def instance() -> DagsterInstance:
    with DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture
def built(project: Settings, instance: DagsterInstance) -> tuple[Definitions, str]:
    """Every sprite built, and the sensor's baseline cursor recorded."""
    defs = load_defs(project)
    materialize(defs, instance, keys_of("gem", "coin", "slime"))
    first = tick(defs, instance, None)
    assert "watching 2 spec files and 0 workflow templates" in skip_text(first)
    assert first.cursor is not None
    return defs, first.cursor


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_cursor_is_content_hashes_as_json(project: Settings, instance: DagsterInstance) -> None:
    result = tick(load_defs(project), instance, None)
    data = json.loads(result.cursor or "")
    assert data["v"] == 1
    assert set(data["files"]) == {"specs/items.yaml", "specs/slime.yaml"}
    assert parse_cursor(result.cursor) == data["files"]
    assert parse_cursor("not json") is None
    assert parse_cursor('{"v": 99, "files": {}}') is None


def test_nothing_changed_and_touch_without_change_request_nothing(project: Settings, instance, built) -> None:
    defs, cursor = built
    spec = project.specs_dir / "slime.yaml"
    os.utime(spec, (1, 1))  # a new mtime, same bytes
    result = tick(defs, instance, cursor)
    assert skip_text(result) == "no spec file or workflow template changed"
    assert result.cursor == cursor


def test_editing_one_sprite_of_a_file_requests_only_that_sprite(project: Settings, instance, built) -> None:
    defs, cursor = built
    edit(project.specs_dir / "items.yaml", "golden coin", "silver coin")
    stale = tick(defs, instance, cursor)
    assert "items.yaml changed since the definitions were loaded" in skip_text(stale)
    assert "Deployment > Reload" in skip_text(stale)
    assert stale.cursor == cursor, "the cursor must not advance before the definitions are reloaded"

    reloaded = load_defs(project)
    result = tick(reloaded, instance, cursor)
    assert requested(result) == keys_of("coin")  # not gem, although it lives in the same file
    tags = result.run_requests[0].tags
    assert tags["sprites/source"] == "spec-sensor"
    assert tags["sprites/changed_files"] == "items.yaml"
    assert result.cursor != cursor

    materialize(reloaded, instance, requested(result))
    assert tick(reloaded, instance, result.cursor).skip_reason.skip_message.startswith("no spec file")


def test_a_change_that_alters_no_stage_input_builds_nothing(project: Settings, instance, built) -> None:
    _, cursor = built
    edit(project.specs_dir / "items.yaml", "# two sprites in one file", "# two sprites, one file")
    result = tick(load_defs(project), instance, cursor)
    assert "already built for its current inputs" in skip_text(result)
    assert result.cursor != cursor, "the edit is acknowledged"


def test_a_new_spec_file_is_built_after_the_reload(project: Settings, instance, built) -> None:
    defs, cursor = built
    (project.specs_dir / "bat.yaml").write_text(BAT_YAML)
    assert "bat.yaml changed since the definitions were loaded" in skip_text(tick(defs, instance, cursor))
    result = tick(load_defs(project), instance, cursor)
    assert requested(result) == keys_of("bat")


def test_deleting_a_spec_republishes_the_manifest_which_removes_its_files(project: Settings, instance, built) -> None:
    _, cursor = built
    assets = project.assets_dir
    slime_png = assets / "sprites/enemy/slime.png"
    assert slime_png.is_file()
    (project.specs_dir / "slime.yaml").unlink()
    reloaded = load_defs(project)
    result = tick(reloaded, instance, cursor)
    assert requested(result) == keys_of(manifest=True)  # the manifest alone
    assert result.run_requests[0].tags["sprites/removed"] == "slime"
    materialize(reloaded, instance, requested(result))
    assert not slime_png.exists()
    assert not slime_png.with_name("slime.png.meta").exists()
    manifest = json.loads((assets / MANIFEST_PATH).read_text())
    assert [e["name"] for e in manifest["sprites"]] == ["coin", "gem"]


def test_a_deleted_sprite_whose_file_was_edited_by_hand_is_left_in_place(project: Settings, instance, built) -> None:
    _, cursor = built
    slime_png = project.assets_dir / "sprites/enemy/slime.png"
    slime_png.write_bytes(slime_png.read_bytes() + b"edited")
    (project.specs_dir / "slime.yaml").unlink()
    reloaded = load_defs(project)
    materialize(reloaded, instance, requested(tick(reloaded, instance, cursor)))
    assert slime_png.is_file(), "a file someone edited is never deleted"
    manifest = json.loads((project.assets_dir / MANIFEST_PATH).read_text())
    assert "slime" not in [e["name"] for e in manifest["sprites"]]


def test_defaults_file_change_considers_every_sprite(project: Settings, instance, built) -> None:
    _, cursor = built
    (project.specs_dir / "_defaults.yaml").write_text("defaults:\n  palette: db16\n")
    result = tick(load_defs(project), instance, cursor)
    # coin sets its own palette (nes); gem and slime take the new default
    assert requested(result) == keys_of("gem", "slime")


def test_workflow_template_change_rebuilds_only_sprites_it_binds(project: Settings, instance, built) -> None:
    _, cursor = built
    (project.workflows_dir / "sdxl_pixel_art.json").write_text("{}")
    result = tick(load_defs(project), instance, cursor)
    # every sprite here uses the procedural backend, which no workflow template feeds
    assert "already built for its current inputs" in skip_text(result)
    assert "workflows/sdxl_pixel_art.json" in (parse_cursor(result.cursor) or {})


def test_an_invalid_spec_is_reloaded_shown_failing_and_its_fix_brings_it_back(
    project: Settings, instance, built
) -> None:
    defs, cursor = built
    edit(project.specs_dir / "slime.yaml", "size: 16x16", "size: 16x16\ncolour: green")
    # the location survives invalid specs, so the sensor has it reloaded (that is how the UI learns of them)
    first = tick(defs, instance, cursor)
    assert "slime.yaml changed since the definitions were loaded" in skip_text(first)
    assert first.cursor == cursor
    reloaded = load_defs(project)
    graph = reloaded.resolve_asset_graph()
    problem = AssetKey(["spec", "slime_yaml"])
    assert {sprite_key("gem", "bevy"), sprite_key("coin", "bevy"), problem} <= set(graph.get_all_asset_keys())
    assert sprite_key("slime", "bevy") not in graph.get_all_asset_keys()
    second = tick(reloaded, instance, cursor)
    text = skip_text(second)
    assert text.startswith("INVALID SPECS: 1 problem") and "slime.yaml:5: sprite 'slime': field 'colour'" in text
    (evaluation,) = second.asset_events
    assert isinstance(evaluation, AssetCheckEvaluation)
    assert evaluation.asset_key == problem and not evaluation.passed and evaluation.check_name == "valid"
    assert "unknown field 'colour'" in (evaluation.description or "")
    # nothing is taken for deleted, nothing is built: slime's lock entry is not an orphan
    assert second.cursor != cursor
    instance.report_runless_asset_event(evaluation)  # what the daemon does with the tick's events
    third = tick(reloaded, instance, second.cursor)
    assert not third.asset_events, "the same problems are recorded once"
    assert "INVALID SPECS" in skip_text(third)
    # fixed: the next tick reloads, and the location is whole again
    edit(project.specs_dir / "slime.yaml", "\ncolour: green", "")
    assert "changed since the definitions were loaded" in skip_text(tick(reloaded, instance, second.cursor))
    whole = load_defs(project)
    keys = set(whole.resolve_asset_graph().get_all_asset_keys())
    assert sprite_key("slime", "bevy") in keys and problem not in keys
    assert "INVALID" not in skip_text(tick(whole, instance, second.cursor))


def test_first_tick_after_restart_builds_what_changed_while_down(project: Settings, instance, built) -> None:
    _, cursor = built
    edit(project.specs_dir / "slime.yaml", "green slime", "red slime")
    # dagster dev restarted: fresh definitions, old cursor from the instance
    assert requested(tick(load_defs(project), instance, cursor)) == keys_of("slime")


def test_sensor_defaults_follow_settings(project: Settings) -> None:
    running = load_defs(project, sensor_interval_seconds=7).resolve_sensor_def(SPEC_SENSOR_NAME)
    assert running.minimum_interval_seconds == 7
    assert running.default_status.value == "RUNNING"
    stopped = load_defs(project, enabled="schedule").resolve_sensor_def(SPEC_SENSOR_NAME)
    assert stopped.default_status.value == "STOPPED"


def test_diff_and_render_round_trip() -> None:
    old = {"specs/a.yaml": "1", "specs/b.yaml": "2"}
    new = {"specs/b.yaml": "3", "specs/c.yaml": "4"}
    assert diff_files(old, new) == ["specs/a.yaml", "specs/b.yaml", "specs/c.yaml"]
    assert parse_cursor(render_cursor(new)) == new


def test_reload_request_reports_an_unreachable_webserver() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    message = request_reload(f"http://127.0.0.1:{port}", "sprites", timeout=2)
    assert message.startswith(f"could not reach the Dagster webserver at http://127.0.0.1:{port}")
