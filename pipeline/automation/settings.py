"""How the pipeline runs on its own under ``dagster dev``: which automation starts enabled, when, and how.

Read from the environment by ``definitions.py`` (never at import time of this module); tests pass one
explicitly. No Dagster import here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.settings import invalid_settings

__all__ = ["AUTOMATION_ENV_VARS", "AutomationSettings", "Mechanism"]

Mechanism = Literal["sensor", "schedule", "conditions"]
_MECHANISMS: tuple[Mechanism, ...] = ("sensor", "schedule", "conditions")

#: environment variable -> (field, what it does); the README's automation table.
AUTOMATION_ENV_VARS: dict[str, tuple[str, str]] = {
    "SPRITES_AUTOMATION": (
        "enabled",
        "which automation starts running: comma list of sensor, schedule, conditions, or 'none' "
        "(default: sensor,schedule). Sensor and schedule are always defined and can be switched on in the UI.",
    ),
    "SPRITES_SCHEDULE_CRON": ("schedule_cron", "cron of the schedule that rebuilds stale sprites (default 0 3 * * *)"),
    "SPRITES_SCHEDULE_TIMEZONE": ("schedule_timezone", "time zone of that cron (default UTC)"),
    "SPRITES_SENSOR_INTERVAL": ("sensor_interval_seconds", "seconds between two looks at the spec files (default 15)"),
    "SPRITES_DAGSTER_URL": (
        "dagster_url",
        "the webserver's URL (e.g. http://127.0.0.1:3000; 'off' for none); lets the spec sensor reload the code "
        "location itself when spec files are added, edited or deleted",
    ),
    "SPRITES_CODE_LOCATION": ("code_location", "name of the code location to reload (default: sprites)"),
}


class AutomationSettings(BaseModel):
    """Typed automation configuration; every field has a default that works on a fresh machine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: frozenset[Mechanism] = frozenset({"sensor", "schedule"})
    schedule_cron: str = "0 3 * * *"
    schedule_timezone: str = "UTC"
    sensor_interval_seconds: int = Field(default=15, ge=1, le=86400)
    dagster_url: str | None = None
    code_location: str = "sprites"

    @field_validator("enabled", mode="before")
    @classmethod
    def _parse_enabled(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        words = {w.strip().lower() for w in value.replace(" ", ",").split(",") if w.strip()}
        if words <= {"none", "off"}:
            return frozenset()
        unknown = sorted(words - set(_MECHANISMS))
        if unknown:
            raise ValueError(f"unknown automation {unknown}; choose from {', '.join(_MECHANISMS)} or 'none'")
        return frozenset(words)

    @field_validator("schedule_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from dagster import DagsterInvalidDefinitionError, ScheduleDefinition

        try:  # the parser Dagster itself uses, through its public API
            ScheduleDefinition(name="cron_check", cron_schedule=value, job_name="cron_check")
        except DagsterInvalidDefinitionError:
            raise ValueError(
                f"'{value}' is not a valid cron expression (e.g. '0 3 * * *': every day at 03:00)"
            ) from None
        return value

    @field_validator("dagster_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in ("", "off", "none"):
            return None  # "off": the MCP server's spelling for "no webserver" (same variable)
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"'{value}' must be an http(s) URL such as http://127.0.0.1:3000")
        return value

    def runs(self, mechanism: Mechanism) -> bool:
        return mechanism in self.enabled

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AutomationSettings:
        """Settings from ``SPRITES_*`` variables (see ``AUTOMATION_ENV_VARS``); errors name the variable."""
        env = os.environ if environ is None else environ
        values = {field: env[var] for var, (field, _) in AUTOMATION_ENV_VARS.items() if env.get(var) is not None}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise invalid_settings(exc, AUTOMATION_ENV_VARS, "automation setting") from exc
