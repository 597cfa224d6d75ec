"""A sprite request from a tool call -> the spec mapping written to YAML, checked field by field.

Errors name the *tool argument* (``steps``, ``frames``), not the spec path it lands in, and say what is
allowed: the model's own messages, which list palettes, categories and ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from pipeline.core.specs import Categories, SpriteSpec
from pipeline.errors import SpecError, SpriteError

__all__ = ["InvalidArgument", "SpriteRequest", "argument_error", "spec_body"]

#: spec field path -> the tool argument that sets it
_ARGUMENT = {
    "generation.backend": "backend",
    "generation.workflow": "workflow",
    "generation.steps": "steps",
    "generation.cfg": "cfg",
    "generation.init_image": "image_path",
    "generation.loras": "lora",
    "animation.frames": "frames",
    "animation.fps": "fps",
    "pixel.outline": "outline",
    "pixel.background": "background",
    "size.width": "size",
    "size.height": "size",
}


class InvalidArgument(SpriteError):
    """A tool argument the pipeline cannot accept; the message names it and what is allowed."""


@dataclass(frozen=True)
class SpriteRequest:
    """What a caller asks for; ``None`` means: the project default (``sprite_specs/_defaults.yaml``)."""

    prompt: str
    category: str | None = None  # None: the project's default category
    name: str | None = None
    size: str | None = None
    palette: str | list[str] | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    backend: str | None = None
    workflow: str | None = None
    steps: int | None = None
    cfg: float | None = None
    frames: int | None = None
    fps: float | None = None
    outline: str | None = None
    background: str | None = None
    init_image: str | None = None  # a picture relative to the project folder (backend ``image``)
    lora: str | None = None  # one LoRA (``generation.loras``), at ``lora_strength`` (default: the model's 1.0)
    lora_strength: float | None = None


def spec_body(request: SpriteRequest, name: str, categories: Categories | None = None) -> dict[str, Any]:
    """The spec mapping (only what the caller chose; the loader merges project defaults under it), checked
    against the project's ``categories``; a request without a category gets the project's default one."""
    categories = categories or Categories()
    category = request.category or categories.default
    body: dict[str, Any] = {"name": name, "category": category, "prompt": request.prompt.strip()}
    optional = {
        "negative_prompt": request.negative_prompt,
        "size": request.size.replace(" ", "").lower() if request.size else None,
        "palette": request.palette,
        "seed": request.seed,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    sections: dict[str, dict[str, Any]] = {
        "generation": {
            "backend": request.backend,
            "workflow": request.workflow,
            "steps": request.steps,
            "cfg": request.cfg,
            "init_image": request.init_image,
            "loras": [_lora(request)] if request.lora else None,
        },
        "animation": {"frames": request.frames, "fps": request.fps},
        "pixel": {"outline": request.outline, "background": request.background},
    }
    for section, values in sections.items():
        chosen = {k: v for k, v in values.items() if v is not None}
        if chosen:
            body[section] = chosen
    try:
        spec = SpriteSpec.model_validate(body, context={"categories": categories})
    except ValidationError as exc:
        raise argument_error(exc) from None
    if "palette" in body:  # as the model spells it: 'PICO-8' -> 'pico-8', 'FFF000' -> '#fff000'
        body["palette"] = spec.palette
    return body


def _lora(request: SpriteRequest) -> dict[str, Any]:
    lora: dict[str, Any] = {"name": request.lora}
    if request.lora_strength is not None:
        lora["strength"] = request.lora_strength
    return lora


def _argument(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p[:1].isupper()))]
    path = ".".join(parts)
    for field, argument in _ARGUMENT.items():
        if path == field or path.startswith(field + "."):
            return argument
    return parts[0] if parts else "arguments"


def argument_error(exc: ValidationError | SpecError) -> InvalidArgument:
    """Pydantic or loader errors -> one message per argument: ``steps: ... (got 0)``."""
    lines: dict[str, str] = {}
    if isinstance(exc, SpecError):
        for p in exc.problems:
            lines.setdefault(_argument(tuple((p.field or "spec").split("."))), p.message)
    else:
        for err in exc.errors():
            msg = str(err["msg"]).removeprefix("Value error, ")
            value = err.get("input")
            if isinstance(value, str | int | float) and not isinstance(value, bool) and "(got" not in msg:
                msg += f" (got {value!r})"
            lines.setdefault(_argument(tuple(err["loc"])), msg)
    return InvalidArgument("; ".join(f"{arg}: {msg}" for arg, msg in lines.items()))
