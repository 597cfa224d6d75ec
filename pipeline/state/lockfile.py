"""``sprites.lock``: the committed record of what was built from what, one entry per sprite.

Each entry holds the sprite's stage keys, the hashes of what each stage produced, and the very
manifest entry the Bevy folder's ``manifest.json`` and ``.assets.ron`` are rendered from. It is the
truth a fresh clone starts from: per-machine folders (``.sprites/``) are only caches.

Deterministic, sorted, one sprite per block, so a diff shows exactly which sprites changed.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.core.export.manifest import ManifestEntry
from pipeline.core.generate.base import GenerationRequest, canonical_json, sha256_hex
from pipeline.errors import ConfigError
from pipeline.settings import Settings

__all__ = [
    "LOCK_FILE",
    "LOCK_VERSION",
    "Lock",
    "LockEntry",
    "LockedCandidates",
    "StageKeys",
    "generate_inputs",
    "lock_path",
    "read_lock",
    "remember_lock",
    "render_lock",
]

LOCK_FILE = "sprites.lock"
LOCK_VERSION = 2


class StageKeys(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    generate: str
    pixelate: str
    export: str


class LockedCandidates(BaseModel):
    """A sprite with ``candidates``: the seeds it offers and the one picked (None: no pick yet)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seeds: list[int]
    picked: int | None = None

    @classmethod
    def of(cls, seeds: list[int], picked: int | None) -> LockedCandidates | None:
        return cls(seeds=seeds, picked=picked) if seeds else None


class LockEntry(BaseModel):
    """One built sprite: from what (keys) to what (hashes, manifest entry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def as_json(self) -> dict[str, Any]:
        """``model_dump(mode="json")``, computed once per entry (publish and status both need it, for
        every sprite of the project, and an entry carried over from the lock on disk is the same object)."""
        return _dumped(self)

    spec_file: str  # relative to the specs folder, posix
    keys: StageKeys
    #: short hash of each top-level field of the resolved generation request (says *which* input changed)
    generate_inputs: dict[str, str]
    raw_sha256: list[str]
    pixel_sha256: str
    entry: ManifestEntry  # its ``sha256`` is the PNG's, its ``path`` where it lies in the Bevy folder
    #: only for sprites with ``candidates`` (and then written; absent otherwise, so older locks read as before)
    candidates: LockedCandidates | None = None


class Lock(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = LOCK_VERSION
    sprites: dict[str, LockEntry] = {}


def generate_inputs(request: GenerationRequest) -> dict[str, str]:
    """The request's payload, field by field, as short hashes."""
    return {k: sha256_hex(canonical_json(v))[:16] for k, v in sorted(request.payload.items())}


def lock_path(settings: Settings) -> Path:
    return settings.project_dir / LOCK_FILE


#: the last lock read or written by this process, by path, with the file's (size, mtime, inode) then:
#: a build reads the lock to plan, to publish and to check the result, and at 2000 sprites each parse
#: costs a tenth of a second
_MEMO: dict[Path, tuple[tuple[int, int, int], Lock]] = {}


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def remember_lock(path: Path, lock: Lock) -> None:
    """Note that ``path`` now holds ``lock`` (just written by this process)."""
    key = _stat_key(path)
    if key is not None:
        _MEMO[path] = (key, lock)


def read_lock(settings: Settings) -> Lock | None:
    """The lock on disk; None when there is none. A lock this version cannot read is a clear error."""
    path = lock_path(settings)
    memo = _MEMO.get(path)
    if memo is not None and memo[0] == _stat_key(path):
        return memo[1]
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
        lock = Lock.model_validate_json(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{path} is not a valid lockfile ({exc}); restore it from git, or delete it and rebuild"
        ) from exc
    remember_lock(path, lock)
    return lock


class OldLockError(ConfigError):
    """A lockfile written by another version of the pipeline (only a whole-project build may replace it)."""


_DUMPS: OrderedDict[int, tuple[LockEntry, dict[str, Any]]] = OrderedDict()
_DUMPS_MAX = 50_000


def _dumped(entry: LockEntry) -> dict[str, Any]:
    hit = _DUMPS.get(id(entry))
    if hit is not None and hit[0] is entry:
        return hit[1]
    data = entry.model_dump(mode="json", exclude={"candidates"} if entry.candidates is None else None)
    _DUMPS[id(entry)] = (entry, data)  # holds the entry, so its id is not reused while it is here
    if len(_DUMPS) > _DUMPS_MAX:
        _DUMPS.popitem(last=False)
    return data


def _compact(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def render_lock(lock: Lock) -> str:
    """The lock's text: sorted, one sprite per block and one field per line (a diff names the sprite and
    what about it changed). Written with the C encoder: ``indent=`` would use the ten times slower one."""
    blocks = []
    for name, entry in sorted(lock.sprites.items()):
        fields = entry.as_json()
        body = ",\n".join(f"      {_compact(k)}: {_compact(v)}" for k, v in sorted(fields.items()))
        blocks.append(f"    {_compact(name)}: {{\n{body}\n    }}")
    sprites = "{\n" + ",\n".join(blocks) + "\n  }" if blocks else "{}"
    return f'{{\n  "sprites": {sprites},\n  "version": {lock.version}\n}}\n'
