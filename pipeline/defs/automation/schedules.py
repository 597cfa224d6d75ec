"""The nightly schedule: materialize every sprite that is stale or missing, and the manifest.

"Stale" is ``pipeline.state.status``'s verdict, the same one ``sprites build`` uses: a stage key no longer
matches the spec, or the PNG in the Bevy folder is gone or was changed by hand. That is stricter than
Dagster's own staleness (``RunRequest(stale_assets_only=True)``), which cannot see files edited in the
Bevy folder. Sprites added since the definitions were loaded are not in them, so they are left to the
spec sensor (or the next reload) and named in the skip reason or the run's tags.
"""

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from pipeline.core.specs import SpecSet, load_spec_set
from pipeline.defs.asset_keys import MANIFEST_KEY, sprite_keys
from pipeline.defs.automation.sensors import ASSET_JOB
from pipeline.defs.automation.settings import AutomationSettings
from pipeline.settings import Settings
from pipeline.state.plan import plan_build

__all__ = ["SCHEDULE_NAME", "build_rebuild_schedule"]

SCHEDULE_NAME = "rebuild_stale_sprites"


def build_rebuild_schedule(spec_set: SpecSet, settings: Settings, automation: AutomationSettings) -> ScheduleDefinition:
    known = set(spec_set.specs)

    @schedule(
        name=SCHEDULE_NAME,
        cron_schedule=automation.schedule_cron,
        execution_timezone=automation.schedule_timezone,
        job_name=ASSET_JOB,  # the implicit job of all assets: no extra job per sensor or schedule
        default_status=DefaultScheduleStatus.RUNNING if automation.runs("schedule") else DefaultScheduleStatus.STOPPED,
        description=(
            f"At '{automation.schedule_cron}' ({automation.schedule_timezone}; SPRITES_SCHEDULE_CRON): "
            "materialize every sprite that is stale or missing (spec changed, or its file in the Bevy folder "
            "is gone or was edited) and republish the manifest."
        ),
    )
    def rebuild_stale_sprites(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        from pipeline.defs.location import loadable_specs

        # the valid specs are rebuilt while others are invalid (those show in the spec_errors group)
        current = loadable_specs(load_spec_set(settings.specs_dir), settings)
        invalid = (
            f"; {len(current.problems)} spec problem(s) wait for a fix (group spec_errors)" if current.problems else ""
        )
        in_defs = SpecSet(
            {n: s for n, s in current.specs.items() if n in known}, current.file_hashes, current.categories
        )
        unknown = sorted(set(current.specs) - known)
        # the build service's plan; an older lockfile counts as empty (the run rewrites the lock)
        plan = plan_build(settings, in_defs)
        state, todo = plan.project, plan.todo
        states = list(state.sprites.values())
        note = (
            f"; not in the loaded definitions yet (reload the code location): {', '.join(unknown)}" if unknown else ""
        ) + invalid
        published = not state.unpublished and (bool(current.problems) or not state.removed)
        if not todo and published:
            return SkipReason(f"all {len(states)} sprites are up to date{note}")
        for st in todo:
            context.log.info(f"{st.name}: {st.status} ({st.reason})")
        return RunRequest(
            asset_selection=[*(k for st in todo for k in sprite_keys(st.name)), MANIFEST_KEY],
            tags={
                **({"sprites/not_loaded": ", ".join(unknown)[:200]} if unknown else {}),
                "sprites/source": "schedule",
                "sprites/count": str(len(todo)),
                "sprites/stale": str(sum(st.status == "stale" for st in todo)),
                "sprites/missing": str(sum(st.status == "missing" for st in todo)),
            },
        )

    return rebuild_stale_sprites
