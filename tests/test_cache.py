"""The content-addressed cache: verified reads, corrupt entries as misses, concurrent writers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from pipeline.state.cache import ContentCache

KEY = "ab" + "0" * 62


def test_round_trip_and_miss(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path)
    assert cache.get("generate", KEY) is None
    cache.put("generate", KEY, {"frame000.png": b"one", "frame001.png": b"two"}, meta={"server": "x"})
    entry = cache.get("generate", KEY)
    assert entry is not None
    assert entry.files == {"frame000.png": b"one", "frame001.png": b"two"} and entry.meta == {"server": "x"}
    assert cache.keys("generate") == [KEY]


def test_corrupt_or_truncated_entry_is_a_reported_miss_then_repaired(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path)
    cache.put("pixelate", KEY, {"sheet.png": b"good bytes"})
    path = tmp_path / "pixelate" / KEY[:2] / KEY / "sheet.png"
    path.write_bytes(b"good")  # truncated
    assert cache.get("pixelate", KEY) is None
    assert cache.corrupt and "sha256 mismatch" in cache.corrupt[0][2]
    cache.put("pixelate", KEY, {"sheet.png": b"good bytes"})
    assert cache.get("pixelate", KEY).files["sheet.png"] == b"good bytes"  # type: ignore[union-attr]
    (tmp_path / "pixelate" / KEY[:2] / KEY / "entry.json").write_text("{not json")
    assert cache.get("pixelate", KEY) is None


def _writer(root: str, n: int) -> None:
    cache = ContentCache(Path(root))
    for _ in range(n):
        cache.put("generate", KEY, {"frame000.png": b"same bytes" * 1000})


def test_concurrent_writers_of_one_key_are_safe(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), 20)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = ContentCache(tmp_path)
    entry = cache.get("generate", KEY)
    assert entry is not None and entry.files["frame000.png"] == b"same bytes" * 1000
    leftovers = [p for p in (tmp_path / "generate" / KEY[:2]).iterdir() if p.name != KEY]
    assert leftovers == []
