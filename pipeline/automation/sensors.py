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
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from pipeline.assets import MANIFEST_KEY, resolve_requests, sprite_keys
from pipeline.automation.reload import request_reload
from pipeline.automation.settings import AutomationSettings
from pipeline.automation.spec_changes import SpecChanges, evaluate_spec_changes, loaded_input_hashes
from pipeline.settings import Settings
from pipeline.specs import SpecSet

__all__ = ["SPEC_SENSOR_NAME", "build_spec_sensor", "run_request_for"]

SPEC_SENSOR_NAME = "sprite_spec_sensor"
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
    return text if len(text) <= _TAG_LIMIT else text[: _TAG_LIMIT - 3] + "..."


def build_spec_sensor(spec_set: SpecSet, settings: Settings, automation: AutomationSettings) -> SensorDefinition:
    """The sensor over the spec and workflow files these definitions were built from."""
    loaded = loaded_input_hashes(spec_set, settings)

    @sensor(
        name=SPEC_SENSOR_NAME,
        target=AssetSelection.all(),
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
