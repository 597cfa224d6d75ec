"""A second cache tier on an object store over the S3 protocol: ``SPRITES_CACHE_URL=s3://bucket/prefix``.

``TieredCache`` is a ``ContentCache`` (the local folder) with a ``RemoteTier`` behind it:

* read-through: a local miss asks the remote; a remote entry is verified exactly like a local one (it
  is unpacked into a scratch cache folder and read back with ``ContentCache.get``, so every check the
  local cache makes, hashes and "entry.json names this stage and key", applies to it) and only then
  stored locally; a corrupt, truncated or misaddressed remote object is a miss, never a wrong sprite;
* write-back: every entry stored locally is uploaded at once, and ``sprites build`` ends by pushing
  what the remote still lacks (``pipeline.state.cache_sync.push``), so an upload that failed mid-build is retried.

Remote layout: one object per entry, ``<prefix>/<stage>/<key>.tar``, an uncompressed tar of the local
entry folder (``entry.json`` first, then the files; fixed mtimes and modes, so equal entries are equal
bytes). One object per entry makes every entry atomic: S3 replaces whole objects, so a reader sees a
complete entry or none. Concurrent writers: uploads are conditional (``If-None-Match: *``), the first
one wins and the others keep theirs locally (equal keys are equal inputs, both are valid renders); an
object found corrupt is overwritten unconditionally by the next writer of that key.

Client: obstore (Rust ``object_store``), chosen over boto3 and s3fs: one wheel with no Python
dependencies, conditional puts as an argument (``mode="create"``), bounded retries and timeouts per
store, and the standard ``AWS_*`` variables (endpoint, region, keys, session token, IMDS/ECS/web
identity) read by itself. Measured against moto (``benchmarks/bench_s3_clients.py``, docs/scaling.md):
boto3's client took ~0.5 s to start in a fresh process (obstore ~10 ms; every Celery step is a fresh
process) and 2-5x longer per small PUT/GET; s3fs adds aiobotocore, whose narrow botocore pins conflict
with boto3, and a listing cache that can hide a concurrent writer's objects. AWS config-file profiles
are not read: export them (``aws configure export-credentials --format env``).

A remote that cannot be read (unreachable, credentials refused) is reported once and then left alone for
the rest of the process: the build goes on with the local cache (and, unless ``--offline``, the
generation servers). A write that fails stops only the writes (read-only credentials are a normal
set-up for CI). ``problems`` says why; ``sprites build`` ends with a warning naming what was not pushed.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import tarfile
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline.errors import CacheError, ConfigError
from pipeline.state.cache import CacheEntry, ContentCache

__all__ = ["MAX_OBJECT_BYTES", "RemoteTier", "TieredCache", "open_cache", "parse_cache_url", "tar_entry"]

log = logging.getLogger(__name__)

#: a remote object larger than this is refused (a render sheet is a few MB at most)
MAX_OBJECT_BYTES = 256 * 1024 * 1024
#: how long a remote miss is remembered, so a has() followed by a get() (or a waiter polling) asks once
MISS_TTL = 2.0


def parse_cache_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix); a ConfigError naming SPRITES_CACHE_URL otherwise."""
    scheme, sep, rest = url.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme not in ("s3", "s3a") or not sep or not bucket:
        raise ConfigError(
            f"SPRITES_CACHE_URL: expected s3://bucket/prefix (any S3-compatible store; endpoint, region and "
            f"credentials come from the AWS_* variables), got {url!r}"
        )
    return bucket, prefix.strip("/")


def tar_entry(folder: Path) -> bytes:
    """The entry folder as a deterministic tar: entry.json first, then its files in name order."""
    names = ["entry.json", *sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "entry.json")]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in names:
            data = (folder / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _untar_entry(data: bytes, into: Path) -> None:
    """Unpack an entry object into ``into``: plain files with plain names only (ValueError otherwise)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            members = tar.getmembers()
            seen: set[str] = set()
            for member in members:
                name = member.name
                if not member.isreg() or "/" in name or name in ("", ".", "..") or name in seen:
                    raise ValueError(f"unexpected member {name!r} in the entry object")
                seen.add(name)
                extracted = tar.extractfile(member)
                if extracted is None:
                    raise ValueError(f"unreadable member {name!r}")
                (into / name).write_bytes(extracted.read())
    except tarfile.TarError as exc:
        raise ValueError(f"not a readable entry object: {exc}") from exc
    if "entry.json" not in seen:
        raise ValueError("the entry object has no entry.json")


class RemoteTier:
    """The object store behind a cache: fetch verified entries, upload entries, list what it holds."""

    def __init__(self, url: str, store: Any = None):
        self.url = url.rstrip("/")
        bucket, prefix = parse_cache_url(self.url)
        self._store = store if store is not None else _make_store(bucket, prefix)
        self._lock = threading.Lock()
        self._misses: dict[tuple[str, str], float] = {}
        #: keys whose remote object was found corrupt: the next upload of one overwrites it
        self.corrupt_keys: set[tuple[str, str]] = set()
        #: why the remote was switched off for this process (None: in use)
        self.disabled: str | None = None
        #: why writing to it was (None: writing); reads go on (e.g. read-only credentials on CI)
        self.writes_disabled: str | None = None
        #: every problem met (unreachable, refused, failed uploads), for the user
        self.problems: list[str] = []

    def path(self, stage: str, key: str) -> str:
        return f"{stage}/{key}.tar"

    def _fail(self, what: str, exc: Exception) -> CacheError:
        reason = f"remote cache {self.url}: {what}: {_short(exc)}"
        return CacheError(reason)

    def _switch_off(self, error: CacheError, writes_only: bool = False) -> None:
        """Stop using the remote (or only writing to it: read-only credentials are a normal set-up)."""
        with self._lock:
            if writes_only and self.writes_disabled is None and self.disabled is None:
                self.writes_disabled = str(error)
                log.warning("%s; not writing to the remote cache for the rest of this process", error)
            elif not writes_only and self.disabled is None:
                self.disabled = str(error)
                log.warning("%s; going on without the remote cache for the rest of this process", error)
            self.problems.append(str(error))

    def get_bytes(self, stage: str, key: str) -> bytes | None:
        """The raw object of an entry, or None when the remote has none. CacheError when unreachable,
        ValueError when the object is too large to be an entry."""
        import obstore

        try:
            result = obstore.get(self._store, self.path(stage, key))
            if result.meta["size"] > MAX_OBJECT_BYTES:  # not an entry of ours: a miss, not downloaded
                raise ValueError(f"{result.meta['size']} bytes, over the {MAX_OBJECT_BYTES} byte limit")
            return bytes(result.bytes())
        except FileNotFoundError:
            return None
        except obstore.exceptions.BaseError as exc:
            raise self._fail(f"cannot read {self.path(stage, key)}", exc) from exc

    def put_bytes(self, stage: str, key: str, data: bytes) -> bool:
        """Upload an entry object; False when another writer stored that key first (theirs is kept)."""
        import obstore

        path = self.path(stage, key)
        overwrite = (stage, key) in self.corrupt_keys
        try:
            try:
                obstore.put(self._store, path, data, mode="overwrite" if overwrite else "create")
            except obstore.exceptions.NotSupportedError:
                obstore.put(self._store, path, data)  # no conditional puts there: still whole objects, atomic
        except obstore.exceptions.AlreadyExistsError:
            return False
        except obstore.exceptions.BaseError as exc:
            raise self._fail(f"cannot write {path}", exc) from exc
        self.corrupt_keys.discard((stage, key))
        with self._lock:
            self._misses.pop((stage, key), None)
        return True

    def listing(self, stage: str) -> dict[str, int]:
        """Every key the remote holds for ``stage``, with its object size."""
        import obstore

        out: dict[str, int] = {}
        try:
            for batch in obstore.list(self._store, prefix=f"{stage}/"):
                for meta in batch:
                    name = meta["path"].rsplit("/", 1)[-1]
                    if name.endswith(".tar") and name[:-4].isalnum():
                        out[name[:-4]] = int(meta["size"])
        except obstore.exceptions.BaseError as exc:
            raise self._fail(f"cannot list {stage}/", exc) from exc
        return out

    def recently_missed(self, stage: str, key: str) -> bool:
        with self._lock:
            at = self._misses.get((stage, key))
        return at is not None and time.monotonic() - at < MISS_TTL

    def remember_miss(self, stage: str, key: str) -> None:
        with self._lock:
            self._misses[(stage, key)] = time.monotonic()


def _make_store(bucket: str, prefix: str) -> Any:
    """An obstore S3 store for ``bucket``/``prefix``: AWS_* variables, bounded retries and timeouts."""
    import os

    from obstore.store import S3Store

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    client: dict[str, Any] = {"connect_timeout": timedelta(seconds=5), "timeout": timedelta(seconds=60)}
    if endpoint.startswith("http://"):
        client["allow_http"] = True  # a plain-HTTP endpoint was asked for by name (a local MinIO, moto)
    try:
        return S3Store(
            bucket,
            prefix=prefix or None,
            client_options=client,  # type: ignore[arg-type]
            retry_config={
                "max_retries": 3,
                "retry_timeout": timedelta(seconds=20),
                "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=2)},
            },
        )
    except Exception as exc:  # obstore raises its own configuration errors (unknown keys, bad values)
        raise ConfigError(f"SPRITES_CACHE_URL=s3://{bucket}/{prefix}: cannot configure the S3 client: {exc}") from exc


def _short(exc: BaseException) -> str:
    """First line of an obstore error (its message carries a multi-line debug dump)."""
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


class TieredCache(ContentCache):
    """The local content-addressed cache with a remote tier behind it (see the module docstring)."""

    def __init__(self, root: Path, remote: RemoteTier):
        super().__init__(root)
        self.remote = remote

    # -- reads ---------------------------------------------------------------------------------------

    def has(self, stage: str, key: str) -> bool:
        return super().has(stage, key) or self._pull(stage, key) is not None

    def get(self, stage: str, key: str) -> CacheEntry | None:
        entry = super().get(stage, key)
        return entry if entry is not None else self._pull(stage, key)

    def local_get(self, stage: str, key: str) -> CacheEntry | None:
        """The local entry only (no remote request)."""
        return super().get(stage, key)

    def _pull(self, stage: str, key: str) -> CacheEntry | None:
        """Fetch, verify and store locally one remote entry; None for a miss (absent, corrupt, unreachable)."""
        remote = self.remote
        self._dir(stage, key)  # validates the address before any request
        if remote.disabled or remote.recently_missed(stage, key):
            return None
        try:
            data = remote.get_bytes(stage, key)
        except CacheError as exc:
            remote._switch_off(exc)
            return None
        except ValueError as exc:
            self._corrupt(stage, key, f"remote {remote.url}/{remote.path(stage, key)}: {exc}")
            data = None
        if data is None:
            remote.remember_miss(stage, key)
            return None
        verified = self.verify_object(stage, key, data)
        if verified is None:
            remote.remember_miss(stage, key)
            return None
        return self.store_local(stage, key, verified)

    def store_local(self, stage: str, key: str, entry: CacheEntry) -> CacheEntry:
        """Store a verified remote entry in the local folder only (it came from the remote)."""
        return ContentCache.put(self, stage, key, entry.files, entry.meta)

    def verify_object(self, stage: str, key: str, data: bytes) -> CacheEntry | None:
        """The entry in a remote object, checked like a local entry (unpacked into a scratch cache folder and
        read back by ``ContentCache.get``), or None with the reason recorded in ``corrupt``."""
        where = f"remote {self.remote.url}/{self.remote.path(stage, key)}"
        scratch_root = self.root / ".remote-scratch"
        scratch_root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"{key[:12]}.", dir=scratch_root))
        try:
            staged = ContentCache(scratch)
            folder = staged._dir(stage, key)
            folder.mkdir(parents=True)
            try:
                _untar_entry(data, folder)
                claimed = json.loads((folder / "entry.json").read_bytes())
            except (ValueError, OSError) as exc:
                self._corrupt(stage, key, f"{where}: {exc}")
                return None
            if not isinstance(claimed, dict) or (claimed.get("stage"), claimed.get("key")) != (stage, key):
                addressed = (claimed.get("stage"), claimed.get("key")) if isinstance(claimed, dict) else None
                self._corrupt(stage, key, f"{where}: entry.json names {addressed}, not ({stage!r}, {key!r})")
                return None
            entry = staged.get(stage, key)
            if entry is None:
                reasons = "; ".join(reason for _, _, reason in staged.corrupt) or "failed verification"
                self._corrupt(stage, key, f"{where}: {reasons}")
                return None
            return entry
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _corrupt(self, stage: str, key: str, reason: str) -> None:
        self.corrupt.append((stage, key, reason))
        self.remote.corrupt_keys.add((stage, key))
        log.warning("corrupt cache entry (treated as a miss): %s", reason)

    # -- writes --------------------------------------------------------------------------------------

    def put(self, stage: str, key: str, files: dict[str, bytes], meta: dict[str, Any] | None = None) -> CacheEntry:
        entry = super().put(stage, key, files, meta)
        self.upload(stage, key)
        return entry

    def upload(self, stage: str, key: str) -> bool:
        """Write the local entry to the remote (best effort: a failure is recorded and switches it off)."""
        if self.remote.disabled or self.remote.writes_disabled:
            return False
        try:
            return self.remote.put_bytes(stage, key, tar_entry(self._dir(stage, key)))
        except CacheError as exc:
            self.remote._switch_off(exc, writes_only=True)
            return False
        except OSError as exc:  # the local entry vanished (a concurrent gc): nothing to upload
            self.remote.problems.append(f"{stage}/{key}: not uploaded: {exc}")
            return False


def open_cache(root: Path, cache_url: str | None) -> ContentCache:
    """The cache for a run or a command: the local folder, with the remote tier when a URL is configured."""
    if not cache_url:
        return ContentCache(root)
    return TieredCache(Path(root), RemoteTier(cache_url))
