"""The settings of two parts of the pipeline, declared here so that ``Settings`` holds them all (it inherits
these sections: one flat model, one variable per field, every name unique).

``AutomationSettings``: which automation starts enabled under ``dagster dev``, when, and how (docs/automation.md).
``ExecutorSettings``: where a queued run's sprite steps execute (``pipeline.defs.executors``, docs/scaling.md).
Each works on its own too (tests build one with the fields they need); no Dagster import at module level.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic_settings import NoDecode

from pipeline.settings.fields import setting

__all__ = ["AutomationSettings", "ExecutorSettings", "Mechanism", "check_url"]

Mechanism = Literal["sensor", "schedule", "conditions"]
_MECHANISMS: tuple[Mechanism, ...] = ("sensor", "schedule", "conditions")
_OFF = ("off", "none")


def check_url(value: str, schemes: tuple[str, ...], example: str) -> str:
    """``value`` if it is a URL with one of ``schemes`` and a host; a ValueError saying what is accepted."""
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in schemes or not rest.split("/", 1)[0]:
        raise ValueError(f"expected an {'/'.join(schemes)} URL such as {example}")
    return value


class AutomationSettings(BaseModel):
    """Automation: every field has a default that works on a fresh machine."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    enabled: Annotated[frozenset[Mechanism], NoDecode] = setting(
        frozenset({"sensor", "schedule"}),
        env="SPRITES_AUTOMATION",
        help="which automation starts running: comma list of sensor, schedule, conditions, or none; sensor and "
        "schedule are always defined and can be switched on in the UI",
    )
    schedule_cron: str = setting(
        "0 3 * * *", env="SPRITES_SCHEDULE_CRON", help="cron of the schedule that rebuilds stale sprites"
    )
    schedule_timezone: str = setting("UTC", env="SPRITES_SCHEDULE_TIMEZONE", help="time zone of that cron")
    sensor_interval_seconds: int = setting(
        15, env="SPRITES_SENSOR_INTERVAL", help="seconds between two looks at the spec files", ge=1, le=86400
    )
    dagster_url: str | None = setting(
        None,
        env="SPRITES_DAGSTER_URL",
        help="the Dagster webserver (e.g. http://127.0.0.1:3000): MCP runs launch through it and the spec sensor "
        "reloads the code location through it; off: neither (MCP runs in-process)",
        default_doc="none: the MCP server probes http://127.0.0.1:3000; `sprites dev` sets its own address",
    )
    code_location: str = setting(
        "sprites",
        env="SPRITES_CODE_LOCATION",
        help="name of the code location to reload (letters, digits, _ . -)",
        pattern=r"^[A-Za-z0-9_.-]+$",
    )

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
            ScheduleDefinition(name="check", cron_schedule=value, job_name="check")
        except DagsterInvalidDefinitionError:
            raise ValueError(
                f"'{value}' is not a valid cron expression (five fields, e.g. '0 3 * * *': every day at 03:00)"
            ) from None
        return value

    @field_validator("schedule_timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
        return value

    @field_validator("dagster_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if value.lower() in _OFF:
            return "off"
        try:
            return check_url(value, ("http", "https"), "http://127.0.0.1:3000")
        except ValueError as exc:
            raise ValueError(f"{exc}, or 'off' (no webserver)") from None

    def runs(self, mechanism: Mechanism) -> bool:
        return mechanism in self.enabled

    @property
    def webserver_url(self) -> str | None:
        """The webserver named by ``dagster_url`` (None when unset or off)."""
        return None if self.dagster_url in (None, "off") else self.dagster_url


class ExecutorSettings(BaseModel):
    """The executor; the default works on a fresh machine (no broker needed)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    executor: Literal["in_process", "celery"] = setting(
        "in_process", env="SPRITES_EXECUTOR", help="where a queued run's sprite steps execute: in_process or celery"
    )
    celery_broker: str | None = setting(
        None,
        env="SPRITES_CELERY_BROKER",
        help="Celery broker URL for SPRITES_EXECUTOR=celery, e.g. redis://host:6379/0",
    )
    celery_backend: str | None = setting(
        None, env="SPRITES_CELERY_BACKEND", help="Celery result backend URL", default_doc="the broker"
    )

    @field_validator("executor", mode="before")
    @classmethod
    def _spelling(cls, value: Any) -> Any:
        return value.strip().lower().replace("-", "_") if isinstance(value, str) else value

    @field_validator("celery_broker", "celery_backend")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme, sep, _ = value.partition("://")
        if not sep or not scheme:  # any transport Celery knows (redis, amqp, sqs, ...): it checks the rest
            raise ValueError("expected a broker URL such as redis://host:6379/0")
        return value

    @model_validator(mode="after")
    def _broker_for_celery(self) -> Any:
        if self.executor == "celery" and not self.celery_broker:
            raise ValueError("SPRITES_EXECUTOR=celery needs SPRITES_CELERY_BROKER (e.g. redis://127.0.0.1:6379/0)")
        return self

    @property
    def per_step_processes(self) -> bool:
        """Steps run in processes that end with the step (no run-wide state such as up-front submission)."""
        return self.executor == "celery"

    def celery_config(self) -> dict[str, Any]:
        """What the executor and the workers' Celery app are configured with (they must agree).

        Late acks with a prefetch of 1 (Celery's recipe for long tasks): a worker reserves no step beyond the
        one it runs, so a second worker gets the next one instead of it waiting behind the first.
        """
        return {
            "broker": self.celery_broker,
            "backend": self.celery_backend or self.celery_broker,
            "config_source": {"task_acks_late": True, "worker_prefetch_multiplier": 1},
        }
