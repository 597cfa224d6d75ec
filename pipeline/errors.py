"""The project's one exception tree.

    SpriteError                      anything the pipeline reports to a user
    ├── SpecError                    bad sprite specs: carries every SpecProblem found at once
    ├── CandidateError               a pick that cannot be made (no candidates, no such one, file read-only)
    ├── ConfigError                  bad settings (paths, environment variables, resource config)
    ├── GenerationError              a backend could not produce a render
    │   ├── GenerationCancelled      the job was interrupted (Dagster run cancelled, /interrupt)
    │   └── ServerError              a ComfyUI server failed or answered nonsense (names the server)
    ├── PixelateError                the pixel stage refused its input (no trustworthy grid, ...)
    ├── ExportError                  writing into the Bevy folder failed or was refused
    │   └── UnsafePathError          a path would leave the configured folder
    └── CacheError                   the cache is unusable (not: a corrupt entry, that is a miss)

Lower-level errors (YAML, pydantic, httpx, OSError) are translated at the boundary with
``raise ... from exc`` so that callers only ever catch ``SpriteError``; the CLI prints its
message without a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CacheError",
    "CandidateError",
    "ConfigError",
    "ExportError",
    "GenerationCancelled",
    "GenerationError",
    "PixelateError",
    "ServerError",
    "SpecError",
    "SpecProblem",
    "SpriteError",
    "UnsafePathError",
    "message_of",
]


class SpriteError(Exception):
    """Base of every error the pipeline raises on purpose. ``str()`` is the user-facing message."""


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong with one spec: where it is and what to do about it."""

    file: str
    message: str
    line: int | None = None
    sprite: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        parts = [where]
        if self.sprite:
            parts.append(f"sprite '{self.sprite}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ": ".join(parts) + f": {self.message}"


class SpecError(SpriteError):
    """One or more invalid specs. ``problems`` lists every one of them, not just the first."""

    def __init__(self, problems: list[SpecProblem]):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in sprite specs:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


class CandidateError(SpriteError):
    """A pick among a sprite's candidates that cannot be made; names the spec file and field."""

    def __init__(self, problem: SpecProblem):
        self.problem = problem
        super().__init__(str(problem))


class ConfigError(SpriteError):
    """Invalid configuration: a folder, a setting or an environment variable."""


class GenerationError(SpriteError):
    """A backend failed to produce a render for a sprite."""


class GenerationCancelled(GenerationError):
    """The generation job was cancelled (interrupted on the server or by the run)."""


class ServerError(GenerationError):
    """A generation server failed, was unreachable, or answered something unexpected."""

    def __init__(self, server: str, message: str):
        self.server = server
        super().__init__(f"{server}: {message}")


class PixelateError(SpriteError):
    """The pixel stage could not turn a render into pixel art it can trust."""


class ExportError(SpriteError):
    """Writing into the Bevy assets folder failed."""


class UnsafePathError(ExportError):
    """A path would escape the configured folder (``..``, absolute paths, symlinks)."""


class CacheError(SpriteError):
    """The cache folder itself is unusable (permissions, not a directory)."""


def message_of(error: Any, *, with_class: bool = False) -> str:
    """What to tell a user about a serialized error chain (Dagster's ``SerializableErrorInfo``).

    Our own error's message when one is in the chain (it was written for the user), else the innermost
    error's ``Class: message``. Dagster prefixes messages with the qualified class name; that is dropped.
    """
    if error is None:
        return "unknown error"
    chain = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    ours = next((e for e in chain if (getattr(e, "cls_name", None) or "") in _OURS), None)
    chosen = ours or chain[-1]
    cls = getattr(chosen, "cls_name", None) or "Error"
    message = (getattr(chosen, "message", "") or "").strip()
    message = re.sub(rf"^(?:[\w.]+\.)?{re.escape(cls)}:\s*", "", message)
    if with_class or ours is None:
        return f"{cls}: {message}" if message else cls
    return message or cls


_OURS = frozenset(name for name in __all__ if name[0].isupper()) - {"SpecProblem"}
