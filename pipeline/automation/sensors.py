"""The spec sensor: edit, add or delete a YAML file and exactly the affected sprites are rebuilt.

Each tick hashes ``sprite_specs/`` and ``comfy_workflows/`` (a few ms for hundreds of files) and lets
``spec_changes.evaluate_spec_changes`` decide. When the files differ from what the running definitions
were built from, the code location must be reloaded first (a sensor cannot redefine its own assets):
with ``SPRITES_DAGSTER_URL`` set the sensor asks the webserver to reload, otherwise its skip reason
tells the user to press "Reload definitions". The cursor only advances once the reloaded definitions
see the same bytes, so the run is requested by the first tick after the reload, against assets that
describe the current specs.
"""

from dagster import (
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from pipeline.assets import MANIFEST_KEY, op_name, sprite_keys
from pipeline.automation.failures import describe_step_failure, readable_error
from pipeline.automation.reload import request_reload
from pipeline.automation.settings import AutomationSettings
from pipeline.automation.spec_changes import SpecChanges, evaluate_spec_changes, loaded_input_hashes
from pipeline.buildstate.publish import pending_entries, publish_run
from pipeline.errors import SpriteError
from pipeline.generate import resolve_requests
from pipeline.settings import Settings
from pipeline.specs import SpecSet

__all__ = [
    "ASSET_JOB",
    "FAILURE_SENSOR_NAME",
    "SPEC_SENSOR_NAME",
    "build_failure_sensor",
    "build_spec_sensor",
    "run_request_for",
]

#: Dagster's implicit job over every asset (what the UI's "Materialize" and GraphQL ``launchRun`` use).
#: Sensors and the schedule target it by name: ``target=AssetSelection.all()`` would add one more job
#: of every asset per sensor, which tripled the code location's snapshot time at 1000 sprites.
ASSET_JOB = "__ASSET_JOB"

SPEC_SENSOR_NAME = "sprite_spec_sensor"
FAILURE_SENSOR_NAME = "sprite_failure_reasons"
SOURCE_TAG = "sprites/source"
_TAG_LIMIT = 200


def run_request_for(changes: SpecChanges) -> RunRequest:
    """The run for a ``build`` decision: every stage of each affected sprite, then the manifest."""
    keys = [key for name in changes.sprites for key in sprite_keys(name)]
    tags = {
        SOURCE_TAG: "spec-sensor",
        "sprites/changed_files": _clip(", ".join(f.split("/", 1)[1] for f in changes.changed_files)),
        "sprites/count": str(len(changes.sprites)),
    }
    if changes.deleted:
        tags["sprites/removed"] = _clip(", ".join(changes.deleted))
    return RunRequest(asset_selection=[*keys, MANIFEST_KEY], tags=tags)


def _clip(text: str) -> str:
    """A tag value: one line, at most ``_TAG_LIMIT`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= _TAG_LIMIT else text[: _TAG_LIMIT - 3] + "..."


def build_spec_sensor(spec_set: SpecSet, settings: Settings, automation: AutomationSettings) -> SensorDefinition:
    """The sensor over the spec and workflow files these definitions were built from."""
    loaded = loaded_input_hashes(spec_set, settings)

    @sensor(
        name=SPEC_SENSOR_NAME,
        job_name=ASSET_JOB,  # the implicit job of all assets: no extra job per sensor or schedule
        minimum_interval_seconds=automation.sensor_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if automation.runs("sensor") else DefaultSensorStatus.STOPPED,
        description=(
            f"Watches {settings.specs_dir.name}/ and {settings.workflows_dir.name}/ by content hash and "
            "materializes exactly the sprites whose inputs changed, plus the manifest (which also removes "
            "the files of deleted specs). New or deleted files need a code location reload: set "
            "SPRITES_DAGSTER_URL and this sensor does it."
        ),
    )
    def sprite_spec_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        changes = evaluate_spec_changes(
            settings, loaded, context.cursor, lambda specs: resolve_requests(specs, settings)
        )
        context.log.info(f"{changes.status}: {changes.message}")
        if changes.status == "build":
            return SensorResult(run_requests=[run_request_for(changes)], cursor=changes.cursor)
        message = changes.message
        if changes.status == "reload":
            if automation.dagster_url:
                message += f"; {request_reload(automation.dagster_url, automation.code_location)}"
                message += "; the next tick requests the runs"
            else:
                message += (
                    f": reload code location '{automation.code_location}' (Deployment > Reload, or "
                    "set SPRITES_DAGSTER_URL so that this sensor does it); the next tick then requests the runs"
                )
        return SensorResult(skip_reason=SkipReason(message), cursor=changes.cursor or context.cursor)

    return sprite_spec_sensor


def build_failure_sensor(spec_set: SpecSet, settings: Settings, automation: AutomationSettings) -> SensorDefinition:
    """Tags every failed run with what failed and why, so the Runs list reads like a build report, and
    publishes what the run did export (Dagster skipped its manifest step when a sprite failed).

    ``sprites/failed``: the sprites (or steps) that failed; ``sprites/failure``: the first reason, as our
    own error states it (spec file and line, step, error class and message). The full text is in the
    sensor's log and, of course, in the run's own event log.
    """
    specs_by_op = {op_name(name): loaded for name, loaded in spec_set.specs.items()}

    @run_failure_sensor(
        name=FAILURE_SENSOR_NAME,
        minimum_interval_seconds=automation.sensor_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if automation.runs("sensor") else DefaultSensorStatus.STOPPED,
        description="Tags failed runs with the failed sprites and the first reason (spec, step, error).",
    )
    def sprite_failure_reasons(context: RunFailureSensorContext) -> None:
        steps = context.get_step_failure_events()
        lines = [
            describe_step_failure(ev.step_key, getattr(ev.event_specific_data, "error", None), specs_by_op)
            for ev in steps
        ]
        if not lines:  # the run failed outside any step (e.g. its code location did not load)
            data = context.failure_event.event_specific_data
            lines = [f"run: {readable_error(getattr(data, 'error', None)) if data else context.failure_event.message}"]
        failed = [specs_by_op[ev.step_key].name if ev.step_key in specs_by_op else str(ev.step_key) for ev in steps]
        run_id = context.dagster_run.run_id
        context.log.info(f"run {run_id} failed:\n" + "\n".join(lines))
        if pending_entries(settings, run_id):
            try:
                published = publish_run(settings, run_id)
                context.log.info(f"published what the run exported: {', '.join(published.published)}")
            except SpriteError as exc:
                context.log.warning(f"could not publish what run {run_id} exported: {exc}")
        context.instance.add_run_tags(
            context.dagster_run.run_id,
            {"sprites/failed": _clip(", ".join(failed) or "run"), "sprites/failure": _clip(lines[0])},
        )

    return sprite_failure_reasons
