"""The rebuild schedule and the automation settings, evaluated with Dagster's ``build_schedule_context``."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions, RunRequest, SkipReason, build_schedule_context

from pipeline.defs.automation import AutomationSettings
from pipeline.defs.automation.schedules import SCHEDULE_NAME
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from tests.automation_project import BAT_YAML, keys_of, load_defs, make_project, materialize


def tick(defs: Definitions, instance: DagsterInstance) -> RunRequest | SkipReason:
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    result = schedule(build_schedule_context(instance=instance))
    assert isinstance(result, RunRequest | SkipReason)
    return result


@pytest.fixture
def project(tmp_path: Path) -> Settings:
    return make_project(tmp_path / "game")


@pytest.fixture
def instance() -> DagsterInstance:
    with DagsterInstance.ephemeral() as inst:
        yield inst


def test_missing_then_up_to_date_then_a_file_edited_in_the_bevy_folder(project: Settings, instance) -> None:
    defs = load_defs(project)
    first = tick(defs, instance)
    assert isinstance(first, RunRequest)
    assert set(first.asset_selection or []) == keys_of("coin", "gem", "slime")
    assert first.tags["sprites/missing"] == "3"
    assert first.tags["sprites/source"] == "schedule"

    materialize(defs, instance, first.asset_selection or [])
    second = tick(defs, instance)
    assert isinstance(second, SkipReason)
    assert second.skip_message == "all 3 sprites are up to date"

    gem = project.assets_dir / "sprites/item/gem.png"
    gem.write_bytes(gem.read_bytes()[:-4])  # someone broke it by hand
    third = tick(defs, instance)
    assert isinstance(third, RunRequest)
    assert set(third.asset_selection or []) == keys_of("gem")
    assert third.tags["sprites/stale"] == "1"


def test_spec_edit_makes_the_sprite_stale_for_the_schedule(project: Settings, instance) -> None:
    defs = load_defs(project)
    materialize(defs, instance, keys_of("coin", "gem", "slime"))
    spec = project.specs_dir / "slime.yaml"
    spec.write_text(spec.read_text().replace("green slime", "blue slime"))
    result = tick(load_defs(project), instance)
    assert isinstance(result, RunRequest)
    assert set(result.asset_selection or []) == keys_of("slime")


def test_sprites_not_yet_in_the_definitions_are_named_not_requested(project: Settings, instance) -> None:
    defs = load_defs(project)
    materialize(defs, instance, keys_of("coin", "gem", "slime"))
    (project.specs_dir / "bat.yaml").write_text(BAT_YAML)
    result = tick(defs, instance)  # definitions loaded before bat.yaml existed
    assert isinstance(result, SkipReason)
    assert "not in the loaded definitions yet (reload the code location): bat" in (result.skip_message or "")


def test_invalid_specs_do_not_stop_the_valid_ones_and_are_named(project: Settings, instance) -> None:
    (project.specs_dir / "broken.yaml").write_text("name: Broken\n")
    defs = load_defs(project)
    first = tick(defs, instance)
    assert isinstance(first, RunRequest) and set(first.asset_selection or []) == keys_of("coin", "gem", "slime")
    materialize(defs, instance, keys_of("coin", "gem", "slime"))
    second = tick(defs, instance)
    assert isinstance(second, SkipReason), "an invalid spec is neither built nor taken for a deleted one"
    message = second.skip_message or ""
    assert "all 3 sprites are up to date" in message
    assert "spec problem(s) wait for a fix (group spec_errors)" in message


def test_cron_timezone_and_status_come_from_settings(project: Settings) -> None:
    schedule = load_defs(project, schedule_cron="*/5 * * * *", schedule_timezone="Europe/Berlin").resolve_schedule_def(
        SCHEDULE_NAME
    )
    assert schedule.cron_schedule == "*/5 * * * *"
    assert schedule.execution_timezone == "Europe/Berlin"
    assert schedule.default_status.value == "RUNNING"
    off = load_defs(project, enabled="none").resolve_schedule_def(SCHEDULE_NAME)
    assert off.default_status.value == "STOPPED"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, AutomationSettings()),
        ({"SPRITES_AUTOMATION": "none"}, AutomationSettings(enabled=frozenset())),
        ({"SPRITES_AUTOMATION": "sensor, conditions"}, AutomationSettings(enabled=frozenset({"sensor", "conditions"}))),
        (
            {"SPRITES_SCHEDULE_CRON": "30 2 * * 1", "SPRITES_SENSOR_INTERVAL": "60"},
            AutomationSettings(schedule_cron="30 2 * * 1", sensor_interval_seconds=60),
        ),
        ({"SPRITES_DAGSTER_URL": "http://127.0.0.1:3000/"}, AutomationSettings(dagster_url="http://127.0.0.1:3000")),
        ({"SPRITES_DAGSTER_URL": "off"}, AutomationSettings(dagster_url="off")),
    ],
)
def test_automation_settings_from_env(env: dict[str, str], expected: AutomationSettings) -> None:
    settings = Settings.from_env(env)
    assert {name: getattr(settings, name) for name in AutomationSettings.model_fields} == expected.model_dump()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SPRITES_SCHEDULE_CRON": "every night"}, "SPRITES_SCHEDULE_CRON (--schedule-cron): 'every night' is not a"),
        ({"SPRITES_AUTOMATION": "sensor,nightly"}, "SPRITES_AUTOMATION (--automation): unknown automation ['nightly']"),
        ({"SPRITES_SENSOR_INTERVAL": "0"}, "SPRITES_SENSOR_INTERVAL"),
        ({"SPRITES_DAGSTER_URL": "localhost:3000"}, "SPRITES_DAGSTER_URL (--dagster-url): expected an http/https URL"),
        ({"SPRITES_DAGSTER_URL": "false"}, "or 'off' (no webserver) (got 'false')"),
    ],
)
def test_bad_automation_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert message in str(err.value)
