"""Is this sprite current, and if not, why: one answer for build, list, check --locked, the sensor,
the schedule and MCP (no Dagster import).

The answer is a pure function of the committed truth (``sprites.lock`` and the Bevy folder) and the
current inputs (the spec with its defaults, the resolved generation request, which covers the workflow
template and ``init_image`` bytes, and the stage versions of the code). Nothing per-machine is
consulted: a fresh clone and a checkout whose ``.sprites/`` was just deleted get the same answer.

* a sprite is ``missing`` when the lock has no entry for it, ``stale`` when a stage key computed now
  differs from the locked one or its PNG / ``.png.meta`` are not the locked bytes, else ``up to date``;
* the project's *publication* is current when ``manifest.json`` and ``.assets.ron`` are exactly what
  the lock renders to, and the lock holds no sprite whose spec is gone (``removed``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.core.export.bevy import IMAGE_META
from pipeline.core.export.manifest import ASSETS_RON_PATH, MANIFEST_PATH, manifest_json, render_assets_ron
from pipeline.core.generate.base import GenerationRequest
from pipeline.core.specs import LoadedSpec, SpecSet
from pipeline.settings import Settings
from pipeline.state.hashmemo import HASH_MEMO_FILE, HashMemo, Stat
from pipeline.state.keys import export_key, pixelate_key
from pipeline.state.lockfile import LOCK_FILE, Lock, LockedCandidates, LockEntry, generate_inputs

__all__ = ["ProjectState", "SpriteState", "project_state", "sprite_state", "stat_of"]

Status = Literal["up to date", "stale", "missing"]
_META_SHA = hashlib.sha256(IMAGE_META.encode()).hexdigest()


@dataclass(frozen=True)
class SpriteState:
    name: str
    status: Status
    reason: str
    loaded: LoadedSpec
    request: GenerationRequest
    locked: LockEntry | None  # the sprite's entry in sprites.lock
    # (size, mtime_ns, inode) of its PNG and .png.meta when their bytes were checked (None: missing)
    stats: tuple[Stat | None, Stat | None] = (None, None)

    @property
    def current(self) -> bool:
        return self.status == "up to date"


@dataclass(frozen=True)
class ProjectState:
    """The state of the chosen sprites, plus the project-wide publication (manifest, .assets.ron)."""

    sprites: dict[str, SpriteState]
    lock: Lock
    removed: list[str] = field(default_factory=list)  # in the lock, but no spec defines them any more
    unpublished: list[str] = field(default_factory=list)  # what manifest.json / .assets.ron get wrong

    @property
    def todo(self) -> list[SpriteState]:
        return [s for s in self.sprites.values() if not s.current]

    @property
    def published(self) -> bool:
        """True when the manifest, .assets.ron and the lock agree and the lock lists no deleted spec."""
        return not self.removed and not self.unpublished

    @property
    def current(self) -> bool:
        return self.published and not self.todo

    def problems(self) -> list[str]:
        """Everything out of step, one line each (what ``check --locked`` prints)."""
        lines = [f"{s.name}: {s.status}: {s.reason} ({s.loaded.file})" for s in self.todo]
        lines += [f"{n}: in {LOCK_FILE} but no spec defines it any more" for n in self.removed]
        lines += self.unpublished
        return lines


def stat_of(path: Path) -> Stat | None:
    """(size, mtime_ns, inode), or None when the file is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def _changed(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    fields = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(fields) if fields else "backend version, frame count or render size"


def sprite_state(
    settings: Settings,
    loaded: LoadedSpec,
    request: GenerationRequest,
    locked: LockEntry | None,
    hashes: HashMemo | None = None,
) -> SpriteState:
    """One sprite against its lock entry and its files in the Bevy folder (``hashes``: a memo to read
    their hashes through)."""
    spec = loaded.spec
    memo = hashes or HashMemo(None)

    stats: tuple[Stat | None, Stat | None] = (None, None)

    def state(status: Status, reason: str = "") -> SpriteState:
        return SpriteState(spec.name, status, reason, loaded, request, locked, stats)

    picks = spec.candidates
    if picks is not None and spec.awaiting_pick:
        return state(
            "missing",
            f"awaiting a pick among its {picks.count} candidates (candidates.publish: none): "
            f"`sprites pick {spec.name}` shows them",
        )
    if locked is None:
        return state("missing", f"never built (no entry in {LOCK_FILE})")
    if locked.keys.generate != request.key:
        return state(
            "stale", f"generation inputs changed: {_changed(locked.generate_inputs, generate_inputs(request))}"
        )
    if locked.keys.pixelate != pixelate_key(locked.raw_sha256, spec):
        return state("stale", "pixel settings changed (size, palette, alpha, outline, dither or animation)")
    if locked.keys.export != export_key(locked.pixel_sha256, spec):
        return state("stale", "output path or manifest fields changed (path, name, fps, prompt text, ...)")
    if locked.candidates != LockedCandidates.of(spec.candidate_seeds, picks.picked if picks else None):
        return state("stale", "its candidates changed (candidates.count or candidates.picked)")
    if locked.spec_file != loaded.file:
        return state("stale", f"its spec moved from {locked.spec_file} to {loaded.file}")
    png = settings.assets_dir / spec.output_path
    sha, png_stat = memo.sha(png)
    if sha is None:
        return state("stale", f"{spec.output_path} is missing from the Bevy folder")
    if sha != locked.entry.sha256:
        return state("stale", f"{spec.output_path} was modified in the Bevy folder (not the bytes {LOCK_FILE} records)")
    meta_sha, meta_stat = memo.sha(png.with_name(png.name + ".meta"))
    if meta_sha != _META_SHA:
        return state("stale", f"{spec.output_path}.meta is missing or modified")
    stats = (png_stat, meta_stat)
    return state("up to date")


def _publication_problems(settings: Settings, lock: Lock) -> list[str]:
    locked = [lock.sprites[n] for n in sorted(lock.sprites)]
    entries = [e.entry for e in locked]
    problems = []
    data = manifest_json(settings.assets_dir / MANIFEST_PATH)
    listed = data.get("sprites") if isinstance(data, dict) else None
    if not isinstance(listed, list):
        problems.append(f"{MANIFEST_PATH} is missing or unreadable")
    else:
        by_name = {e.get("name"): e for e in listed if isinstance(e, dict)}
        wrong = [e.entry.name for e in locked if by_name.get(e.entry.name) != e.as_json()["entry"]]
        extra = sorted(str(n) for n in set(by_name) - set(lock.sprites))
        if wrong:
            problems.append(f"{MANIFEST_PATH} does not list {', '.join(wrong)} as {LOCK_FILE} records")
        if extra or len(listed) != len(entries):
            problems.append(f"{MANIFEST_PATH} lists sprites {LOCK_FILE} does not: {', '.join(extra) or 'duplicates'}")
    try:
        ron_ok = (settings.assets_dir / ASSETS_RON_PATH).read_text(encoding="utf-8") == render_assets_ron(
            [e.as_json()["entry"] for e in locked]
        )
    except OSError:
        ron_ok = False
    if not ron_ok:
        problems.append(f"{ASSETS_RON_PATH} is missing or differs from {LOCK_FILE}")
    return problems


def project_state(
    settings: Settings,
    spec_set: SpecSet,
    requests: Mapping[str, GenerationRequest],
    lock: Lock | None,
    names: list[str] | None = None,
    known: ProjectState | None = None,
) -> ProjectState:
    """The state of ``names`` (default: every sprite) and of the project's publication.

    ``known``: an earlier answer (the plan before a build). A sprite it found up to date keeps that
    answer when nothing it was computed from moved: the same request and lock entry, and its PNG and
    .png.meta still at the stat (size, mtime, inode) they had when their bytes were checked. So the
    state after a build of one sprite out of thousands costs a stat per file, not a read.
    """
    lock = lock or Lock()
    chosen = list(spec_set.specs) if names is None else names
    earlier = known.sprites if known is not None else {}

    def state_of(name: str) -> SpriteState:
        loaded, request, locked = spec_set.specs[name], requests[name], lock.sprites.get(name)
        was = earlier.get(name)
        if was is not None and was.current and was.request.key == request.key and was.locked == locked:
            png = settings.assets_dir / loaded.spec.output_path
            if (was.loaded is loaded or was.loaded == loaded) and was.stats == (
                stat_of(png),
                stat_of(png.with_name(png.name + ".meta")),
            ):
                return was
        return sprite_state(settings, loaded, request, locked, memo)

    memo = HashMemo(settings.state_dir / HASH_MEMO_FILE)
    sprites = {n: state_of(n) for n in chosen}
    memo.save()
    removed = sorted(set(lock.sprites) - set(spec_set.specs))
    return ProjectState(sprites, lock, removed, _publication_problems(settings, lock))
