"""A failed run, explained in one line per sprite: which spec, which step, what our code said (no Dagster import).

Dagster wraps every error raised in a step (``DagsterExecutionStepExecutionError: Error occurred while
executing op ...``); the message worth reading is the project's own error further down the cause
chain, which names the spec field, the ComfyUI node or the server. ``pipeline.errors`` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline import errors
from pipeline.specs import LoadedSpec

__all__ = ["describe_step_failure", "readable_error"]

_OURS = frozenset(errors.__all__) - {"SpecProblem"}


def readable_error(error: Any) -> str:
    """``Class: message`` of our own error in the chain (or of the innermost error when none is ours).

    ``error`` is a Dagster ``SerializableErrorInfo`` (anything with ``cls_name``, ``message``, ``cause``).
    """
    if error is None:
        return "unknown error"
    chain = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    chosen = next((e for e in chain if (getattr(e, "cls_name", None) or "") in _OURS), chain[-1])
    cls = getattr(chosen, "cls_name", None) or "Error"
    message = (getattr(chosen, "message", "") or "").strip()
    message = re.sub(rf"^(?:[\w.]+\.)?{re.escape(cls)}:\s*", "", message)  # "pipeline.errors.X: ..." -> "..."
    return f"{cls}: {message}" if message else cls


def describe_step_failure(step_key: str | None, error: Any, specs_by_op: Mapping[str, LoadedSpec]) -> str:
    """``sprite (sprite_specs/file.yaml:line), step <key>: Class: message``."""
    loaded = specs_by_op.get(step_key or "")
    where = (
        f"{loaded.name} (sprite_specs/{loaded.file}:{loaded.line}), step {step_key}" if loaded else f"step {step_key}"
    )
    return f"{where}: {readable_error(error)}"
