"""Failure reasons: a failed run is tagged with the sprite, its spec file, the step and our error's message."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context

from pipeline.defs.asset_keys import sprite_keys
from pipeline.defs.automation.failures import describe_step_failure, readable_error
from pipeline.defs.automation.sensors import FAILURE_SENSOR_NAME
from tests.automation_project import load_defs, make_project


def err(cls_name: str, message: str, cause: object = None) -> SimpleNamespace:
    return SimpleNamespace(cls_name=cls_name, message=message, cause=cause, context=None)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            err(
                "DagsterExecutionStepExecutionError",
                "Error occurred while executing op sprite__x",
                err("ServerError", "ServerError: http://gpu1:8188: node 3 (KSampler): out of memory"),
            ),
            "ServerError: http://gpu1:8188: node 3 (KSampler): out of memory",
        ),
        (err("KeyError", "KeyError: 'frames'"), "KeyError: 'frames'"),
        (err("Wrapper", "outer", err("ValueError", "ValueError: inner")), "ValueError: inner"),
        (None, "unknown error"),
    ],
)
def test_readable_error_prefers_our_own_error(error: object, expected: str) -> None:
    assert readable_error(error) == expected


def test_a_failed_run_is_tagged_with_sprite_spec_step_and_reason(tmp_path: Path) -> None:
    settings = make_project(tmp_path / "game")
    defs = load_defs(settings)
    with DagsterInstance.ephemeral() as instance:
        # pixel and bevy without raw, and no cached render: the step refuses, naming what to do
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[k for k in job.asset_layer.executable_asset_keys if k in sprite_keys("slime")[1:]],
            raise_on_error=False,
        )
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(iter(instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_FAILURE))).dagster_event
        sensor = defs.resolve_sensor_def(FAILURE_SENSOR_NAME)
        context = build_run_status_sensor_context(
            sensor_name=FAILURE_SENSOR_NAME, dagster_event=failure, dagster_instance=instance, dagster_run=run
        ).for_run_failure()
        sensor(context)
        tags = instance.get_run_by_id(result.run_id).tags
    assert tags["sprites/failed"] == "slime"
    assert tags["sprites/failure"].startswith(
        "slime (sprite_specs/slime.yaml:1), step sprite__slime: GenerationError: "
        "slime: slime/slime_render has no stored render"
    )


def test_describe_step_failure_without_a_known_sprite() -> None:
    assert describe_step_failure("manifest_checks", err("OSError", "OSError: disk full"), {}) == (
        "step manifest_checks: OSError: disk full"
    )
