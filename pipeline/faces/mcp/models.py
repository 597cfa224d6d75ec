"""What the MCP tools return: pydantic models, so every tool publishes an output schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "BatchItem",
    "BatchResult",
    "CancelResult",
    "LaunchPath",
    "MaterializationInfo",
    "RunInfo",
    "RunResult",
    "SpriteList",
    "SpriteOutcomeInfo",
    "SpriteResult",
    "SpriteRow",
    "SpriteStatus",
    "StageKeys",
    "Timings",
    "ViewResult",
]

#: how a result was produced: a run launched through a running Dagster webserver (GraphQL, run queue and
#: pools apply), a run executed inside the MCP server against the same instance, or no run at all.
LaunchPath = Literal["webserver", "in-process", "none"]
SpriteStatusName = Literal["up to date", "stale", "missing", "failed", "running", "queued"]
ResultStatus = Literal["built", "up to date", "failed", "running", "queued", "canceled", "skipped"]


class Timings(BaseModel):
    total_s: float = Field(description="From the tool call to its answer")
    spec_s: float = Field(default=0.0, description="Writing and validating spec files")
    run_s: float | None = Field(default=None, description="The Dagster run, when one was needed")
    stages_s: float | None = Field(default=None, description="Sum of the sprite's own stage times inside the run")


class SpriteOutcomeInfo(BaseModel):
    name: str
    status: ResultStatus
    error: str | None = None
    cache: dict[str, str] = Field(default_factory=dict, description="Per stage (raw, pixel, bevy): hit or miss")
    seconds: float = 0.0


class SpriteResult(BaseModel):
    """One sprite after a tool made sure it exists: where its files are, and how it got there."""

    name: str
    status: ResultStatus
    message: str
    spec_file: str = Field(description="The spec, relative to the project folder")
    spec_written: bool = Field(description="True when this call created or replaced the spec file")
    asset_path: str = Field(description="PNG path relative to the Bevy assets folder (what AssetServer::load takes)")
    png_path: str | None = Field(default=None, description="Absolute path of the PNG, once it exists")
    manifest_path: str
    sha256: str | None = None
    size: str
    frames: int
    palette: list[str] = Field(default_factory=list, description="Colours used, as #rrggbb")
    seed: int
    cache: dict[str, str] = Field(default_factory=dict, description="Per stage: hit (from cache) or miss (computed)")
    run_id: str | None = Field(default=None, description="Dagster run id; follow it with sprite_status while running")
    launched_via: LaunchPath
    error: str | None = None
    timings: Timings


class BatchItem(BaseModel):
    index: int
    prompt: str
    name: str | None = None
    status: ResultStatus | Literal["rejected"]
    error: str | None = None
    sprite: SpriteResult | None = None


class BatchResult(BaseModel):
    succeeded: int
    failed: int = Field(description="Rejected before the run, or failed in it")
    pending: int = Field(default=0, description="Still running past the wait bound (follow run_id)")
    items: list[BatchItem]
    run_id: str | None = None
    launched_via: LaunchPath
    timings: Timings


class RunResult(BaseModel):
    """The outcome of a Dagster run over some sprites (and the manifest)."""

    status: Literal["success", "failure", "running", "queued", "canceled", "nothing to do"]
    run_id: str | None = None
    launched_via: LaunchPath
    sprites: list[SpriteOutcomeInfo] = Field(default_factory=list)
    up_to_date: list[str] = Field(default_factory=list, description="Selected sprites skipped as up to date")
    manifest_error: str | None = None
    message: str
    timings: Timings


class SpriteRow(BaseModel):
    name: str
    category: str
    status: SpriteStatusName
    reason: str = Field(default="", description="Why stale, or the last error when failed")
    size: str
    frames: int
    backend: str
    asset_path: str
    spec_file: str
    spec_line: int


class SpriteList(BaseModel):
    count: int
    counts: dict[str, int] = Field(description="How many sprites have each status")
    sprites: list[SpriteRow]


class StageKeys(BaseModel):
    generate: str
    pixelate: str | None = None
    export: str | None = None


class MaterializationInfo(BaseModel):
    asset_key: str
    run_id: str
    timestamp: float
    cache: str | None = None
    seconds: float | None = None


class RunInfo(BaseModel):
    run_id: str
    status: str = Field(description="Dagster run status (QUEUED, STARTED, SUCCESS, FAILURE, CANCELED...)")
    launched_via: LaunchPath | Literal["unknown"] = "unknown"
    source: str | None = Field(default=None, description="The sprites/source tag: cli, mcp, ui...")
    sprites: list[str] = Field(default_factory=list)
    start_time: float | None = None
    end_time: float | None = None
    error: str | None = None


class SpriteStatus(BaseModel):
    """A sprite's lineage and history: spec -> raw -> pixel -> bevy -> manifest."""

    name: str
    status: SpriteStatusName
    reason: str
    spec_file: str
    spec_line: int
    asset_keys: list[str] = Field(
        description="Upstream first: <name>/<name>_render, <name>/<name>_pixel_art, <name>/<name>_bevy, bevy/manifest"
    )
    asset_path: str
    current_keys: StageKeys = Field(description="Stage keys computed from the spec as it is now")
    recorded_keys: StageKeys | None = Field(default=None, description="Stage keys of what was last exported")
    materializations: list[MaterializationInfo] = Field(default_factory=list)
    last_run: RunInfo | None = None
    active_run: RunInfo | None = Field(default=None, description="A run of this sprite still in progress")


class ViewResult(BaseModel):
    name: str
    asset_path: str
    png_path: str
    width: int
    height: int
    frames: int
    sha256: str
    status: SpriteStatusName
    shown_scale: int = Field(description="Nearest-neighbour factor of the image content")


class CancelResult(BaseModel):
    run_id: str
    status: str
    launched_via: LaunchPath | Literal["unknown"]
    message: str
