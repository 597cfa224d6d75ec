"""Which Dagster executor runs a run's steps: in-process (the default) or Celery workers (docs/scaling.md).

``SPRITES_EXECUTOR=in_process`` (default): every step of a run in the run's own process. The code is loaded
once per run, and a ComfyUI run submits all its renders up front so every GPU queue stays fed.

``SPRITES_EXECUTOR=celery``: each sprite step becomes a Celery task (dagster-celery) picked up by a worker
on any machine; start workers with ``celery -A pipeline.celery_app worker -Q dagster`` where the same code, the same
``SPRITES_*`` folders and the same ``DAGSTER_HOME`` instance are visible (a Postgres-backed instance
across machines). Each worker process generates one sprite at a time on its own ``SPRITES_COMFYUI_URL``
(typically the GPU box it runs on); the run-wide up-front submission is off, since a step's process ends
with the step. It pays off when steps are long (GPU renders): every task loads the code location.

Runs launched through the run queue (UI, sensors, schedules, GraphQL, MCP) use the chosen executor;
``sprites build`` executes in-process whatever is chosen (``execute_in_process``).

Read from the environment by ``definitions.py`` and ``pipeline.celery_app``, never at import time. No
dagster-celery import unless the Celery executor is chosen.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from pipeline.settings import invalid_settings

__all__ = ["EXECUTOR_ENV_VARS", "ExecutorSettings", "executor_definition"]

#: environment variable -> (field, what it does); the README's configuration table.
EXECUTOR_ENV_VARS: dict[str, tuple[str, str]] = {
    "SPRITES_EXECUTOR": ("kind", "in_process (default) or celery: where a queued run's sprite steps execute"),
    "SPRITES_CELERY_BROKER": ("broker", "Celery broker URL for SPRITES_EXECUTOR=celery, e.g. redis://host:6379/0"),
    "SPRITES_CELERY_BACKEND": ("backend", "Celery result backend URL (default: the broker)"),
}


class ExecutorSettings(BaseModel):
    """Typed executor choice; the default works on a fresh machine (no broker needed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["in_process", "celery"] = "in_process"
    broker: str | None = None
    backend: str | None = None

    @model_validator(mode="after")
    def _broker_for_celery(self) -> ExecutorSettings:
        if self.kind == "celery" and not self.broker:
            raise ValueError("SPRITES_EXECUTOR=celery needs SPRITES_CELERY_BROKER (e.g. redis://127.0.0.1:6379/0)")
        return self

    @property
    def per_step_processes(self) -> bool:
        """Steps run in processes that end with the step (no run-wide state such as up-front submission)."""
        return self.kind == "celery"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ExecutorSettings:
        env = os.environ if environ is None else environ
        values = {field: env[var] for var, (field, _) in EXECUTOR_ENV_VARS.items() if env.get(var)}
        if "kind" in values:
            values["kind"] = values["kind"].strip().lower().replace("-", "_")
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise invalid_settings(exc, EXECUTOR_ENV_VARS, "executor setting") from exc

    def celery_config(self) -> dict[str, Any]:
        """What the executor and the workers' Celery app are configured with (they must agree).

        Late acks with a prefetch of 1 (Celery's recipe for long tasks): a worker reserves no step beyond the
        one it runs, so a second worker gets the next one instead of it waiting behind the first.
        """
        return {
            "broker": self.broker,
            "backend": self.backend or self.broker,
            "config_source": {"task_acks_late": True, "worker_prefetch_multiplier": 1},
        }


def executor_definition(settings: ExecutorSettings) -> Any:
    """The Dagster executor for ``settings``."""
    if settings.kind == "in_process":
        from dagster import in_process_executor

        return in_process_executor
    from pipeline.errors import ConfigError

    try:
        from dagster_celery import celery_executor
    except ImportError as exc:
        raise ConfigError(
            "SPRITES_EXECUTOR=celery needs dagster-celery: pip install 'sprite-pipeline[celery]'"
        ) from exc
    return celery_executor.configured(settings.celery_config(), name="celery")
