"""``sprites.lock``: the committed record of what the specs produce (stage keys and output hashes).

Deterministic, sorted, one sprite per block, so a diff shows exactly which sprites changed. ``sprites
build`` rewrites it (only when its content changes); ``sprites check --locked`` compares the current
specs, workflows and Bevy folder against it without building anything.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipeline.export.atomic import atomic_write
from pipeline.generate.base import GenerationRequest
from pipeline.records import SpriteRecord, StageKeys
from pipeline.settings import Settings
from pipeline.specs import SpecSet
from pipeline.stages import export_key, pixelate_key

__all__ = ["LOCK_FILE", "Lock", "LockEntry", "lock_path", "lock_problems", "read_lock", "update_lock"]

LOCK_FILE = "sprites.lock"
LOCK_VERSION = 1


class LockEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    spec_file: str
    backend: str
    path: str
    keys: StageKeys
    generate_payload_sha256: str
    raw_sha256: list[str]
    pixel_sha256: str
    png_sha256: str


class Lock(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = LOCK_VERSION
    sprites: dict[str, LockEntry]


def _payload_hash(payload: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _entry(rec: SpriteRecord) -> LockEntry:
    return LockEntry(
        spec_file=rec.spec_file,
        backend=rec.entry.backend,
        path=rec.entry.path,
        keys=rec.keys,
        generate_payload_sha256=_payload_hash(rec.generate_payload),
        raw_sha256=rec.raw_sha256,
        pixel_sha256=rec.pixel_sha256,
        png_sha256=rec.png_sha256,
    )


def lock_path(settings: Settings) -> Path:
    return settings.project_dir / LOCK_FILE


def read_lock(settings: Settings) -> Lock | None:
    try:
        return Lock.model_validate_json(lock_path(settings).read_bytes())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        from pipeline.errors import ConfigError

        raise ConfigError(f"{lock_path(settings)} is not a valid lockfile ({exc}); rebuild to rewrite it") from exc


def render_lock(lock: Lock) -> str:
    return json.dumps(lock.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def update_lock(settings: Settings, records: dict[str, SpriteRecord], names: list[str]) -> bool:
    """Rewrite sprites.lock for ``names`` (those with records); returns whether it changed."""
    lock = Lock(sprites={n: _entry(records[n]) for n in sorted(names) if n in records})
    text = render_lock(lock)
    path = lock_path(settings)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    atomic_write(path, text.encode(), settings.scratch_dir)
    return True


def lock_problems(
    settings: Settings, spec_set: SpecSet, requests: dict[str, GenerationRequest], lock: Lock
) -> list[str]:
    """Every way the specs, workflows or Bevy folder disagree with the lock, one line per sprite."""
    problems: list[str] = []
    for name, loaded in spec_set.specs.items():
        entry = lock.sprites.get(name)
        spec = loaded.spec
        if entry is None:
            problems.append(f"{name}: not in {LOCK_FILE} (new spec {loaded.file}); run `sprites build`")
            continue
        request = requests[name]
        if entry.keys.generate != request.key:
            what = (
                "generation inputs"
                if entry.generate_payload_sha256 != _payload_hash(request.payload)
                else "backend version"
            )
            problems.append(f"{name}: {what} changed since {LOCK_FILE} ({loaded.file}); run `sprites build`")
            continue
        if entry.keys.pixelate != pixelate_key(entry.raw_sha256, spec):
            problems.append(f"{name}: pixel settings changed since {LOCK_FILE} ({loaded.file}); run `sprites build`")
            continue
        if entry.keys.export != export_key(entry.pixel_sha256, spec):
            problems.append(f"{name}: output settings changed since {LOCK_FILE} ({loaded.file}); run `sprites build`")
            continue
        png = settings.assets_dir / spec.output_path
        try:
            actual = hashlib.sha256(png.read_bytes()).hexdigest()
        except OSError:
            problems.append(f"{name}: {spec.output_path} is missing from {settings.assets_dir}")
            continue
        if actual != entry.png_sha256:
            problems.append(f"{name}: {spec.output_path} in the Bevy folder does not match {LOCK_FILE}")
    for name in sorted(set(lock.sprites) - set(spec_set.specs)):
        problems.append(f"{name}: in {LOCK_FILE} but no spec defines it any more; run `sprites build`")
    return problems
