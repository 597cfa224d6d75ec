"""The sprite spec: what a game team writes in YAML, as a strict pydantic model.

A spec can be three lines long (name, category, prompt); everything else has a default, either here
or in ``sprite_specs/_defaults.yaml``. Unknown keys are errors (``extra="forbid"``), so a typo never
silently does nothing.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pipeline.core.pixelate.palettes import NAMED_PALETTES, normalize_hex
from pipeline.core.specs.categories import DEFAULT_CATEGORIES, Categories, unknown_category

__all__ = [
    "CATEGORIES",
    "FRAME_METHODS",
    "AdaptivePalette",
    "Animation",
    "Candidates",
    "Generation",
    "Lora",
    "Output",
    "PaletteSpec",
    "PixelSettings",
    "Size",
    "SpriteSpec",
]

SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"
CATEGORIES = DEFAULT_CATEGORIES  # a project may list its own: pipeline.core.specs.categories
HexColor = Annotated[str, Field(pattern=r"^#?[0-9a-fA-F]{6}$", description="An sRGB colour as #rrggbb")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Size(_Strict):
    """Logical sprite size in pixels (one frame). YAML: ``32x32``, ``[48, 32]`` or ``32``."""

    width: int = Field(ge=4, le=512)
    height: int = Field(ge=4, le=512)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("size must be like 32x32")
        if isinstance(value, int):
            return {"width": value, "height": value}
        if isinstance(value, str):
            m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", value)
            if not m:
                raise ValueError(f"size '{value}' must be WIDTHxHEIGHT, e.g. 32x32")
            return {"width": int(m.group(1)), "height": int(m.group(2))}
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError("size as a list must be [width, height]")
            return {"width": value[0], "height": value[1]}
        return value

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        # YAML writes sizes as "32x32" (or 32, or [w, h]): say so, so editors accept what the loader accepts.
        as_object = handler(core_schema)
        return {
            "description": "Logical size of one frame: WIDTHxHEIGHT (4 to 512), e.g. 32x32",
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+\s*[xX×]\s*\d+\s*$", "examples": ["32x32", "64x48"]},
                {"type": "integer", "minimum": 4, "maximum": 512},
                {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 4, "maximum": 512},
                    "minItems": 2,
                    "maxItems": 2,
                },
                as_object,
            ],
        }


class AdaptivePalette(_Strict):
    """``{adaptive: N}``: N colours chosen from the downscaled sprite itself."""

    adaptive: int = Field(ge=2, le=256, description="How many colours to choose")


def _check_palette_name(value: str) -> str:
    key = value.strip().lower()
    if key not in NAMED_PALETTES:
        allowed = ", ".join(sorted(NAMED_PALETTES))
        raise ValueError(f"unknown palette '{value}'; named palettes are: {allowed}")
    return key


PaletteName = Annotated[str, Field(description="A named palette", json_schema_extra={"enum": sorted(NAMED_PALETTES)})]
PaletteSpec = PaletteName | Annotated[list[HexColor], Field(min_length=2, max_length=256)] | AdaptivePalette


class Lora(_Strict):
    name: str = Field(min_length=1, description="LoRA file name as ComfyUI lists it")
    strength: float = Field(default=1.0, ge=-5, le=5)


class Generation(_Strict):
    """How the high-resolution render is produced."""

    backend: Literal["procedural", "comfyui", "image"] = Field(
        default="procedural",
        description="procedural: the embedded backend (no GPU); comfyui: a ComfyUI server (SPRITES_COMFYUI_URL); "
        "image: generation.init_image is the render (an existing picture)",
    )
    workflow: str = Field(default="sdxl_pixel_art", pattern=SLUG, description="Template in comfy_workflows/")
    steps: int = Field(default=30, ge=1, le=200)
    cfg: float = Field(default=7.0, ge=0, le=30)
    sampler: str = Field(default="euler_ancestral", min_length=1)
    scheduler: str = Field(default="normal", min_length=1)
    checkpoint: str = Field(default="sd_xl_base_1.0.safetensors", min_length=1)
    loras: list[Lora] = Field(default_factory=list)
    render_scale: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="Render pixels per sprite pixel, an explicit render size of size x render_scale. Default: the "
        "procedural backend renders at 8; ComfyUI at the workflow template's native size (SDXL: 1024x1024 or the "
        "nearest aspect bucket), whatever the sprite size, and the pixel stage finds the grid the model drew",
    )
    init_image: str | None = Field(default=None, description="img2img input, relative to the project folder")
    denoise: float = Field(default=1.0, ge=0, le=1)


FRAME_METHODS = ("sheet", "img2img", "batch")


class Animation(_Strict):
    """Frames are laid out left to right, top to bottom, in one sheet.

    ``method`` says how frames that belong together are generated (see docs/animation.md): ``sheet`` renders
    the whole sheet as one image and the pixel stage slices its frames (the default: one sample, so one
    character, one palette, one light); ``img2img`` renders frame 0, then each next frame from the previous
    one with ``denoise`` and the same seed; ``batch`` renders independent samples (variations, not a cycle).
    """

    frames: int = Field(default=1, ge=1, le=64)
    fps: float = Field(default=8.0, gt=0, le=60)
    columns: int | None = Field(default=None, ge=1, le=64, description="Sheet columns; default: all in one row")
    method: Literal["sheet", "img2img", "batch"] = Field(
        default="sheet",
        description="How frames that belong together are generated. sheet: one render of the whole sheet, sliced "
        "into frames by the pixel stage (most reliable on SDXL-class models: put 'sprite sheet, N frames' in the "
        "prompt or use a sprite-sheet LoRA); img2img: frame 0 rendered, each next frame rendered from the previous "
        "one with animation.denoise and the same seed; batch: independent samples (variations, not a cycle)",
    )
    denoise: float = Field(
        default=0.35,
        ge=0.05,
        le=1,
        description="img2img only: how much each frame may change from the previous one (low: consistent but "
        "little motion; high: more motion, less consistency)",
    )
    workflow: str | None = Field(
        default=None,
        pattern=SLUG,
        description="img2img on ComfyUI only: the template that renders each next frame from the previous one "
        "(it needs a LoadImage node); default: generation.workflow when it loads an image, else "
        "<generation.workflow>_img2img",
    )

    def keyed(self) -> dict[str, Any]:
        """The fields that shape the output, for stage keys: the frame method's only when there are frames
        to relate (a still sprite's keys do not move when a method setting does)."""
        out: dict[str, Any] = {"frames": self.frames, "fps": self.fps, "columns": self.columns}
        if self.frames > 1:
            out["method"] = self.method
            if self.method == "img2img":
                out["denoise"] = self.denoise
                out["workflow"] = self.workflow
        return out

    @property
    def sheet_columns(self) -> int:
        return min(self.columns or self.frames, self.frames)

    @property
    def sheet_rows(self) -> int:
        return -(-self.frames // self.sheet_columns)


class Candidates(_Strict):
    """Render several seeds and let a person pick one (``sprites pick``). YAML: ``candidates: 4`` or a mapping.

    Candidate ``i`` is rendered with seed ``(seed + i) mod 2**63`` (``seed``: the spec's, or the one derived
    from its name), so candidate 0 is what the spec renders without candidates.
    """

    count: int = Field(default=4, ge=2, le=16, description="How many seeds to render (candidate 0 to count - 1)")
    publish: Literal["first", "none"] = Field(
        default="first",
        description="Until a pick: first: publish candidate 0 (the game has a sprite meanwhile); none: publish "
        "nothing (the sprite stays missing, and `sprites check --locked` fails, until someone picks)",
    )
    picked: int | None = Field(
        default=None,
        ge=0,
        le=2**63 - 1,
        description="The seed of the chosen candidate; written by `sprites pick NAME INDEX` (or the MCP "
        "pick_candidate tool). Only this seed is rendered and published once set",
    )

    @model_validator(mode="before")
    @classmethod
    def _count_only(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"count": value}
        return value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        as_object = handler(core_schema)
        count = {"type": "integer", "minimum": 2, "maximum": 16, "description": "candidates: N is {count: N}"}
        return {"description": cls.__doc__.splitlines()[0] if cls.__doc__ else "", "anyOf": [count, as_object]}


class PixelSettings(_Strict):
    """How the render becomes pixel art."""

    background: str = Field(
        default="auto",
        description="auto: flood-fill the border colour; none: keep it; or a key colour #rrggbb to make transparent",
    )
    alpha_threshold: int = Field(default=128, ge=0, le=255)
    outline: HexColor | None = Field(default=None, description="Add a 1 px outline in this colour")
    dither: Literal["none", "ordered", "floyd-steinberg"] = "none"
    cleanup: bool = Field(default=True, description="Remove orphan pixels (single pixels with no neighbour)")
    background_tolerance: float = Field(
        default=0.08, ge=0, le=1, description="OKLab distance counted as background / key colour"
    )
    min_confidence: float = Field(
        default=0.5, ge=0, le=1, description="Refuse renders whose pixel grid is less certain than this"
    )
    correct_drift: bool = Field(default=True, description="With a fixed palette, correct smooth brightness drift first")
    fit: Literal["exact", "resample"] = Field(
        default="exact",
        description="When the sprite in the render is not the spec's size (the model drew more or fewer cells): "
        "exact: fail naming both sizes; resample: scale it to the size by nearest pixel",
    )

    @field_validator("background")
    @classmethod
    def _background(cls, value: str) -> str:
        if value in ("auto", "none"):
            return value
        try:
            return normalize_hex(value)
        except ValueError:
            raise ValueError(f"background '{value}' must be auto, none or a colour like #ff00ff") from None


class Output(_Strict):
    """Where the sprite goes in the Bevy assets folder."""

    path: str | None = Field(
        default=None, description="PNG path relative to the assets folder; default sprites/<category>/<name>.png"
    )

    @field_validator("path")
    @classmethod
    def _relative_png(cls, value: str | None) -> str | None:
        if value is None:
            return None
        p = PurePosixPath(value.replace("\\", "/"))
        if p.is_absolute() or re.match(r"^[A-Za-z]:", value):
            raise ValueError(f"output path '{value}' must be relative to the Bevy assets folder")
        if any(part in ("..", ".", "") for part in value.replace("\\", "/").split("/")):
            raise ValueError(f"output path '{value}' must not contain '..', '.' or empty parts")
        if p.suffix.lower() != ".png":
            raise ValueError(f"output path '{value}' must end in .png")
        if not all(re.fullmatch(r"[A-Za-z0-9_.-]+", part) for part in p.parts):
            raise ValueError(f"output path '{value}' may only use letters, digits, '_', '-' and '.'")
        return str(p)


class SpriteSpec(_Strict):
    """One sprite: what to draw, how big, in which colours, and where it goes."""

    name: str = Field(pattern=SLUG, description="Unique slug: lowercase letters, digits, '-' and '_'")
    category: str = Field(
        description="One of the project's categories ('categories' in _defaults.yaml): the Dagster asset group "
        "and the Bevy folder (sprites/<category>/)",
        json_schema_extra={"enum": list(DEFAULT_CATEGORIES)},
    )
    prompt: str = Field(min_length=1, max_length=4000)
    negative_prompt: str = Field(default="", max_length=4000)
    size: Size = Field(default_factory=lambda: Size(width=32, height=32))
    palette: PaletteSpec = "pico-8"
    seed: int | None = Field(
        default=None, ge=0, le=2**63 - 1, description="Default: derived from the name, so it is stable"
    )
    generation: Generation = Field(default_factory=Generation)
    candidates: Candidates | None = Field(
        default=None, description="Render several seeds and let a person pick one (see docs/candidates.md)"
    )
    animation: Animation = Field(default_factory=Animation)
    pixel: PixelSettings = Field(default_factory=PixelSettings)
    output: Output = Field(default_factory=Output)

    @field_validator("category")
    @classmethod
    def _category(cls, value: str, info: ValidationInfo) -> str:
        """Validate with ``context={"categories": Categories(...)}`` for a project's own list."""
        categories = (info.context or {}).get("categories") or Categories()
        if value not in categories:
            raise ValueError(unknown_category(value, categories))
        return value

    @field_validator("palette", mode="before")
    @classmethod
    def _palette(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _check_palette_name(value)
        if isinstance(value, list):
            if not 2 <= len(value) <= 256:
                raise ValueError(f"an explicit palette needs 2 to 256 colours, got {len(value)}")
            out = []
            for i, c in enumerate(value):
                try:
                    out.append(normalize_hex(str(c)))
                except ValueError:
                    raise ValueError(f"palette colour #{i + 1} '{c}' is not a colour like #rrggbb") from None
            return out
        if isinstance(value, dict) and set(value) == {"adaptive"}:
            n = value["adaptive"]
            if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 256:
                raise ValueError(f"adaptive palette size must be a whole number from 2 to 256, got {n!r}")
            return AdaptivePalette(adaptive=n)
        if isinstance(value, AdaptivePalette):
            return value
        raise ValueError("palette must be a name (e.g. pico-8), a list of #rrggbb colours, or {adaptive: N}")

    @property
    def base_seed(self) -> int:
        """The spec's own seed: explicit, or a stable function of the name (candidate 0's seed)."""
        if self.seed is not None:
            return self.seed
        return int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:4], "big")

    @property
    def effective_seed(self) -> int:
        """The seed used: the picked candidate's, else the spec's own (``base_seed``)."""
        if self.candidates is not None and self.candidates.picked is not None:
            return self.candidates.picked
        return self.base_seed

    @property
    def awaiting_pick(self) -> bool:
        """True while nothing is published for lack of a pick (``candidates.publish: none``, no ``picked``)."""
        c = self.candidates
        return c is not None and c.picked is None and c.publish == "none"

    @property
    def candidate_seeds(self) -> list[int]:
        """The seeds of the candidates (empty without ``candidates``): ``base_seed + i``, wrapped at 2**63."""
        if self.candidates is None:
            return []
        return [(self.base_seed + i) % 2**63 for i in range(self.candidates.count)]

    @property
    def output_path(self) -> str:
        """Path of the PNG relative to the Bevy assets folder."""
        return self.output.path or f"sprites/{self.category}/{self.name}.png"

    @property
    def sheet_size(self) -> tuple[int, int]:
        a = self.animation
        return (self.size.width * a.sheet_columns, self.size.height * a.sheet_rows)
