"""The stat-keyed memo of published files' hashes: used only where a stat can prove the bytes unchanged."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from pipeline.state.hashmemo import HashMemo


def _rewrite_same_stat(path: Path, data: bytes) -> None:
    """New bytes of the same size in the same inode, with the old mtime put back (what a stat cannot see)."""
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_ino == st.st_ino


def test_a_settled_file_is_taken_from_the_memo_across_processes(tmp_path: Path) -> None:
    png, memo_file = tmp_path / "a.png", tmp_path / "state" / "hashes.json"
    png.write_bytes(b"first bytes")
    old = time.time_ns() - 10_000_000_000
    os.utime(png, ns=(old, old))
    memo = HashMemo(memo_file)
    assert memo.sha(png)[0] == hashlib.sha256(b"first bytes").hexdigest()
    memo.save()
    _rewrite_same_stat(png, b"other bytes")
    # a new process with the memo on disk: the stat matches, the file is not read
    assert HashMemo(memo_file).sha(png)[0] == hashlib.sha256(b"first bytes").hexdigest()
    # without the memo (deleted .sprites/), the truth
    memo_file.unlink()
    assert HashMemo(memo_file).sha(png)[0] == hashlib.sha256(b"other bytes").hexdigest()


def test_a_file_written_in_the_tick_it_was_hashed_is_always_read_again(tmp_path: Path) -> None:
    png, memo_file = tmp_path / "a.png", tmp_path / "hashes.json"
    png.write_bytes(b"first bytes")  # mtime: now, as right after an export
    memo = HashMemo(memo_file)
    memo.sha(png)
    memo.save()
    _rewrite_same_stat(png, b"other bytes")
    assert HashMemo(memo_file).sha(png)[0] == hashlib.sha256(b"other bytes").hexdigest()


def test_any_stat_change_and_a_missing_file_are_seen(tmp_path: Path) -> None:
    png, memo_file = tmp_path / "a.png", tmp_path / "hashes.json"
    png.write_bytes(b"first bytes")
    old = time.time_ns() - 10_000_000_000
    os.utime(png, ns=(old, old))
    memo = HashMemo(memo_file)
    memo.sha(png)
    memo.save()
    png.write_bytes(b"longer other bytes")
    assert HashMemo(memo_file).sha(png)[0] == hashlib.sha256(b"longer other bytes").hexdigest()
    png.unlink()
    assert HashMemo(memo_file).sha(png) == (None, None)


def test_a_damaged_memo_is_ignored(tmp_path: Path) -> None:
    png, memo_file = tmp_path / "a.png", tmp_path / "hashes.json"
    png.write_bytes(b"bytes")
    for junk in (b"\x00 not json", b"[1, 2]", b'{"%s": [1, 2, 3, "x", "y"]}' % str(png).encode()):
        memo_file.write_bytes(junk)
        assert HashMemo(memo_file).sha(png)[0] == hashlib.sha256(b"bytes").hexdigest()
