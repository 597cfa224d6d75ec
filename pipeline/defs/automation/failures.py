"""A failed run, explained in one line per sprite: which spec, which step, what our code said (no Dagster import).

Dagster wraps every error raised in a step (``DagsterExecutionStepExecutionError: Error occurred while
executing op ...``); the message worth reading is the project's own error further down the cause
chain, which names the spec field, the ComfyUI node or the server. ``pipeline.errors`` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.core.specs import LoadedSpec
from pipeline.errors import message_of

__all__ = ["describe_step_failure", "readable_error"]


def readable_error(error: Any) -> str:
    """``Class: message`` of our own error in the chain (or of the innermost error when none is ours)."""
    return message_of(error, with_class=True)


def describe_step_failure(step_key: str | None, error: Any, specs_by_op: Mapping[str, LoadedSpec]) -> str:
    """``sprite (sprite_specs/file.yaml:line), step <key>: Class: message``."""
    loaded = specs_by_op.get(step_key or "")
    where = (
        f"{loaded.name} (sprite_specs/{loaded.file}:{loaded.line}), step {step_key}" if loaded else f"step {step_key}"
    )
    return f"{where}: {readable_error(error)}"
