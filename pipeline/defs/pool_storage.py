"""Dagster's instance storage with its concurrency-pool bookkeeping made atomic between processes.

A pool's limit (``comfyui``: generation steps in flight across all runs) is kept by Dagster in the event log
storage: a step is queued in ``pending_steps``, *assigned* when ``has_unassigned_slots`` said a slot was free,
then claims a row of ``concurrency_slots``. Each of those is its own statement, autocommitted (SQLite, and
dagster-postgres' ``index_connection``), so two processes claiming at the same instant both see the free slot,
both get assigned and both write the same slot row: two steps run under a limit of 1. Seen in CI (two
``sprites build``s on one Postgres database, tests/test_scaling_postgres.py) and reproduced with four
processes claiming at once (tests/test_pool_storage.py, Dagster's storages: up to 4 holders of a pool of 1
on SQLite, 2 on PostgreSQL, in half the rounds); dagster 1.13.29 is unchanged, and the upstream review of
dagster-io/dagster#34092 names the same autocommit cause.

The storages here are Dagster's own (same tables, same files, same configuration) with every call that
reads or moves pool bookkeeping (claim, free, assign, set or drop a limit) taken under one lock shared by
every process of the instance: a ``flock`` on a file beside the SQLite event logs, a PostgreSQL advisory lock
on the database. Each such call is a few statements, so the lock is held for milliseconds. dagster.yaml
selects them with ``storage: custom:`` (dagster_home/dagster.yaml; the PostgreSQL ones, which need the
``postgres`` extra, are in pool_storage_postgres.py and dagster_home/examples/postgres).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ParamSpec, TypeVar

from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from dagster._utils.concurrency import ConcurrencyClaimStatus

__all__ = ["PoolSafeSqliteEventLogStorage", "PoolSafeSqliteStorage"]

_T = TypeVar("_T")
_P = ParamSpec("_P")


class PoolBookkeepingLock(SqlEventLogStorage):
    """The calls of ``SqlEventLogStorage`` that read-then-write pool bookkeeping, each run under ``_pools_lock``
    (a base placed before Dagster's storage class, never instantiated alone).

    Reentrant within a thread: ``free_concurrency_slot_for_step`` calls ``assign_pending_steps``, which takes
    the lock it already holds (a second ``flock`` or advisory lock from the same thread, on another file
    description or connection, would wait for itself).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # made before any call can run: a lazily made one, replaced by a second thread, would lose the first
        # thread's depth and make its nested call wait for the lock it holds
        self._held = threading.local()
        super().__init__(*args, **kwargs)

    def _pools_lock(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _locked(self, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        if getattr(self._held, "depth", 0):
            self._held.depth += 1
            try:
                return call(*args, **kwargs)
            finally:
                self._held.depth -= 1
        with self._pools_lock():
            self._held.depth = 1
            try:
                return call(*args, **kwargs)
            finally:
                self._held.depth = 0

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ) -> ConcurrencyClaimStatus:
        return self._locked(super().claim_concurrency_slot, concurrency_key, run_id, step_key, priority)

    def free_concurrency_slot_for_step(self, run_id: str, step_key: str) -> None:
        self._locked(super().free_concurrency_slot_for_step, run_id, step_key)

    def free_concurrency_slots_for_run(self, run_id: str) -> None:
        self._locked(super().free_concurrency_slots_for_run, run_id)

    def assign_pending_steps(self, concurrency_keys: Sequence[str]) -> None:
        self._locked(super().assign_pending_steps, concurrency_keys)

    def set_concurrency_slots(self, concurrency_key: str, num: int) -> None:
        self._locked(super().set_concurrency_slots, concurrency_key, num)

    def delete_concurrency_limit(self, concurrency_key: str) -> None:
        self._locked(super().delete_concurrency_limit, concurrency_key)

    def initialize_concurrency_limit_to_default(self, concurrency_key: str) -> bool:
        return self._locked(super().initialize_concurrency_limit_to_default, concurrency_key)


class PoolSafeSqliteEventLogStorage(PoolBookkeepingLock, SqliteEventLogStorage):
    """Dagster's SQLite event log storage; pool bookkeeping under a ``flock`` on ``<base_dir>/pools.lock``."""

    @contextmanager
    def _pools_lock(self) -> Iterator[None]:
        fd = os.open(os.path.join(self._base_dir, "pools.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the only descriptor of this open file releases the lock

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PoolSafeSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)


class PoolSafeSqliteStorage(DagsterSqliteStorage):
    """``storage: sqlite`` with the pool-safe event log: the same folders under ``base_dir`` (history/, schedules/)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self.base_dir = base_dir
        self._run_storage = SqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = PoolSafeSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PoolSafeSqliteStorage:
        return cls.from_local(inst_data=inst_data, base_dir=config_value["base_dir"])
