"""Generation backends behind one interface (``Backend``): the embedded procedural one and ComfyUI."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pipeline.core.generate.base import Backend, GenerationRequest, GenerationResult, ProgressFn
from pipeline.errors import ConfigError, SpecError
from pipeline.settings.model import BACKEND_KINDS

if TYPE_CHECKING:
    from pipeline.core.specs import SpecSet
    from pipeline.settings import Settings

__all__ = [
    "BACKEND_KINDS",
    "Backend",
    "GenerationRequest",
    "GenerationResult",
    "ProgressFn",
    "make_backend",
    "resolve_requests",
]


def make_backend(kind: str, settings: Settings) -> Backend:
    """The backend named ``kind``, configured from ``settings``."""
    if kind == "procedural":
        from pipeline.core.generate.procedural import ProceduralBackend

        return ProceduralBackend()
    if kind == "image":
        from pipeline.core.generate.image import ImageFileBackend

        return ImageFileBackend(settings)
    if kind == "comfyui":
        try:
            from pipeline.core.generate.comfyui import ComfyUIBackend
        except ImportError as exc:
            raise ConfigError("the comfyui backend is not available in this version") from exc
        return ComfyUIBackend.from_settings(settings)  # type: ignore[no-any-return, unused-ignore]
    raise ConfigError(f"unknown backend '{kind}'; known backends: {', '.join(BACKEND_KINDS)}")


def resolve_requests(
    spec_set: SpecSet, settings: Settings, names: list[str] | None = None
) -> dict[str, GenerationRequest]:
    """Every sprite's generation request, by name (pure: binds specs without contacting any server).

    ``settings.backend``, when set (``--backend`` / ``SPRITES_BACKEND``), overrides each spec's backend.
    """
    backends: dict[str, Backend] = {}
    out = {}
    for loaded in spec_set if names is None else (spec_set.specs[n] for n in names):
        kind = settings.backend or loaded.spec.generation.backend
        if kind not in backends:
            backends[kind] = make_backend(kind, settings)
        try:
            out[loaded.name] = backends[kind].resolve(loaded.spec, settings)
        except SpecError as exc:  # a backend knows the sprite, not its file: say where the spec is
            fix = [p if p.file else dataclasses.replace(p, file=loaded.file, line=loaded.line) for p in exc.problems]
            raise SpecError(fix) from exc
    return out
