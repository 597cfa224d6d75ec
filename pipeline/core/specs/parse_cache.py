"""A per-machine cache of parsed spec files: YAML parsing and defaults merging skipped for unchanged files.

At 2000 specs, parsing YAML and merging defaults is most of ``load_specs`` (a quarter of a second);
validation is not. So the cache holds, per spec file, each sprite's *merged raw data* (plain JSON, before
validation) and line, keyed by the sha256 of the file's bytes, of ``_defaults.yaml``'s bytes, and of the
parsing code itself. A hit is validated again by the model as it is now, so a change to the model never
meets a stale answer; only files whose every sprite loaded without a problem are stored, and any
validation error on a hit makes the loader parse everything again (errors need YAML line numbers).

The file lives in the project's state folder (``.sprites/state``) and may vanish, be corrupt or belong to
another checkout: anything unreadable or not matching is ignored, and it is rewritten atomically.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.core.cachefile import load_json, save_json

__all__ = ["PARSE_CACHE_FILE", "ParseCache"]

PARSE_CACHE_FILE = "specs-parse.json"
_FORMAT = 1


@functools.cache
def _code_key() -> str:
    """The parsing and merging code (this folder's loader and YAML reader): another version, another cache.
    Read once per process: the code that runs is the code imported."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(str(_FORMAT).encode())
    for name in ("loader.py", "yaml_lines.py", "parse_cache.py"):
        with contextlib.suppress(OSError):
            digest.update((here / name).read_bytes())
    return digest.hexdigest()


class ParseCache:
    """Merged sprites per spec file label; ``get``/``put`` in memory, ``save`` writes when anything changed."""

    def __init__(self, path: Path | None, defaults_sha: str):
        self.path = path
        self.key = hashlib.sha256(f"{_code_key()}:{defaults_sha}".encode()).hexdigest()
        self.files: dict[str, Any] = {}
        self.changed = False
        data = load_json(path)
        if isinstance(data, dict) and data.get("key") == self.key and isinstance(data.get("files"), dict):
            self.files = data["files"]

    def get(self, label: str, sha: str) -> list[tuple[dict[str, Any], int]] | None:
        """The sprites of ``label`` as merged when its bytes hashed ``sha``, or None."""
        entry = self.files.get(label)
        if not isinstance(entry, dict) or entry.get("sha") != sha or not isinstance(entry.get("sprites"), list):
            return None
        out = []
        for item in entry["sprites"]:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], dict) and type(item[1]) is int):
                return None
            out.append((item[0], item[1]))
        return out

    def put(self, label: str, sha: str, sprites: list[tuple[Any, int]]) -> None:
        """Remember ``label``'s merged sprites, if they survive a JSON round trip unchanged."""
        if self.path is None:
            return
        try:
            plain = json.loads(json.dumps([[merged, line] for merged, line in sprites]))
        except (TypeError, ValueError):
            return
        if plain != [[merged, line] for merged, line in sprites]:  # e.g. a number used as a key
            return
        self.files[label] = {"sha": sha, "sprites": plain}
        self.changed = True

    def keep_only(self, labels: set[str]) -> None:
        """Forget files that no longer exist."""
        gone = set(self.files) - labels
        for label in gone:
            del self.files[label]
        self.changed = self.changed or bool(gone)

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        save_json(self.path, {"key": self.key, "files": self.files})
