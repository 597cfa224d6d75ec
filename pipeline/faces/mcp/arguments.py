"""Argument types of the MCP tools: constraints live in the schemas the client sees."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.core.pixelate.palettes import NAMED_PALETTES
from pipeline.core.specs.model import SLUG
from pipeline.faces.mcp.categories import MARKER
from pipeline.faces.mcp.styles import STYLES, StyleName

__all__ = [
    "Backend",
    "BatchCategory",
    "BatchSprite",
    "Category",
    "CategoryFilter",
    "Cfg",
    "Frames",
    "HexColor",
    "Lora",
    "LoraStrength",
    "Name",
    "NegativePrompt",
    "OptionalName",
    "Palette",
    "Prompt",
    "RunId",
    "Seed",
    "SelectionPattern",
    "Size",
    "Steps",
    "Style",
    "Upscale",
    "WaitSeconds",
]

_PALETTES = ", ".join(sorted(NAMED_PALETTES))

Prompt = Annotated[
    str, Field(min_length=1, max_length=4000, description="What to draw, e.g. 'green goblin with a dagger'")
]
Name = Annotated[
    str,
    Field(pattern=SLUG, description="Sprite name: lowercase letters, digits, '-' and '_' (at most 64), e.g. 'goblin'"),
]
OptionalName = Annotated[
    str | None,
    Field(pattern=SLUG, description="Sprite name (a slug); derived from the prompt and made unique when absent"),
]
# A project defines its categories: the schemas carry a marker that pipeline.faces.mcp.categories replaces with
# the project's list (enum) and default at every tools/list; the spec validation checks each call.
Category = Annotated[
    str | None,
    Field(max_length=32, description="Category (default: the project's)", json_schema_extra={MARKER: "default"}),
]
BatchCategory = Annotated[
    str | None, Field(max_length=32, description="Category of this sprite", json_schema_extra={MARKER: "batch"})
]
CategoryFilter = Annotated[
    str | None, Field(max_length=32, description="Only this category", json_schema_extra={MARKER: "filter"})
]
Size = Annotated[
    str | None,
    Field(
        pattern=r"^\s*\d{1,3}\s*[xX]\s*\d{1,3}\s*$",
        description="WIDTHxHEIGHT of one frame in pixels, 4 to 512 each, e.g. 32x32; default: the project's",
    ),
]
HexColor = Annotated[str, Field(pattern=r"^#?[0-9a-fA-F]{6}$", description="#rrggbb")]
Palette = Annotated[
    str | list[HexColor] | None,
    Field(description=f"A named palette ({_PALETTES}) or 2-256 #rrggbb colours; default: the project's"),
]
Seed = Annotated[int | None, Field(ge=0, le=2**63 - 1, description="Generation seed; default: derived from the name")]
NegativePrompt = Annotated[str | None, Field(max_length=4000, description="What to avoid; default: the project's")]
Backend = Annotated[
    Literal["procedural", "comfyui"] | None,
    Field(description="procedural: embedded, no GPU; comfyui: the configured ComfyUI servers; default: the project's"),
]
Workflow = Annotated[str | None, Field(pattern=SLUG, description="ComfyUI workflow template in comfy_workflows/")]
Steps = Annotated[int | None, Field(ge=1, le=200, description="Sampler steps (ComfyUI)")]
Cfg = Annotated[float | None, Field(ge=0, le=30, description="Classifier-free guidance scale (ComfyUI)")]
Frames = Annotated[int | None, Field(ge=1, le=64, description="Animation frames, laid out as one sheet")]
Outline = Annotated[str | None, Field(pattern=r"^#?[0-9a-fA-F]{6}$", description="Add a 1 px outline in this colour")]
Style = Annotated[
    StyleName | None,
    Field(
        description="A style preset: "
        + "; ".join(
            f"{name}: " + (", ".join(f"{k} {v}" for k, v in vars(p).items() if v) or "the project's defaults")
            for name, p in STYLES.items()
        )
        + " (explicit palette/outline win)"
    ),
]
Lora = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_.+ -]+(/[A-Za-z0-9_.+ -]+)*$",
        description="A LoRA for the workflow (generation.loras) as ComfyUI lists it, e.g. 'pixel-xl.safetensors'",
    ),
]
LoraStrength = Annotated[float | None, Field(ge=-5, le=5, description="The LoRA's strength (default 1.0)")]
Upscale = Annotated[
    int | None,
    Field(ge=1, le=16, description="Nearest-neighbour factor for the returned image; default: about 256 px wide"),
]
WaitSeconds = Annotated[
    float,
    Field(ge=0, le=600, description="How long to wait for the run; past it the call returns the run id to follow"),
]
RunId = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$", description="A Dagster run id or an MCP job id")]
SelectionPattern = Annotated[
    str, Field(pattern=r"^[a-z0-9_*?\[\]-]{1,64}$", description="A sprite name or a glob such as 'knight*'")
]


class BatchSprite(BaseModel):
    """One sprite of a batch; unset fields take the batch's defaults, then the project's."""

    model_config = ConfigDict(extra="forbid")

    prompt: Prompt
    name: OptionalName = None
    category: BatchCategory = None
    size: Size = None
    palette: Palette = None
    seed: Seed = None
    frames: Frames = None
