"""The input files of a build, hashed, and the no-op fast path that caches the answer (standard library only).

A build's inputs are every spec file (``*.yaml``/``*.yml``, defaults included), every workflow
template, and every other file a sprite's request read (``GenerationRequest.input_files``: an
``init_image``). ``hash_tree`` hashes the first two; the rest are hashed as the backends read them.

After a build that leaves the whole project current, ``save`` records those hashes *as they were
before the build read them* and the (size, mtime, inode) of every file the project publishes, like
DVC's stat cache. ``is_noop`` re-hashes the inputs (the bare cost of reading them) and stats the
outputs; only when everything matches is the build a no-op, without parsing YAML or importing
Dagster. The record lives under ``.sprites/state`` and may vanish at any time: then the full plan
(``pipeline.state.status``), which is always right, decides.

Runs before the heavy imports, hence standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.versions import CODE_VERSION

if TYPE_CHECKING:
    from pipeline.settings import Settings

__all__ = ["context_of", "hash_files", "hash_tree", "invalidate", "is_noop", "noop_for", "save"]

_FILE = "fingerprint.json"
SPECS = "specs/"
WORKFLOWS = "workflows/"
FILES = "files/"


def _sha(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None  # vanished between listing and reading: the next look sees it gone


def hash_tree(specs_dir: Path | None, workflows_dir: Path | None) -> dict[str, str]:
    """sha256 of every spec file (``specs/<rel>``) and workflow template (``workflows/<rel>``), sorted
    (None: leave that folder out)."""
    out: dict[str, str] = {}
    for label, root, suffixes in ((SPECS, specs_dir, (".yaml", ".yml")), (WORKFLOWS, workflows_dir, None)):
        if root is None or not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or (suffixes and not name.endswith(suffixes)):
                    continue
                path = os.path.join(dirpath, name)
                digest = _sha(path)
                if digest is not None:
                    out[label + Path(os.path.relpath(path, root)).as_posix()] = digest
    return dict(sorted(out.items()))


def hash_files(project_dir: Path, relative: list[str]) -> dict[str, str]:
    """sha256 of further input files (relative to the project), as ``files/<rel>``; a missing one is ''."""
    return {FILES + rel: _sha(os.path.join(project_dir, rel)) or "" for rel in sorted(relative)}


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def save(
    state_dir: Path, context: Mapping[str, str], inputs: Mapping[str, str], outputs: list[Path], sprites: int
) -> None:
    """Remember that ``sprites`` sprites are current for ``inputs`` (written atomically)."""
    data = {
        "code": CODE_VERSION,
        "context": dict(context),
        "inputs": dict(inputs),
        "outputs": {str(p): _stat(p) for p in outputs},
        "sprites": sprites,
    }
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, state_dir / _FILE)


def invalidate(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / _FILE).unlink()


def is_noop(
    state_dir: Path,
    context: Mapping[str, str],
    project_dir: Path,
    specs_dir: Path,
    workflows_dir: Path,
    hashed: dict[str, str] | None = None,
) -> int | None:
    """The number of sprites, all current, when every input hashes as recorded and every published file
    is untouched since; None when the full plan must decide. ``hashed``: filled with ``hash_tree``'s
    answer when it was computed (the snapshot a build that goes on needs anyway)."""
    try:
        data = json.loads((state_dir / _FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("code") != CODE_VERSION or data.get("context") != dict(context):
        return None
    outputs, recorded = data.get("outputs"), data.get("inputs")
    if not isinstance(outputs, dict) or not isinstance(recorded, dict):
        return None
    if any(_stat(Path(p)) != st for p, st in outputs.items()):
        return None
    current = hash_tree(specs_dir, workflows_dir)
    if hashed is not None:
        hashed.update(current)
    current.update(hash_files(project_dir, [k.removeprefix(FILES) for k in recorded if k.startswith(FILES)]))
    if current != recorded:
        return None
    sprites = data.get("sprites")
    return sprites if isinstance(sprites, int) else None


def context_of(settings: Settings) -> dict[str, str]:
    """Settings that change what a build produces or where: a different value means no fast-path no-op."""
    return {
        k: str(getattr(settings, k)) for k in ("specs_dir", "workflows_dir", "assets_dir", "cache_dir", "state_dir")
    } | {"comfyui": ",".join(settings.comfyui_urls), "backend": settings.backend or ""}


def noop_for(settings: Settings, hashed: dict[str, str] | None = None) -> int | None:
    """``is_noop`` for a project's settings: the number of sprites when nothing changed since a build
    left them all current, else None."""
    return is_noop(
        settings.state_dir,
        context_of(settings),
        settings.project_dir,
        settings.specs_dir,
        settings.workflows_dir,
        hashed,
    )
