"""``sprites.lock``: the committed record of what was built from what, one entry per sprite.

Each entry holds the sprite's stage keys, the hashes of what each stage produced, and the very
manifest entry the Bevy folder's ``manifest.json`` and ``.assets.ron`` are rendered from. It is the
truth a fresh clone starts from: per-machine folders (``.sprites/``) are only caches.

Deterministic, sorted, one sprite per block, so a diff shows exactly which sprites changed.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.errors import ConfigError
from pipeline.export.manifest import ManifestEntry
from pipeline.generate.base import GenerationRequest, canonical_json, sha256_hex
from pipeline.settings import Settings

__all__ = [
    "LOCK_FILE",
    "LOCK_VERSION",
    "Lock",
    "LockEntry",
    "StageKeys",
    "generate_inputs",
    "lock_path",
    "read_lock",
    "render_lock",
]

LOCK_FILE = "sprites.lock"
LOCK_VERSION = 2


class StageKeys(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    generate: str
    pixelate: str
    export: str


class LockEntry(BaseModel):
    """One built sprite: from what (keys) to what (hashes, manifest entry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec_file: str  # relative to the specs folder, posix
    keys: StageKeys
    #: short hash of each top-level field of the resolved generation request (says *which* input changed)
    generate_inputs: dict[str, str]
    raw_sha256: list[str]
    pixel_sha256: str
    entry: ManifestEntry  # its ``sha256`` is the PNG's, its ``path`` where it lies in the Bevy folder


class Lock(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = LOCK_VERSION
    sprites: dict[str, LockEntry] = {}


def generate_inputs(request: GenerationRequest) -> dict[str, str]:
    """The request's payload, field by field, as short hashes."""
    return {k: sha256_hex(canonical_json(v))[:16] for k, v in sorted(request.payload.items())}


def lock_path(settings: Settings) -> Path:
    return settings.project_dir / LOCK_FILE


def read_lock(settings: Settings) -> Lock | None:
    """The lock on disk; None when there is none. A lock this version cannot read is a clear error."""
    path = lock_path(settings)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        version = json.loads(data).get("version")
    except (ValueError, AttributeError) as exc:
        raise ConfigError(
            f"{path} is not a valid lockfile ({exc}); restore it from git, or delete it and rebuild"
        ) from exc
    if version != LOCK_VERSION:
        raise OldLockError(
            f"{path} is a version {version} lockfile; this version of the pipeline writes version {LOCK_VERSION}. "
            "Run `sprites build` (the whole project, no selection) once to rewrite it, and commit it"
        )
    try:
        return Lock.model_validate_json(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{path} is not a valid lockfile ({exc}); restore it from git, or delete it and rebuild"
        ) from exc


class OldLockError(ConfigError):
    """A lockfile written by another version of the pipeline (only a whole-project build may replace it)."""


def render_lock(lock: Lock) -> str:
    return json.dumps(lock.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
