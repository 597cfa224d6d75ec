"""Bulk moves between the local cache and its remote tier: ``sprites cache push`` / ``pull``, and the push that
ends ``sprites build``. Entries are verified on the way in both directions (a corrupt local entry is never
uploaded; a corrupt remote one is never stored), and moved by a few threads at once (the client releases
the GIL while it waits on the network)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from pipeline.errors import CacheError
from pipeline.state.cache_remote import TieredCache, tar_entry

__all__ = ["SyncReport", "pull", "push"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class SyncReport:
    """What a push or pull did: keys moved, keys already there, and problems (key -> reason)."""

    moved: list[tuple[str, str]] = field(default_factory=list)
    present: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    bytes: int = 0


def push(
    cache: TieredCache, stages: tuple[str, ...], only: dict[str, set[str]] | None = None, workers: int = 8
) -> SyncReport:
    """Upload every verified local entry (of ``only``, when given) that the remote lacks. Raises
    CacheError when the remote cannot be listed."""
    report = SyncReport()
    todo: list[tuple[str, str]] = []
    for stage in stages:
        there = cache.remote.listing(stage)
        for key in cache.keys(stage):
            if only is not None and key not in only.get(stage, set()):
                continue
            if key in there:
                report.present += 1
            elif cache.local_get(stage, key) is not None:  # never upload a corrupt local entry
                todo.append((stage, key))

    def one(address: tuple[str, str]) -> tuple[tuple[str, str], int | str]:
        stage, key = address
        try:
            data = tar_entry(cache._dir(stage, key))
            cache.remote.put_bytes(stage, key, data)
            return address, len(data)
        except (CacheError, OSError) as exc:
            return address, str(exc)

    return _transfer(one, todo, workers, report)


def pull(
    cache: TieredCache, wanted: dict[str, set[str]] | None, stages: tuple[str, ...], workers: int = 8
) -> SyncReport:
    """Download (verified) the remote entries of ``wanted`` (all, when None) that the local cache lacks."""
    report = SyncReport()
    todo: list[tuple[str, str]] = []
    for stage in stages:
        there = cache.remote.listing(stage)
        for key in sorted(there if wanted is None else wanted.get(stage, set())):
            if cache.local_get(stage, key) is not None:
                report.present += 1
            elif key in there:
                todo.append((stage, key))
            else:
                report.failed[f"{stage}/{key}"] = "not in the remote cache"

    def one(address: tuple[str, str]) -> tuple[tuple[str, str], int | str]:
        stage, key = address
        try:
            data = cache.remote.get_bytes(stage, key)
        except (CacheError, ValueError) as exc:
            return address, str(exc)
        if data is None:
            return address, "vanished from the remote cache"
        entry = cache.verify_object(stage, key, data)
        if entry is None:
            return address, "corrupt in the remote cache (treated as a miss)"
        cache.store_local(stage, key, entry)
        return address, len(data)

    return _transfer(one, todo, workers, report)


def _transfer(
    one: Callable[[tuple[str, str]], tuple[tuple[str, str], int | str]],
    todo: list[tuple[str, str]],
    workers: int,
    report: SyncReport,
) -> SyncReport:
    """Move every entry of ``todo`` with ``one`` (bytes moved, or why not) and add the outcomes to ``report``."""
    for address, outcome in _parallel(one, todo, workers):
        if isinstance(outcome, int):
            report.moved.append(address)
            report.bytes += outcome
        else:
            report.failed[f"{address[0]}/{address[1]}"] = outcome
    return report


def _parallel(fn: Callable[[T], R], items: list[T], workers: int) -> Iterator[R]:
    if not items:
        return iter(())
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return iter(list(pool.map(fn, items)))
