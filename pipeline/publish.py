"""Publish the manifest: rebuild it from the export records of the current specs, and remove orphans.

A sprite whose spec was deleted leaves a record, a PNG and a ``.meta`` behind; the next manifest
publication deletes them, but only when the file still holds exactly the bytes the pipeline wrote
(a file someone edited by hand is reported, never deleted).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import UnsafePathError
from pipeline.export.atomic import safe_target
from pipeline.export.manifest import Manifest, ManifestEntry, manifest_lock, replace_entry, write_manifest
from pipeline.records import load_records
from pipeline.settings import Settings

__all__ = ["PublishResult", "publish_manifest", "upsert_manifest_entry"]


@dataclass
class PublishResult:
    manifest: Manifest
    changed: bool
    missing: list[str] = field(default_factory=list)  # specs with no export record yet
    removed: list[str] = field(default_factory=list)  # orphaned sprites whose files were deleted
    kept: list[str] = field(default_factory=list)  # orphaned files left alone (modified by hand)


def _remove_orphan(settings: Settings, name: str, path: str, sha: str) -> bool:
    try:
        png = safe_target(settings.assets_dir, path)
        meta = safe_target(settings.assets_dir, path + ".meta")
    except UnsafePathError:
        return False
    if png.is_file() and hashlib.sha256(png.read_bytes()).hexdigest() != sha:
        return False
    for f in (png, meta):
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
    with contextlib.suppress(FileNotFoundError):
        (Path(settings.state_dir) / "records" / f"{name}.json").unlink()
    return True


def publish_manifest(settings: Settings, spec_names: list[str], prune: bool = True) -> PublishResult:
    """Write the manifest for ``spec_names`` from their records (under the cross-process manifest lock)."""
    with manifest_lock(settings.state_dir):
        records = load_records(settings.state_dir)
        current = {n: records[n] for n in spec_names if n in records}
        missing = [n for n in spec_names if n not in records]
        manifest, changed = write_manifest(
            settings.assets_dir, settings.scratch_dir, [r.entry for r in current.values()]
        )
        result = PublishResult(manifest=manifest, changed=changed, missing=missing)
        if prune:
            in_use = {r.entry.path for r in current.values()}
            for name, rec in records.items():
                if name in current:
                    continue
                if rec.entry.path in in_use:  # another sprite writes that file now: only the record goes
                    with contextlib.suppress(FileNotFoundError):
                        (Path(settings.state_dir) / "records" / f"{name}.json").unlink()
                elif _remove_orphan(settings, name, rec.entry.path, rec.png_sha256):
                    result.removed.append(name)
                else:
                    result.kept.append(name)
        return result


def upsert_manifest_entry(settings: Settings, entry: ManifestEntry) -> bool:
    """Fix the sprite's manifest entry right after its PNG was written (under the lock).

    Keeps the window in which the manifest and the Bevy folder disagree down to two renames, even when a
    build dies before its manifest step. Returns whether the manifest changed.
    """
    with manifest_lock(settings.state_dir):
        return replace_entry(settings.assets_dir, settings.scratch_dir, entry)
