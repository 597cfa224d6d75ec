"""Thin root of the Dagster code location (what ``workspace.yaml`` loads): this environment's project.

See ``pipeline.defs.location`` for what it contains and why the executor is in-process. Invalid settings
load as one failing item naming the variable (``settings_problem_definitions``), and the same message on
stderr, instead of a load error inside Dagster's traceback.
"""

import sys

from pipeline.defs.location import build_definitions, settings_problem_definitions
from pipeline.errors import ConfigError
from pipeline.settings import Settings

__all__ = ["build_definitions", "defs"]

try:
    _settings = Settings.from_env()
    defs = build_definitions(_settings, executor=_settings)
except ConfigError as _error:
    print(f"sprites: {_error} (the code location loads only its settings/invalid item)", file=sys.stderr)
    defs = settings_problem_definitions(_error)
