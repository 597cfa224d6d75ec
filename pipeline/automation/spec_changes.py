"""What changed in the spec and workflow files, and which sprites that affects (no Dagster import).

The spec sensor's whole decision lives here, as a pure function of three things: the files on disk, the
files the loaded Dagster definitions were built from, and the sensor's cursor (the content hashes of
the files it last acted on). Content, never mtimes: a ``touch`` or a save without changes does nothing.

Which sprites a change affects: those defined in a changed spec file (every sprite when
``_defaults.yaml`` or a workflow template changed), narrowed by ``pipeline.plan`` to the ones whose
recorded build no longer matches their spec. Editing one sprite of a three-sprite file rebuilds one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.errors import SpriteError
from pipeline.generate.base import GenerationRequest
from pipeline.plan import manifest_is_current, sprite_states
from pipeline.records import load_records
from pipeline.settings import Settings
from pipeline.specs import SpecSet, load_specs
from pipeline.specs.loader import DEFAULTS_FILE, iter_spec_files

__all__ = [
    "CURSOR_VERSION",
    "SpecChanges",
    "diff_files",
    "evaluate_spec_changes",
    "hash_input_files",
    "loaded_input_hashes",
    "parse_cursor",
    "render_cursor",
]

CURSOR_VERSION = 1
SPECS = "specs/"
WORKFLOWS = "workflows/"
_HASH_CHARS = 16  # 64 bits tell edits apart; keeps the cursor (stored with every tick) small

Resolver = Callable[[SpecSet], Mapping[str, GenerationRequest]]


def _short_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:_HASH_CHARS]


def _workflow_files(workflows_dir: Path) -> list[Path]:
    if not workflows_dir.is_dir():
        return []
    return sorted(
        p
        for p in workflows_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(workflows_dir).parts)
    )


def hash_input_files(settings: Settings) -> dict[str, str]:
    """Content hash of every spec file and workflow template, keyed ``specs/<rel>`` / ``workflows/<rel>``."""
    out: dict[str, str] = {}
    specs_dir = Path(settings.specs_dir)
    if specs_dir.is_dir():
        for path in iter_spec_files(specs_dir):
            try:
                out[SPECS + path.relative_to(specs_dir).as_posix()] = _short_sha(path.read_bytes())
            except OSError:
                continue  # vanished between listing and reading: the next look sees it gone
    for path in _workflow_files(Path(settings.workflows_dir)):
        try:
            out[WORKFLOWS + path.relative_to(settings.workflows_dir).as_posix()] = _short_sha(path.read_bytes())
        except OSError:
            continue
    return dict(sorted(out.items()))


def loaded_input_hashes(spec_set: SpecSet, settings: Settings) -> dict[str, str]:
    """The input files as the loaded definitions saw them (spec hashes from the very bytes that were parsed)."""
    out = {SPECS + rel: sha[:_HASH_CHARS] for rel, sha in spec_set.file_hashes.items()}
    out.update({k: v for k, v in hash_input_files(settings).items() if k.startswith(WORKFLOWS)})
    return dict(sorted(out.items()))


def render_cursor(files: Mapping[str, str]) -> str:
    return json.dumps({"v": CURSOR_VERSION, "files": dict(sorted(files.items()))}, separators=(",", ":"))


def parse_cursor(cursor: str | None) -> dict[str, str] | None:
    """The file hashes in a cursor, or None for no cursor or one this version does not understand."""
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION or not isinstance(data.get("files"), dict):
        return None
    return {str(k): str(v) for k, v in data["files"].items()}


def diff_files(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Files added, removed or edited between two hash maps, sorted."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _describe(files: list[str], limit: int = 5) -> str:
    shown = ", ".join(f.removeprefix(SPECS) for f in files[:limit])
    return shown + (f" and {len(files) - limit} more" if len(files) > limit else "")


Status = Literal["baseline", "unchanged", "reload", "invalid", "up to date", "build"]


@dataclass(frozen=True)
class SpecChanges:
    """The sensor's decision. ``cursor`` None means: keep the old one (so nothing is forgotten)."""

    status: Status
    message: str
    cursor: str | None = None
    changed_files: list[str] = field(default_factory=list)
    sprites: list[str] = field(default_factory=list)  # to materialize (raw, pixel, bevy), sorted
    deleted: list[str] = field(default_factory=list)  # built before, spec gone: the manifest prunes them
    manifest: bool = False  # whether bevy/manifest must be materialized


def _affected(spec_set: SpecSet, changed: list[str]) -> list[str]:
    if any(f.startswith(WORKFLOWS) or f == SPECS + DEFAULTS_FILE for f in changed):
        return list(spec_set.specs)
    files = {f.removeprefix(SPECS) for f in changed if f.startswith(SPECS)}
    return [name for name, loaded in spec_set.specs.items() if loaded.file in files]


def evaluate_spec_changes(
    settings: Settings,
    loaded: Mapping[str, str],
    cursor: str | None,
    resolve: Resolver,
) -> SpecChanges:
    """Decide what one sensor tick does.

    ``loaded``: input hashes the running definitions were built from (``loaded_input_hashes``).
    ``resolve``: spec set -> generation requests (``pipeline.assets.resolve_requests``).
    """
    current = hash_input_files(settings)
    previous = parse_cursor(cursor)
    if current != dict(loaded):
        # reloading definitions that cannot load would break the code location, this sensor with it
        stale_defs = diff_files(loaded, current)
        try:
            resolve(load_specs(settings.specs_dir))  # binding workflow templates can fail too
        except SpriteError as exc:
            return SpecChanges(
                "invalid",
                f"{_describe(stale_defs)} changed but the specs do not load, so nothing "
                f"is reloaded or built until they are fixed.\n{exc}",
                changed_files=stale_defs,
            )
        return SpecChanges(
            "reload",
            f"{_describe(stale_defs)} changed since the definitions were loaded",
            changed_files=stale_defs,
        )
    if previous is None:
        return SpecChanges(
            "baseline",
            f"watching {sum(k.startswith(SPECS) for k in current)} spec files and "
            f"{sum(k.startswith(WORKFLOWS) for k in current)} workflow templates from now on; sprites already "
            "stale or missing are left to the schedule or a manual materialization",
            cursor=render_cursor(current),
        )
    changed = diff_files(previous, current)
    if not changed:
        return SpecChanges("unchanged", "no spec file or workflow template changed")
    spec_set = load_specs(settings.specs_dir)  # same bytes the definitions were built from: valid
    requests = resolve(spec_set)
    candidates = sorted(_affected(spec_set, changed))
    states = sprite_states(settings, spec_set, dict(requests), candidates)
    todo = [st.name for st in states if st.status != "up to date"]
    deleted = sorted(set(load_records(settings.state_dir)) - set(spec_set.specs))
    manifest = bool(todo or deleted) or not manifest_is_current(settings, spec_set)
    new_cursor = render_cursor(current)
    if not manifest:
        return SpecChanges(
            "up to date",
            f"{_describe(changed)} changed; every sprite it defines is already built for its current inputs",
            cursor=new_cursor,
            changed_files=changed,
        )
    parts = []
    if todo:
        parts.append(f"build {', '.join(todo)}")
    if deleted:
        parts.append(f"remove {', '.join(deleted)} (spec deleted)")
    if not parts:
        parts.append("republish the manifest")
    return SpecChanges(
        "build",
        f"{_describe(changed)} changed: " + "; ".join(parts),
        cursor=new_cursor,
        changed_files=changed,
        sprites=todo,
        deleted=deleted,
        manifest=True,
    )
