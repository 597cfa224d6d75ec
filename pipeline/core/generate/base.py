"""The generation backend interface: a resolved, hashable request in; rendered frames (PNG bytes) out.

A backend first *resolves* a spec into a ``GenerationRequest``: everything that determines the render
(for ComfyUI the fully bound workflow graph; for the procedural backend its parameters), and nothing
else. The request's ``key`` is the generation stage's cache key: equal keys mean equal renders, so a
change to a sprite's output path never regenerates it while a change to its prompt does.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from pipeline.core.specs.model import SpriteSpec
    from pipeline.settings import Settings

__all__ = ["Backend", "GenerationRequest", "GenerationResult", "ProgressFn", "canonical_json", "sha256_hex"]

#: progress callback: (fraction done 0..1, human-readable message)
ProgressFn = Callable[[float, str], None]


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON (sorted keys, no whitespace) for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that determines a render, resolved from a spec. ``payload`` must be JSON-able."""

    sprite: str
    backend: str
    backend_version: str
    payload: dict[str, Any]
    frames: int
    width: int  # render width of one frame
    height: int
    #: other files the render depends on (an ``init_image``): project-relative path -> sha256 of the bytes
    #: read while resolving. The no-op fast path re-hashes them (``pipeline.state.inputs``).
    input_files: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def key(self) -> str:
        """The generation cache key: hash of backend identity and the resolved payload (not the sprite name)."""
        return sha256_hex(
            canonical_json(
                {
                    "backend": self.backend,
                    "backend_version": self.backend_version,
                    "payload": self.payload,
                    "frames": self.frames,
                    "size": [self.width, self.height],
                }
            )
        )


@dataclass
class GenerationResult:
    """Rendered frames as PNG bytes (render resolution), plus what happened (server, ids, timings)."""

    frames: list[bytes]
    info: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """A way to produce renders. Implementations: ``procedural`` (embedded) and ``comfyui``."""

    kind: ClassVar[str]
    #: True for backends that talk to a server (``--offline`` forbids them); the embedded one is local
    remote: ClassVar[bool] = True
    #: bump when the same request would now produce different pixels (invalidates cached renders)
    version: ClassVar[str]

    @abstractmethod
    def resolve(self, spec: SpriteSpec, settings: Settings) -> GenerationRequest:
        """Bind a spec into a request. Pure: no network, no GPU. Raises SpecError/GenerationError."""

    @abstractmethod
    def generate(
        self,
        request: GenerationRequest,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        """Produce the render frames for a request. Raises GenerationError (or a subclass)."""

    def prepare(self, requests: list[GenerationRequest]) -> dict[str, Future[GenerationResult]]:
        """Called once per run with every request the run will generate, before the first ``generate``.

        A remote backend may submit them all now so that its servers never idle while the pipeline
        post-processes; ``generate`` then only waits for the matching result. Returns a future per
        submitted request key, so the caller can store results as soon as they exist. Default: nothing.
        """
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""
