"""Per-sprite build records: what was last exported for each sprite (keys, hashes, manifest entry).

One small JSON file per sprite under ``<state>/records/``, each replaced atomically, so concurrent builds
of different sprites never contend; the manifest and the lockfile are derived from them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from pipeline.export.atomic import atomic_write
from pipeline.export.manifest import ManifestEntry

__all__ = ["SpriteRecord", "StageKeys", "load_records", "read_record", "write_record"]


class StageKeys(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    generate: str
    pixelate: str
    export: str


class SpriteRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    spec_file: str
    keys: StageKeys
    generate_payload: dict[str, Any]
    raw_sha256: list[str]
    pixel_sha256: str
    png_sha256: str
    entry: ManifestEntry


def _path(state_dir: Path, name: str) -> Path:
    return Path(state_dir) / "records" / f"{name}.json"


def write_record(state_dir: Path, record: SpriteRecord, scratch_dir: Path) -> None:
    data = json.dumps(record.model_dump(mode="json"), indent=1, sort_keys=True).encode()
    atomic_write(_path(state_dir, record.name), data, scratch_dir)


def read_record(state_dir: Path, name: str) -> SpriteRecord | None:
    """The record, or None when missing or unreadable (an unreadable record just means: rebuild)."""
    try:
        return SpriteRecord.model_validate_json(_path(state_dir, name).read_bytes())
    except (OSError, ValueError):
        return None


def load_records(state_dir: Path, names: list[str] | None = None) -> dict[str, SpriteRecord]:
    """Records for ``names`` (default: every record on disk), skipping missing ones."""
    folder = Path(state_dir) / "records"
    if names is None:
        names = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    out = {}
    for name in names:
        rec = read_record(state_dir, name)
        if rec is not None:
            out[name] = rec
    return out
