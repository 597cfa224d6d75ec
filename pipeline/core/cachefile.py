"""Per-machine JSON cache files (standard library only): read them if they are there and sound, write them
atomically, and never fail a build over them (they live under ``.sprites/`` and may vanish at any time)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["load_json", "save_json"]


def load_json(path: Path | None) -> Any:
    """The file's JSON, or None when there is no path, no file, or no valid JSON in it."""
    if path is None:
        return None
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def save_json(path: Path, data: Any) -> None:
    """Write ``data`` as compact JSON through a temporary file and a rename; a folder that cannot be written
    (a read-only checkout) only costs the cache."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
