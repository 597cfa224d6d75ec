"""Content-addressed store of stage outputs, keyed by stage key.

Layout (a plain folder: share it between machines and CI by copying or mounting it)::

    <cache>/<stage>/<key[:2]>/<key>/entry.json     {"stage", "key", "files": {name: sha256}, "meta": {...}}
    <cache>/<stage>/<key[:2]>/<key>/<name>         the bytes

Reads verify that ``entry.json`` names this very stage and key, and every file against it: a corrupt,
truncated or misplaced entry (a folder copied over another's) is reported and treated as a miss (then
overwritten), never returned. Writers build the entry in a private folder and rename
it into place, so concurrent writers of one key are safe: the first rename wins, the rest are dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pipeline.core.export.atomic import dir_mode
from pipeline.errors import CacheError

__all__ = ["CacheEntry", "Claims", "ContentCache"]


@dataclass
class CacheEntry:
    stage: str
    key: str
    files: dict[str, bytes]
    hashes: dict[str, str]
    meta: dict[str, Any] = field(default_factory=dict)


class ContentCache:
    def __init__(self, root: Path):
        self.root = Path(root)
        #: (stage, key, reason) of entries found corrupt since this object was made
        self.corrupt: list[tuple[str, str, str]] = []

    def _dir(self, stage: str, key: str) -> Path:
        if not key.isalnum() or not stage.isidentifier():
            raise CacheError(f"invalid cache address {stage}/{key}")
        return self.root / stage / key[:2] / key

    def has(self, stage: str, key: str) -> bool:
        return (self._dir(stage, key) / "entry.json").is_file()

    def get(self, stage: str, key: str) -> CacheEntry | None:
        """The verified entry, or None (missing or corrupt; corrupt ones are recorded in ``corrupt``)."""
        folder = self._dir(stage, key)
        try:
            entry = json.loads((folder / "entry.json").read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            self.corrupt.append((stage, key, f"unreadable entry.json: {exc}"))
            return None
        if not isinstance(entry, dict) or entry.get("stage") != stage or entry.get("key") != key:
            # an entry folder copied or synced over another's: its bytes are fine but belong elsewhere
            found = f"{entry.get('stage')}/{entry.get('key')}" if isinstance(entry, dict) else "no address"
            self.corrupt.append((stage, key, f"entry.json belongs to {found}, not to this address"))
            return None
        try:
            hashes: dict[str, str] = dict(entry["files"])
            files = {}
            for name, digest in hashes.items():
                data = (folder / name).read_bytes()
                if hashlib.sha256(data).hexdigest() != digest:
                    self.corrupt.append((stage, key, f"{name}: sha256 mismatch"))
                    return None
                files[name] = data
        except (OSError, KeyError, TypeError, AttributeError) as exc:
            self.corrupt.append((stage, key, f"incomplete entry: {exc}"))
            return None
        return CacheEntry(stage=stage, key=key, files=files, hashes=hashes, meta=dict(entry.get("meta") or {}))

    def put(self, stage: str, key: str, files: dict[str, bytes], meta: dict[str, Any] | None = None) -> CacheEntry:
        """Store ``files`` under ``(stage, key)``; an existing valid entry is kept (same key, same bytes)."""
        final = self._dir(stage, key)
        hashes = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
        entry = CacheEntry(stage=stage, key=key, files=dict(files), hashes=hashes, meta=dict(meta or {}))
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", dir=final.parent))
            try:
                tmp.chmod(dir_mode())  # mkdtemp's 0700 would survive the rename: share like any folder
                for name, data in files.items():
                    if "/" in name or name in ("", ".", "..", "entry.json"):
                        raise CacheError(f"invalid cache file name '{name}'")
                    (tmp / name).write_bytes(data)
                (tmp / "entry.json").write_text(
                    json.dumps({"stage": stage, "key": key, "files": hashes, "meta": entry.meta}, sort_keys=True)
                )
                try:
                    os.rename(tmp, final)
                except OSError:
                    # Someone else stored this key first (or a corrupt leftover is in the way).
                    if self.get(stage, key) is None:
                        shutil.rmtree(final, ignore_errors=True)
                        os.rename(tmp, final)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        except OSError as exc:
            raise CacheError(f"cannot write to cache {self.root}: {exc.strerror or exc}") from exc
        return entry

    def keys(self, stage: str) -> list[str]:
        base = self.root / stage
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.glob("??/*") if not p.name.startswith("."))

    def remove(self, stage: str, key: str) -> int:
        """Delete an entry; returns the bytes freed."""
        folder = self._dir(stage, key)
        size = sum(f.stat().st_size for f in folder.glob("*") if f.is_file()) if folder.is_dir() else 0
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(folder)
        return size


class Claims:
    """Cross-process claims on cache keys: whoever holds a key's claim is the one producing it.

    Two builds (or a build and an MCP call) that need the same render never both send it to the GPU:
    the second waits for the claim, then finds the entry in the cache. Claims are ``flock`` locks on
    files under ``<cache>/.claims/``, released by the kernel if a process dies. One ``Claims`` per run;
    ``try_claim`` takes a claim for longer than one ``hold`` (a backend that submits every job of a run
    up front), and ``hold`` is a no-op for a key this object already holds.
    """

    def __init__(self, cache: ContentCache):
        self.cache = cache
        self._held: dict[tuple[str, str], IO[bytes]] = {}
        self._lock = threading.Lock()  # results may be published (and claims released) from other threads

    def _open(self, stage: str, key: str) -> IO[bytes]:
        folder = self.cache.root / ".claims" / stage
        folder.mkdir(parents=True, exist_ok=True)
        self.cache._dir(stage, key)  # validates the address
        return open(folder / key, "a+b")

    def try_claim(self, stage: str, key: str) -> bool:
        """Claim ``key`` if nobody else holds it (never waits); True if this object holds it now."""
        with self._lock:
            if (stage, key) in self._held:
                return True
            fh = self._open(stage, key)
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                return False
            self._held[(stage, key)] = fh
            return True

    @contextlib.contextmanager
    def hold(self, stage: str, key: str, poll: float = 0.2) -> Iterator[None]:
        """Hold the claim for the duration of the block, waiting while another process holds it.

        The wait ends early when the entry appears in the cache (its holder produced it): then the block
        runs without the claim and finds the entry. Builds run their sprites in name order, so two
        processes waiting on each other's claims cannot form a cycle.
        """
        with self._lock:
            held = (stage, key) in self._held
        if held:
            try:
                yield
            finally:
                self.release(stage, key)
            return
        fh = self._open(stage, key)
        try:
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if self.cache.has(stage, key):
                        break
                    time.sleep(poll)
            yield
        finally:
            fh.close()

    def release(self, stage: str, key: str) -> None:
        with self._lock:
            fh = self._held.pop((stage, key), None)
        if fh is not None:
            fh.close()

    def release_all(self) -> None:
        with self._lock:
            held = list(self._held)
        for stage, key in held:
            self.release(stage, key)
