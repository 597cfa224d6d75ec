"""Safe writes into a folder someone else is watching (a Bevy game's assets folder).

* ``safe_target`` refuses any path that would leave its root: ``..``, absolute paths, and symlinks
  anywhere between the root and the file (a symlinked folder inside assets/ could point anywhere).
* ``atomic_write`` writes the whole file to a scratch file *outside* the watched folder, fsyncs it and
  ``os.replace``s it into place: a reader (or Bevy's hot reload) sees the old bytes or the new bytes,
  never half a file. Where scratch and target are on different filesystems it falls back to a hidden
  scratch file beside the target, which is still atomic.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from pipeline.errors import ExportError, UnsafePathError

__all__ = ["AtomicBatch", "atomic_write", "dir_mode", "file_mode", "safe_target"]


def _umask_once() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_IMPORT_UMASK = _umask_once()


def _umask() -> int:
    """The process umask, without changing it (os.umask can only be read by setting it, which races other
    threads): Linux reports it in /proc; elsewhere the value at import is used."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _IMPORT_UMASK


def file_mode() -> int:
    """The mode an ordinary new file gets (``open()`` would give it): 0o666 less the umask.

    ``mkstemp`` creates files 0600 and ``os.replace`` keeps that mode, which would leave a game's
    assets unreadable to a web server or another user."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    """The mode an ordinary new folder gets: 0o777 less the umask (``mkdtemp`` makes them 0700)."""
    return 0o777 & ~_umask()


def safe_target(root: Path, relative: str) -> Path:
    """``root / relative``, refusing anything that escapes ``root`` or passes through a symlink.

    With no ``..``, no absolute path and no symlink between ``root`` and the file, the path cannot resolve
    outside ``root``, so no ``resolve()`` is needed: one ``lstat`` per existing part (below a part that does
    not exist there is nothing to follow)."""
    rel = relative.replace("\\", "/")
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        raise UnsafePathError(f"'{relative}' is absolute; paths must be relative to {root}")
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafePathError(f"'{relative}' must not contain '..', '.' or empty parts (it must stay inside {root})")
    current = os.fspath(root)
    for part in parts:
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except OSError:  # missing (or a file in the way): nothing below it exists to pass through
            break
        if stat.S_ISLNK(mode):
            raise UnsafePathError(f"'{relative}' passes through a symlink ({current}); refusing to write through it")
    return Path(root, *parts)


def _write_temp(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


class AtomicBatch:
    """Files replaced together. ``add`` writes and fsyncs each one's scratch file at once; ``commit`` then
    renames them into place one right after the other (in the order added) and fsyncs their folders.

    So a crash before ``commit`` leaves every target as it was, and one during it falls between two
    renames: microseconds, where writing each file in turn would leave milliseconds (a PNG and the manifest
    line describing it, each written and fsynced). Scratch files of a batch never committed are removed."""

    def __init__(self, scratch_dir: Path):
        self.scratch_dir = scratch_dir
        self._pending: list[tuple[Path, Path, bytes]] = []  # (scratch file, target, data)

    def add(self, target: Path, data: bytes) -> None:
        target = Path(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._pending.append((_write_temp(self.scratch_dir, target.name, data), target, data))
        except OSError as exc:
            self.discard()
            raise ExportError(f"could not write {target}: {exc.strerror or exc}") from exc

    def discard(self) -> None:
        for tmp, _, _ in self._pending:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self._pending = []

    def commit(self) -> None:
        pending, self._pending = self._pending, []
        current: Path | None = None  # what is being written, for the error
        try:
            for i, (tmp, target, data) in enumerate(pending):
                current = target
                try:
                    os.replace(tmp, target)
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    # scratch and target on different filesystems: a scratch file beside the target
                    os.unlink(tmp)
                    beside = _write_temp(target.parent, target.name, data)
                    try:
                        os.replace(beside, target)
                    except BaseException:
                        with contextlib.suppress(OSError):
                            os.unlink(beside)
                        raise
                pending[i] = (target, target, data)  # done: nothing left to clean up for it
            if hasattr(os, "O_DIRECTORY"):
                for folder in dict.fromkeys(target.parent for _, target, _ in pending):
                    current = folder
                    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
                    try:
                        os.fsync(dfd)
                    finally:
                        os.close(dfd)
        except BaseException as exc:
            for tmp, target, _ in pending:
                if tmp != target:  # not renamed yet: its scratch file must not stay behind
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
            if isinstance(exc, OSError):
                raise ExportError(f"could not write {current}: {exc.strerror or exc}") from exc
            raise


def atomic_write(target: Path, data: bytes, scratch_dir: Path) -> None:
    """Replace ``target`` with ``data`` in one step (see module docstring). Creates parent folders."""
    batch = AtomicBatch(scratch_dir)
    batch.add(target, data)
    batch.commit()
