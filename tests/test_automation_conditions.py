"""Declarative automation (opt-in), evaluated with Dagster's ``evaluate_automation_conditions``."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance, evaluate_automation_conditions

from pipeline.defs.automation.conditions import CONDITION_SENSOR_NAME
from tests.automation_project import keys_of, load_defs, make_project, materialize


def requested(result) -> set:
    return {r.key for r in result.results if r.true_subset.size}


def test_conditions_build_missing_sprites_then_exactly_the_edited_one(tmp_path: Path) -> None:
    settings = make_project(tmp_path / "game")
    defs = load_defs(settings, enabled="conditions")
    with DagsterInstance.ephemeral() as instance:
        first = evaluate_automation_conditions(defs, instance)
        assert first.total_requested == 0, "the tick that switches conditions on only records where things are"
        second = evaluate_automation_conditions(defs, instance, cursor=first.cursor)
        assert requested(second) == keys_of("coin", "gem", "slime")

        materialize(defs, instance, keys_of("coin", "gem", "slime"))
        quiet = evaluate_automation_conditions(defs, instance, cursor=second.cursor)
        assert quiet.total_requested == 0

        spec = settings.specs_dir / "slime.yaml"
        spec.write_text(spec.read_text().replace("green slime", "red slime"))
        reloaded = load_defs(settings, enabled="conditions")  # the code location after its reload
        edited = evaluate_automation_conditions(reloaded, instance, cursor=quiet.cursor)
        # only slime's render's code version changed; pixel and bevy follow in the same run, then the manifest
        assert requested(edited) == keys_of("slime")


def test_conditions_are_attached_only_when_enabled(tmp_path: Path) -> None:
    settings = make_project(tmp_path / "game")
    plain = load_defs(settings)
    assert all(spec.automation_condition is None for a in plain.assets for spec in a.specs)
    assert CONDITION_SENSOR_NAME not in {s.name for s in plain.sensors}

    automated = load_defs(settings, enabled="sensor,conditions")
    assert all(spec.automation_condition is not None for a in automated.assets for spec in a.specs)
    sensor = automated.resolve_sensor_def(CONDITION_SENSOR_NAME)
    assert sensor.default_status.value == "RUNNING"
