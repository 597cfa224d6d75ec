"""The spec sensor: edit, add or delete a YAML file and exactly the affected sprites are rebuilt.

Each tick hashes ``sprite_specs/`` and ``comfy_workflows/`` (a few ms for hundreds of files) and lets
``spec_changes.evaluate_spec_changes`` decide. When the files differ from what the running definitions
were built from, the code location must be reloaded first (a sensor cannot redefine its own assets):
with ``SPRITES_DAGSTER_URL`` set the sensor asks the webserver to reload, otherwise its skip reason
tells the user to press "Reload definitions". The cursor only advances once the reloaded definitions
see the same bytes, so the run is requested by the first tick after the reload, against assets that
describe the current specs.

Invalid specs: the loaded definitions hold the valid sprites and one ``spec/<file>`` item per bad file.
The sensor records each such file's failed ``valid`` check (once per set of problems, runless) and, until
they are fixed, every tick that requests no run is skipped with the problems as its reason (the UI shows
a skipped tick's reason on hover, a succeeded one as a green check). Its target is ``AssetSelection.all()``,
not the implicit job by name, so that every asset lists it under Automation and the sensor page names its
target; runs still go to the implicit asset job (no extra job is defined).
"""

from dagster import (
    AssetCheckEvaluation,
    AssetSelection,
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

from pipeline.core.generate import resolve_requests
from pipeline.core.specs import SpecSet, load_spec_set
from pipeline.defs.asset_keys import MANIFEST_KEY, op_name, sprite_keys
from pipeline.defs.automation.failures import describe_step_failure, readable_error
from pipeline.defs.automation.reload import request_reload
from pipeline.defs.automation.settings import AutomationSettings
from pipeline.defs.automation.spec_changes import SpecChanges, evaluate_spec_changes, loaded_input_hashes
from pipeline.defs.automation.spec_checks import spec_problem_evaluations
from pipeline.errors import SpriteError
from pipeline.settings import Settings

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


def _digest(record: object) -> object:
    """The ``digest`` metadata of a check execution record's evaluation (None when it has none)."""
    event = getattr(record, "event", None)
    data = event.dagster_event.event_specific_data if event is not None and event.dagster_event else None
    value = data.metadata.get("digest") if isinstance(data, AssetCheckEvaluation) else None
    return getattr(value, "value", None)


def _unreported(
    context: SensorEvaluationContext, evaluations: list[AssetCheckEvaluation]
) -> list[AssetCheckEvaluation]:
    """The evaluations whose problems differ from the latest recorded for their check (or none is)."""
    if not evaluations:
        return []
    latest = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [ev.asset_check_key for ev in evaluations]
    )
    return [ev for ev in evaluations if _digest(latest.get(ev.asset_check_key)) != _digest_of(ev)]


def _digest_of(evaluation: AssetCheckEvaluation) -> object:
    value = evaluation.metadata.get("digest")
    return getattr(value, "value", None)


def _problems_note(spec_set: SpecSet) -> str:
    n = len(spec_set.problems)
    if not n:
        return ""
    shown = "\n".join(f"  {p}" for p in spec_set.problems[:10])
    more = f"\n  ... and {n - 10} more" if n > 10 else ""
    return (
        f"INVALID SPECS: {n} problem{'s' if n != 1 else ''}; those sprites are not loaded (see the spec_errors "
        f"group) until the files are fixed:\n{shown}{more}\n"
    )


def build_spec_sensor(spec_set: SpecSet, settings: Settings, automation: AutomationSettings) -> SensorDefinition:
    """The sensor over the spec and workflow files these definitions were built from."""
    from pipeline.defs.location import loadable_specs

    loaded = loaded_input_hashes(spec_set, settings)
    # recorded only where the checks are defined: the sensor starts running (``build_spec_problem_assets``)
    problems = spec_problem_evaluations(spec_set) if automation.runs("sensor") else []
    note = _problems_note(spec_set)

    @sensor(
        name=SPEC_SENSOR_NAME,
        # all assets, resolved per run request to the implicit asset job: no extra job is defined
        asset_selection=AssetSelection.all(),
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
            settings,
            loaded,
            context.cursor,
            lambda specs: resolve_requests(specs, settings),
            load=lambda folder: loadable_specs(load_spec_set(folder), settings),
        )
        context.log.info(f"{changes.status}: {changes.message}")
        events = _unreported(context, problems) if changes.status != "reload" else []
        if changes.status == "build":
            return SensorResult(run_requests=[run_request_for(changes)], cursor=changes.cursor, asset_events=events)
        message = (note if changes.status != "reload" else "") + changes.message
        if changes.status == "reload":
            if automation.webserver_url:
                message += f"; {request_reload(automation.webserver_url, automation.code_location)}"
                message += "; the next tick requests the runs"
            else:
                message += (
                    f": reload code location '{automation.code_location}' (Deployment > Reload, or "
                    "set SPRITES_DAGSTER_URL so that this sensor does it); the next tick then requests the runs"
                )
        return SensorResult(
            skip_reason=SkipReason(message), cursor=changes.cursor or context.cursor, asset_events=events
        )

    return sprite_spec_sensor


def build_failure_sensor(spec_set: SpecSet, settings: Settings, automation: AutomationSettings) -> SensorDefinition:
    """Tags every failed run with what failed and why, so the Runs list reads like a build report, and
    publishes what the run did export (Dagster skipped its manifest step when a sprite failed).

    ``sprites/failed``: the sprites (or steps) that failed; ``sprites/failure``: the first reason, as our
    own error states it (spec file and line, step, error class and message). The full text is in the
    sensor's log and, of course, in the run's own event log.
    """
    from pipeline.defs.publishing import publish_after_run

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
        wanted = MANIFEST_KEY in (context.dagster_run.asset_selection or ())
        try:  # the run's manifest step was skipped: the build service's one rule for publishing what it exported
            published = publish_after_run(context.instance, settings, run_id, spec_set, manifest_wanted=wanted)
            if published is not None:
                context.log.info(f"published what the run exported: {', '.join(published.published) or 'nothing'}")
        except SpriteError as exc:
            context.log.warning(f"could not publish what run {run_id} exported: {exc}")
        context.instance.add_run_tags(
            context.dagster_run.run_id,
            {"sprites/failed": _clip(", ".join(failed) or "run"), "sprites/failure": _clip(lines[0])},
        )

    return sprite_failure_reasons
