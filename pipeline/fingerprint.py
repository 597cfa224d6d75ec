"""The no-op fast path: decide "nothing to do" from file hashes and stats alone.

After a build that leaves every sprite up to date, ``save`` records the sha256 of every spec file and
workflow template and the (size, mtime, inode) of every file the build owns in the Bevy folder, like
DVC's stat cache. ``is_noop`` recomputes the input hashes (the floor: the bare cost of reading the
inputs) and stats the outputs; only if all match is the build a no-op, without parsing a single YAML
file or importing Dagster. Anything else falls back to the full plan, which is always right.

Standard library only, on purpose: this runs before the heavy imports.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from pipeline.versions import CODE_VERSION

__all__ = ["hash_inputs", "invalidate", "is_noop", "save"]

_FILE = "fingerprint.json"


def hash_inputs(specs_dir: Path, workflows_dir: Path) -> dict[str, str]:
    """sha256 of every spec file and workflow template, by path."""
    out: dict[str, str] = {}
    for label, root in (("specs", specs_dir), ("workflows", workflows_dir)):
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                with open(path, "rb") as fh:
                    out[f"{label}/{os.path.relpath(path, root)}"] = hashlib.sha256(fh.read()).hexdigest()
    return out


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _context(settings_key: dict[str, str]) -> dict[str, object]:
    return {"code": CODE_VERSION, "settings": settings_key}


def save(
    state_dir: Path, settings_key: dict[str, str], inputs: dict[str, str], outputs: list[Path], sprites: int
) -> None:
    """Remember a fully up-to-date state of ``sprites`` sprites (written atomically)."""
    data = {
        **_context(settings_key),
        "inputs": inputs,
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


def is_noop(state_dir: Path, settings_key: dict[str, str], specs_dir: Path, workflows_dir: Path) -> int | None:
    """The number of sprites, all up to date, when inputs hash the same and every owned output is
    untouched since the last full build; None when a full plan is needed."""
    try:
        data = json.loads((state_dir / _FILE).read_text())
    except (OSError, ValueError):
        return None
    if {k: data.get(k) for k in ("code", "settings")} != _context(settings_key):
        return None
    outputs = data.get("outputs")
    if not isinstance(outputs, dict) or any(_stat(Path(p)) != st for p, st in outputs.items()):
        return None
    if data.get("inputs") != hash_inputs(specs_dir, workflows_dir):
        return None
    sprites = data.get("sprites")
    return sprites if isinstance(sprites, int) else None
