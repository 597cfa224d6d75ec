"""Which Dagster executor runs a run's steps: in-process (the default) or Celery workers (docs/scaling.md).

``SPRITES_EXECUTOR=in_process`` (default): every step of a run in the run's own process. The code is loaded
once per run, and a ComfyUI run submits all its renders up front so every GPU queue stays fed.

``SPRITES_EXECUTOR=celery``: each sprite step becomes a Celery task (dagster-celery) picked up by a worker
on any machine; start workers with ``celery -A pipeline.defs.celery_app worker -Q dagster`` where the same
code, the same ``SPRITES_*`` folders and the same ``DAGSTER_HOME`` instance are visible (a Postgres-backed instance
across machines). Each worker process generates one sprite at a time on its own ``SPRITES_COMFYUI_URL``
(typically the GPU box it runs on); the run-wide up-front submission is off, since a step's process ends
with the step. It pays off when steps are long (GPU renders): every task loads the code location.

Runs launched through the run queue (UI, sensors, schedules, GraphQL, MCP) use the chosen executor;
``sprites build`` executes in-process whatever is chosen (``execute_in_process``).

The settings (``ExecutorSettings``, part of ``pipeline.settings.Settings``) are read from the environment by
``definitions.py`` and ``pipeline.defs.celery_app``, never at import time. No
dagster-celery import unless the Celery executor is chosen.
"""

from __future__ import annotations

from typing import Any

from pipeline.settings.sections import ExecutorSettings

__all__ = ["ExecutorSettings", "executor_definition"]


def executor_definition(settings: ExecutorSettings) -> Any:
    """The Dagster executor for ``settings``."""
    if settings.executor == "in_process":
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
