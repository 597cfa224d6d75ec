"""Automation and observability: the spec sensor, the rebuild schedule, declarative conditions, and the
checks (``checks``: evaluated inside the sprite and manifest steps; ``spec_checks``: invalid spec files).

``build_automation`` is what ``definitions.py`` calls; each part lives in its own small module, and
the decisions (what changed, what a check verifies) in modules without a Dagster import
(``spec_changes``, ``verify``, ``reload``, ``settings``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from dagster import AssetsDefinition, ScheduleDefinition, SensorDefinition

from pipeline.core.specs import SpecSet
from pipeline.defs.automation.conditions import build_condition_sensor, with_conditions
from pipeline.defs.automation.schedules import build_rebuild_schedule
from pipeline.defs.automation.sensors import build_failure_sensor, build_spec_sensor
from pipeline.defs.automation.settings import AutomationSettings
from pipeline.settings import Settings

__all__ = ["Automation", "AutomationSettings", "build_automation"]


@dataclass(frozen=True)
class Automation:
    assets: list[AssetsDefinition]  # the input assets, with automation conditions when enabled
    schedules: list[ScheduleDefinition]
    sensors: list[SensorDefinition]


def build_automation(
    spec_set: SpecSet,
    settings: Settings,
    automation: AutomationSettings,
    assets: list[AssetsDefinition],
    only: Collection[str] | None = None,
) -> Automation:
    """Everything that runs the pipeline without a person pressing a button.

    ``only``: the sprites whose assets ``assets`` defines (``build_assets(..., only=...)``).
    """
    conditions = automation.runs("conditions")
    if only is not None:
        # a run launched from this process (``execute_in_process``) never evaluates a sensor or a schedule;
        # the spec sensor alone would hash every input file of the project to be defined
        return Automation(assets=with_conditions(assets) if conditions else assets, schedules=[], sensors=[])
    return Automation(
        assets=with_conditions(assets) if conditions else assets,
        schedules=[build_rebuild_schedule(spec_set, settings, automation)],
        sensors=[
            build_spec_sensor(spec_set, settings, automation),
            build_failure_sensor(spec_set, settings, automation),
            *([build_condition_sensor(automation)] if conditions else []),
        ],
    )
