"""Thin root of the Dagster code location (what ``workspace.yaml`` loads): this environment's project.

See ``pipeline.location`` for what it contains and why the executor is in-process.
"""

from pipeline.location import build_definitions
from pipeline.settings import Settings

__all__ = ["build_definitions", "defs"]

_settings = Settings.from_env()
defs = build_definitions(_settings, executor=_settings)
