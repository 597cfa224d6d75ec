"""Content hashes of published files, remembered by stat like git's index (standard library only).

``sprites build``, ``list`` and ``check --locked`` compare every sprite's PNG and ``.png.meta`` with the bytes
``sprites.lock`` records: at 2000 sprites, 4000 reads. A file whose (size, mtime, inode) is what it was when
it was hashed is taken at that hash, but only when it was at least two seconds old then, so a write in
the same timestamp tick as the hashing (the "racy git" case) is never missed. The memo lives in the
state folder and may vanish or be stale at any time: then files are simply read again.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from pipeline.core.cachefile import load_json, save_json

__all__ = ["HASH_MEMO_FILE", "HashMemo", "Stat"]

HASH_MEMO_FILE = "hashes.json"
_SETTLED_NS = 2_000_000_000  # a file this much older than its hashing cannot have changed in the same tick

Stat = tuple[int, int, int]  # (size, mtime_ns, inode)


class HashMemo:
    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, list[object]] = {}
        self.used: set[str] = set()
        self.changed = False
        data = load_json(path)
        if isinstance(data, dict):
            self.entries = data

    def sha(self, path: Path) -> tuple[str | None, Stat | None]:
        """The file's sha256 and its stat (None, None when it is missing)."""
        key = str(path)
        try:
            st = os.stat(path)
        except OSError:
            return None, None
        stat = (st.st_size, st.st_mtime_ns, st.st_ino)
        hit = self.entries.get(key)
        if (
            isinstance(hit, list)
            and len(hit) == 5
            and tuple(hit[:3]) == stat
            and isinstance(hit[3], str)
            and isinstance(hit[4], int)
            and stat[1] <= hit[4] - _SETTLED_NS
        ):
            self.used.add(key)
            return hit[3], stat
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                hashed_at = time.time_ns()
                digest = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            return None, None
        stat = (st.st_size, st.st_mtime_ns, st.st_ino)
        self.entries[key] = [*stat, digest, hashed_at]
        self.used.add(key)
        self.changed = True
        return digest, stat

    def save(self) -> None:
        """Write the memo (only the files looked at since it was read), atomically, if anything changed."""
        if self.path is None or not (self.changed or set(self.entries) - self.used):
            return
        save_json(self.path, {k: v for k, v in self.entries.items() if k in self.used})
