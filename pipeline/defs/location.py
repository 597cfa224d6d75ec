"""The code location, built from settings: specs -> assets, checks, automation, the resource, the executor.

Executor: ``in_process_executor`` by default (``SPRITES_EXECUTOR=celery`` for workers: ``pipeline.defs.executors``).
The multiprocess executor re-imports the code location for every step (measured: 30 assets out of 3000
took 185 s vs 16 s in-process), while the work per sprite is a few milliseconds on the embedded backend
and a wait on a remote server for ComfyUI; GPU concurrency comes from the ComfyUI backend keeping every
server's queue fed, and concurrency *between* runs from the run queue and the ``comfyui`` pool in
dagster_home/dagster.yaml.

Automation (spec sensor, rebuild schedule, optional declarative conditions) and asset checks come from
``pipeline.defs.automation``; which of them start running is ``SPRITES_AUTOMATION`` (docs/automation.md).

Invalid specs never take the location down: it loads every valid sprite (``load_spec_set``; a sprite
whose workflow template cannot be bound counts as invalid too) and shows each bad spec file as a
failing item (``pipeline.defs.automation.spec_checks``), so that fixing the file and reloading is enough.

Invalid settings (an environment variable with a typo) do not take it down either: the location then holds
one failing item, ``settings/invalid``, whose description is the error naming each variable and what to do
(``settings_problem_definitions``), instead of a load error wrapped in Dagster's traceback.

Kept apart from ``pipeline.definitions`` (which builds the location for the environment when imported)
so the CLI and the MCP server can build one for *their* settings without loading another project first.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from dagster import AssetKey, AssetSpec, Definitions

from pipeline.core.generate import resolve_requests
from pipeline.core.specs import SpecSet, load_spec_set
from pipeline.core.specs.parse_cache import PARSE_CACHE_FILE
from pipeline.defs.asset_keys import SETTINGS_PROBLEM_KEY_PATH
from pipeline.defs.assets import build_assets
from pipeline.defs.automation import AutomationSettings, build_automation
from pipeline.defs.automation.spec_checks import build_spec_problem_assets
from pipeline.defs.executors import ExecutorSettings, executor_definition
from pipeline.defs.resources import SpritePipelineResource
from pipeline.errors import ConfigError, SpecProblem, SpriteError
from pipeline.settings import Settings

__all__ = ["SETTINGS_ERRORS_GROUP", "build_definitions", "loadable_specs", "settings_problem_definitions"]

SETTINGS_ERRORS_GROUP = "settings_errors"


def loadable_specs(spec_set: SpecSet, settings: Settings, only: Collection[str] | None = None) -> SpecSet:
    """``spec_set`` without the sprites whose generation request cannot be resolved (e.g. a missing
    workflow template), which become problems of their spec file instead. ``only``: check just these
    sprites (a run of a few sprites out of thousands; the others are kept as they are)."""
    names = None if only is None else [n for n in spec_set.specs if n in only]
    try:
        resolve_requests(spec_set, settings, names)
        return spec_set
    except SpriteError:
        pass
    good, problems = {}, list(spec_set.problems)
    for name, loaded in spec_set.specs.items():
        if only is not None and name not in only:
            good[name] = loaded
            continue
        try:
            resolve_requests(spec_set, settings, [name])
        except SpriteError as exc:
            problems.append(SpecProblem(loaded.file, str(exc), line=loaded.line, sprite=name, field="generation"))
        else:
            good[name] = loaded
    return replace(spec_set, specs=good, problems=tuple(problems))


def build_definitions(
    settings: Settings,
    offline: bool = False,
    only: Collection[str] | None = None,
    automation: AutomationSettings | None = None,
    checks: bool = True,
    executor: ExecutorSettings | None = None,
    spec_set: SpecSet | None = None,
) -> Definitions:
    """The code location for ``settings``; ``only`` limits the sprite assets (see ``build_assets``).

    The sprite and manifest checks are evaluated inside their steps, in every build (a check not run for
    the latest materialization looks passed in the UI). ``checks=False`` (``sprites build``) only leaves out
    the items of invalid spec files, which a build from the command line, refused on invalid specs, never
    needs. ``automation``: instead of that of ``settings``. ``executor``: where queued runs' steps execute
    (``pipeline.defs.executors``; default in-process; the code location passes its settings).
    """
    executor = executor or ExecutorSettings()
    spec_set = loadable_specs(
        spec_set if spec_set is not None else load_spec_set(settings.specs_dir, settings.state_dir / PARSE_CACHE_FILE),
        settings,
        only,
    )
    assets = build_assets(spec_set, settings, only=only)
    automation = automation or settings
    auto = build_automation(spec_set, settings, automation, assets, only=only)
    problem_assets, problem_checks = (
        build_spec_problem_assets(spec_set, with_checks=automation.runs("sensor")) if checks else ([], [])
    )
    return Definitions(
        assets=[*auto.assets, *problem_assets],
        asset_checks=problem_checks,
        schedules=auto.schedules,
        sensors=auto.sensors,
        resources={
            "sprites": SpritePipelineResource.from_settings(
                settings, offline=offline, submit_run_up_front=not executor.per_step_processes
            )
        },
        executor=executor_definition(executor),
    )


def settings_problem_definitions(error: ConfigError) -> Definitions:
    """What the code location serves when its settings are invalid: one item, ``settings/invalid``, saying
    which setting is wrong and how to fix it (its first line is what the asset graph shows). No sprite is
    loaded: every folder, backend and URL comes from the settings."""
    text = str(error)
    return Definitions(
        assets=[
            AssetSpec(
                AssetKey(list(SETTINGS_PROBLEM_KEY_PATH)),
                group_name=SETTINGS_ERRORS_GROUP,
                description=(
                    f"{text}\n\nNo sprite is loaded until this is fixed. Correct the environment variable (or the "
                    "`sprites dev` flag) named above and restart `dagster dev`: the environment is read when the "
                    "code location starts. `sprites list` in the same environment prints the same error."
                ),
                kinds={"env"},
                tags={"settings_status": "invalid"},
                metadata={"problem": text},
            )
        ]
    )
