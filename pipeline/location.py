"""The code location, built from settings: specs -> assets, checks, automation, the resource, the executor.

Executor: ``in_process_executor`` by default (``SPRITES_EXECUTOR=celery`` for workers: ``pipeline.executors``).
The multiprocess executor re-imports the code location for every step (measured: 30 assets out of 3000
took 185 s vs 16 s in-process), while the work per sprite is a few milliseconds on the embedded backend
and a wait on a remote server for ComfyUI; GPU concurrency comes from the ComfyUI backend keeping every
server's queue fed, and concurrency *between* runs from the run queue and the ``comfyui`` pool in
dagster_home/dagster.yaml.

Automation (spec sensor, rebuild schedule, optional declarative conditions) and asset checks come from
``pipeline.automation``; which of them start running is ``SPRITES_AUTOMATION`` (docs/automation.md).

Kept apart from ``pipeline.definitions`` (which builds the location for the environment when imported)
so the CLI and the MCP server can build one for *their* settings without loading another project first.
"""

from __future__ import annotations

from collections.abc import Collection

from dagster import Definitions

from pipeline.assets import build_assets
from pipeline.automation import AutomationSettings, build_automation
from pipeline.executors import ExecutorSettings, executor_definition
from pipeline.resources import SpritePipelineResource
from pipeline.settings import Settings
from pipeline.specs import SpecSet, load_specs

__all__ = ["build_definitions"]


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

    ``checks=False`` leaves the asset checks out (``sprites build`` without ``--checks``): each check result
    is a Dagster event, and four per sprite cost more than building the sprite; the CLI verifies the
    Bevy folder itself (``pipeline.buildstate.status``, ``sprites check --locked``). ``executor``: where
    queued runs' steps execute (``pipeline.executors``; default in-process).
    """
    executor = executor or ExecutorSettings()
    spec_set = spec_set if spec_set is not None else load_specs(settings.specs_dir)
    assets = build_assets(spec_set, settings, only=only)
    auto = build_automation(spec_set, settings, automation or AutomationSettings(), assets, only=only)
    return Definitions(
        assets=auto.assets,
        asset_checks=auto.asset_checks if checks else [],
        schedules=auto.schedules,
        sensors=auto.sensors,
        resources={
            "sprites": SpritePipelineResource.from_settings(
                settings, offline=offline, submit_run_up_front=not executor.per_step_processes
            )
        },
        executor=executor_definition(executor),
    )
