"""Publish built sprites: lock entries -> ``sprites.lock`` + ``manifest.json`` + ``.assets.ron``.

Every run ends here, whoever launched it (the manifest step; after a failed run, its launcher or the
failure sensor). A publish takes one cross-process lock, reads the lock on disk, replaces the entries
of the sprites it built, drops those of deleted specs, writes the lock, then renders the manifest and
``.assets.ron`` from it. Files no entry lists any more (a deleted spec's, or the old place of an output
that moved) are deleted when they still hold exactly the bytes the pipeline wrote; else left, and said.
Entries it did not build are carried over byte for byte, so a selective build in a fresh clone, or
two builds finishing together, never lose anyone's entry.

Between a sprite's export and the end of its run, its entry waits in ``<state>/runs/<run_id>/``. A
sprite whose export *replaces* a published PNG is published at once, with the PNG: PNG, lock and manifest
are written to scratch files first and renamed into place together, so the manifest never describes bytes
that are no longer on disk for longer than the renames between them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.export.atomic import AtomicBatch, atomic_write, safe_target
from pipeline.core.export.manifest import Manifest, write_manifest
from pipeline.errors import UnsafePathError
from pipeline.settings import Settings
from pipeline.state.lockfile import (
    Lock,
    LockEntry,
    OldLockError,
    lock_path,
    read_lock,
    remember_lock,
    render_lock,
)

if TYPE_CHECKING:
    from pipeline.state.stages import ExportOutput

__all__ = ["PublishResult", "pending_entries", "publish", "publish_run", "record_export", "removed_specs"]

_RUNS = "runs"
_STALE_RUN_S = 7 * 24 * 3600


@dataclass
class PublishResult:
    manifest: Manifest
    changed: bool  # whether the lock, manifest or .assets.ron changed
    published: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # deleted specs whose entries (and files) went
    kept: list[str] = field(default_factory=list)  # deleted specs whose files were edited by hand: left


@contextlib.contextmanager
def publish_lock(settings: Settings) -> Iterator[None]:
    """One publisher at a time, across processes: an flock on the project folder itself, which (unlike a
    lock file under ``.sprites/``) cannot be deleted from under a waiting build. Released if we die."""
    fd = os.open(settings.project_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _remove_files(settings: Settings, entry: LockEntry) -> bool:
    """Delete a deleted spec's PNG and .meta if the PNG is still the pipeline's bytes (or already gone)."""
    try:
        png = safe_target(settings.assets_dir, entry.entry.path)
        meta = safe_target(settings.assets_dir, entry.entry.path + ".meta")
    except UnsafePathError:
        return False
    with contextlib.suppress(FileNotFoundError):
        if hashlib.sha256(png.read_bytes()).hexdigest() != entry.entry.sha256:
            return False
    for f in (png, meta):
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
    return True


def publish(
    settings: Settings,
    built: Mapping[str, LockEntry],
    removed: Iterable[str] = (),
    *,
    all_names: Iterable[str] | None = None,
    files: Sequence[tuple[Path, bytes]] = (),
) -> PublishResult:
    """Put ``built`` into the lock, drop ``removed``, and render the manifest and .assets.ron from the lock.

    ``all_names``: every sprite of the project. Only when ``built`` covers all of them may a lockfile
    written by another version be replaced (nothing of it is then needed); otherwise that is an error.
    ``files``: (path, bytes) replaced in the same step as the lock and the manifest, just before them (a
    PNG whose manifest line changes with it: all are written first and renamed in one burst, PNG first, so
    only a crash in the microseconds between the renames can leave the line describing the old bytes).
    """
    gone = set(removed)
    with publish_lock(settings):
        try:
            lock = read_lock(settings) or Lock()
        except OldLockError:
            if all_names is None or not set(all_names) <= set(built):
                raise
            lock = Lock()
        sprites = dict(lock.sprites)
        # files the pipeline wrote that no entry will list any more: a deleted spec's, or a moved output's
        left: list[tuple[str, LockEntry]] = [
            (name, old) for name, old in sprites.items() if name in built and old.entry.path != built[name].entry.path
        ]
        sprites.update(built)
        left += [(name, sprites.pop(name)) for name in sorted(gone) if name in sprites]
        in_use = {e.entry.path for e in sprites.values()}
        result_removed: list[str] = []
        kept: list[str] = []
        for name, entry in left:
            done = entry.entry.path in in_use or _remove_files(settings, entry)
            if name in gone:
                (result_removed if done else kept).append(name)
        new = Lock(sprites=dict(sorted(sprites.items())))
        text = render_lock(new)
        path = lock_path(settings)
        try:
            lock_changed = path.read_text(encoding="utf-8") != text
        except OSError:
            lock_changed = True
        batch = AtomicBatch(settings.scratch_dir)
        for target, data in files:
            batch.add(target, data)
        if lock_changed:
            batch.add(path, text.encode())
        manifest, manifest_changed = write_manifest(
            settings.assets_dir,
            settings.scratch_dir,
            [e.entry for e in new.sprites.values()],
            {n: e.as_json()["entry"] for n, e in new.sprites.items()},
            batch=batch,
        )
        batch.commit()
        remember_lock(path, new)
    return PublishResult(manifest, lock_changed or manifest_changed, sorted(built), result_removed, kept)


def _run_dir(settings: Settings, run_id: str) -> Path:
    if not run_id.replace("-", "").isalnum():
        raise ValueError(f"invalid run id {run_id!r}")
    return settings.state_dir / _RUNS / run_id


def record_export(settings: Settings, run_id: str, name: str, out: ExportOutput) -> None:
    """A sprite's export finished: its entry waits for the end of the run. When the export replaces a PNG
    whose old bytes the manifest describes (``out.replacement``), the PNG, its lock entry and its manifest
    line are replaced now, together (``publish(files=...)``)."""
    data = out.locked.model_dump_json().encode()
    atomic_write(_run_dir(settings, run_id) / f"{name}.json", data, settings.scratch_dir)
    if out.replacement is not None:
        publish(settings, {name: out.locked}, files=[out.replacement])


def pending_entries(settings: Settings, run_id: str) -> dict[str, LockEntry]:
    """The entries a run exported and has not published yet (unreadable ones are skipped: rebuilt later)."""
    folder = _run_dir(settings, run_id)
    out: dict[str, LockEntry] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            out[path.stem] = LockEntry.model_validate_json(path.read_bytes())
    return out


def publish_run(
    settings: Settings, run_id: str, removed: Iterable[str] = (), *, all_names: Iterable[str] | None = None
) -> PublishResult:
    """Publish what run ``run_id`` exported (and drop ``removed``), then forget its pending entries."""
    result = publish(settings, pending_entries(settings, run_id), removed, all_names=all_names)
    shutil.rmtree(_run_dir(settings, run_id), ignore_errors=True)
    _forget_old_runs(settings)
    return result


def _forget_old_runs(settings: Settings) -> None:
    """Pending entries of runs that died long ago are garbage (their sprites show as not built)."""
    folder = settings.state_dir / _RUNS
    now = time.time()
    for run in folder.iterdir() if folder.is_dir() else []:
        with contextlib.suppress(OSError):
            if now - run.stat().st_mtime > _STALE_RUN_S:
                shutil.rmtree(run, ignore_errors=True)


def removed_specs(settings: Settings, known: Iterable[str]) -> list[str]:
    """Sprites in the lock that no spec defines any more: neither ``known`` (the names a run was defined
    with) nor the specs on disk now (a run defined before a spec was added must not drop its entry).
    When the specs on disk do not load, nothing counts as removed."""
    from pipeline.core.specs import load_specs
    from pipeline.core.specs.parse_cache import PARSE_CACHE_FILE
    from pipeline.errors import SpriteError

    try:
        lock = read_lock(settings)
    except OldLockError:
        return []
    candidates = set(lock.sprites) - set(known) if lock else set()
    if not candidates:
        return []
    try:
        on_disk = set(load_specs(settings.specs_dir, settings.state_dir / PARSE_CACHE_FILE).specs)
    except SpriteError:
        return []
    return sorted(candidates - on_disk)
