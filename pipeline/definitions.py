"""Thin root of the Dagster code location (what ``workspace.yaml`` loads): this environment's project.

See ``pipeline.location`` for what it contains and why the executor is in-process.
"""

from pipeline.automation import AutomationSettings
from pipeline.executors import ExecutorSettings
from pipeline.location import build_definitions
from pipeline.settings import Settings

__all__ = ["build_definitions", "defs"]

defs = build_definitions(
    Settings.from_env(), automation=AutomationSettings.from_env(), executor=ExecutorSettings.from_env()
)
