"""What changed in the spec and workflow files, and which sprites that affects (no Dagster import).

The spec sensor's whole decision lives here, as a pure function of three things: the files on disk, the
files the loaded Dagster definitions were built from, and the sensor's cursor (the content hashes of
the files it last acted on). Content, never mtimes: a ``touch`` or a save without changes does nothing.

Which sprites a change affects: those defined in a changed spec file or reading a changed
``init_image`` (every sprite when ``_defaults.yaml`` or a workflow template changed), narrowed by
``pipeline.state.status`` to the ones not current against ``sprites.lock``. Editing one sprite of a
three-sprite file rebuilds one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.core.generate.base import GenerationRequest
from pipeline.core.specs import SpecSet, load_specs
from pipeline.core.specs.loader import DEFAULTS_FILE
from pipeline.settings import Settings
from pipeline.state.inputs import FILES, SPECS, WORKFLOWS, hash_files, hash_tree
from pipeline.state.lockfile import OldLockError, read_lock
from pipeline.state.status import project_state

__all__ = [
    "CURSOR_VERSION",
    "SpecChanges",
    "diff_files",
    "evaluate_spec_changes",
    "hash_input_files",
    "input_files_of",
    "loaded_input_hashes",
    "parse_cursor",
    "render_cursor",
]

CURSOR_VERSION = 1
_HASH_CHARS = 16  # 64 bits tell edits apart; keeps the cursor (stored with every tick) small

Resolver = Callable[[SpecSet], Mapping[str, GenerationRequest]]


def input_files_of(spec_set: SpecSet) -> list[str]:
    """Files besides specs and workflows that sprites read (``generation.init_image``), project-relative."""
    return sorted({s.spec.generation.init_image for s in spec_set if s.spec.generation.init_image})


def hash_input_files(settings: Settings, files: Sequence[str] = ()) -> dict[str, str]:
    """Content hash of every spec file, workflow template and of ``files`` (``specs/``, ``workflows/``,
    ``files/`` + relative path), shortened for the cursor."""
    hashes = hash_tree(settings.specs_dir, settings.workflows_dir)
    hashes.update(hash_files(settings.project_dir, list(files)))
    return {k: v[:_HASH_CHARS] for k, v in sorted(hashes.items())}


def loaded_input_hashes(spec_set: SpecSet, settings: Settings) -> dict[str, str]:
    """The input files as the loaded definitions saw them (spec hashes from the very bytes that were parsed)."""
    hashes = hash_tree(None, settings.workflows_dir)  # the specs: from the bytes that were parsed, below
    hashes.update(hash_files(settings.project_dir, input_files_of(spec_set)))
    out = {k: v[:_HASH_CHARS] for k, v in hashes.items()}
    out.update({SPECS + rel: sha[:_HASH_CHARS] for rel, sha in spec_set.file_hashes.items()})
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


Status = Literal["baseline", "unchanged", "reload", "up to date", "build"]


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
    inputs = {f.removeprefix(FILES) for f in changed if f.startswith(FILES)}
    return [
        name
        for name, loaded in spec_set.specs.items()
        if loaded.file in files or loaded.spec.generation.init_image in inputs
    ]


def evaluate_spec_changes(
    settings: Settings,
    loaded: Mapping[str, str],
    cursor: str | None,
    resolve: Resolver,
    load: Callable[[Path], SpecSet] = load_specs,
) -> SpecChanges:
    """Decide what one sensor tick does.

    ``loaded``: input hashes the running definitions were built from (``loaded_input_hashes``).
    ``resolve``: spec set -> generation requests (``pipeline.defs.assets.resolve_requests``).
    ``load``: specs folder -> the spec set the definitions hold (the code location: ``load_spec_set``,
    which leaves invalid specs out; a sprite of an invalid spec is then never taken for a deleted one).
    """
    current = hash_input_files(settings, [k.removeprefix(FILES) for k in loaded if k.startswith(FILES)])
    previous = parse_cursor(cursor)
    if current != dict(loaded):
        # the location loads whatever specs are valid and shows the others as failing items, so even
        # invalid specs are reloaded: that is how the UI learns of them, and of their fix
        stale_defs = diff_files(loaded, current)
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
    spec_set = load(settings.specs_dir)  # the same bytes the definitions were built from
    requests = resolve(spec_set)
    candidates = sorted(_affected(spec_set, changed))
    try:
        lock = read_lock(settings)
    except OldLockError:
        lock = None  # every sprite counts as never built; the manifest step says what to do
    state = project_state(settings, spec_set, requests, lock, candidates)
    todo = [st.name for st in state.todo]
    deleted = [] if spec_set.problems else state.removed  # while specs are invalid, nothing counts as deleted
    manifest = bool(todo or deleted or state.unpublished)
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
