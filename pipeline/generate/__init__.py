"""Generation backends behind one interface (``Backend``): the embedded procedural one and ComfyUI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.errors import ConfigError
from pipeline.generate.base import Backend, GenerationRequest, GenerationResult, ProgressFn

if TYPE_CHECKING:
    from pipeline.settings import Settings

__all__ = ["BACKEND_KINDS", "Backend", "GenerationRequest", "GenerationResult", "ProgressFn", "make_backend"]

BACKEND_KINDS = ("procedural", "comfyui")


def make_backend(kind: str, settings: Settings) -> Backend:
    """The backend named ``kind``, configured from ``settings``."""
    if kind == "procedural":
        from pipeline.generate.procedural import ProceduralBackend

        return ProceduralBackend()
    if kind == "comfyui":
        try:
            from pipeline.generate.comfyui import ComfyUIBackend
        except ImportError as exc:
            raise ConfigError("the comfyui backend is not available in this version") from exc
        return ComfyUIBackend.from_settings(settings)  # type: ignore[no-any-return, unused-ignore]
    raise ConfigError(f"unknown backend '{kind}'; known backends: {', '.join(BACKEND_KINDS)}")
