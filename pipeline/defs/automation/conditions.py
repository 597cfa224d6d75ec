"""Declarative automation (opt-in, ``SPRITES_AUTOMATION=...,conditions``): assets that keep themselves fresh.

Each sprite asset materializes when it is missing, when its ``code_version`` (the hash of its stage's
inputs) changed, or when an upstream stage updates or is requested in the same tick; so an edited spec,
once the code location is reloaded, rebuilds exactly its sprite (raw, pixel and bevy in one run) and a
bumped stage version rebuilds every sprite that stage touches. The manifest follows whenever any sprite
updates or the set of specs changed. Conditions are attached here with ``map_asset_specs``, so
``assets.py`` stays unaware of automation.
"""

from dagster import (
    AssetsDefinition,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)

from pipeline.defs.asset_keys import MANIFEST_KEY
from pipeline.defs.automation.settings import AutomationSettings

__all__ = [
    "CONDITION_SENSOR_NAME",
    "build_condition_sensor",
    "manifest_condition",
    "sprite_condition",
    "with_conditions",
]

CONDITION_SENSOR_NAME = "sprite_automation_conditions"


def _inputs_changed() -> AutomationCondition:
    """Missing, a new code version (the hash of the stage's inputs), or a dependency updated or requested now."""
    trigger: AutomationCondition = (
        AutomationCondition.missing()
        | AutomationCondition.code_version_changed()
        | AutomationCondition.any_deps_updated()
    )
    return trigger


def sprite_condition() -> AutomationCondition:
    """Missing, new inputs (code version) or an upstream stage updated; never twice in flight."""
    return (
        _inputs_changed().since_last_handled()
        & ~AutomationCondition.any_deps_missing()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("sprite inputs changed")


def manifest_condition() -> AutomationCondition:
    """Republish when any sprite updated (or is requested now) or the set of specs changed."""
    return (
        _inputs_changed().since_last_handled()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("a sprite or the spec list changed")


def with_conditions(assets: list[AssetsDefinition]) -> list[AssetsDefinition]:
    """The same assets, each spec carrying its automation condition."""
    sprite, manifest = sprite_condition(), manifest_condition()
    return [
        a.map_asset_specs(
            lambda spec: spec.replace_attributes(automation_condition=manifest if spec.key == MANIFEST_KEY else sprite)
        )
        for a in assets
    ]


def build_condition_sensor(automation: AutomationSettings) -> AutomationConditionSensorDefinition:
    """The sensor that evaluates the conditions (running from the start when conditions are enabled)."""
    return AutomationConditionSensorDefinition(
        CONDITION_SENSOR_NAME,
        target=AssetSelection.all(),
        minimum_interval_seconds=max(automation.sensor_interval_seconds, 30),
        default_status=DefaultSensorStatus.RUNNING,
        description="Evaluates the sprites' automation conditions (SPRITES_AUTOMATION includes 'conditions').",
    )
