"""dagster-postgres' storage with the pool bookkeeping under one advisory lock (see pool_storage.py for why).

The lock is a session-level ``pg_advisory_lock`` taken on a connection of its own (the storage's statements
run on other, autocommitted connections while it is held), so it serializes every process and thread on the
database, on every machine; a process that dies releases it with its connection.

``initialize_concurrency_limit_to_default`` is also an upsert here: Dagster's inserts, catches the duplicate
key and updates, but on PostgreSQL the failed insert has already aborted the transaction, so the call fails
(psycopg2 ``UniqueViolation``) whenever the pool's row exists: two runs creating the pool at once, or a
changed ``default_limit`` (dagster-io/dagster#33552; not fixed in dagster-postgres 0.29.27, the latest).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
import sqlalchemy.pool as db_pool
from dagster._core.storage.event_log.schema import ConcurrencyLimitsTable
from dagster._serdes import ConfigurableClassData
from dagster_postgres import (
    DagsterPostgresStorage,
    PostgresEventLogStorage,
    PostgresRunStorage,
    PostgresScheduleStorage,
)
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy.dialects.postgresql import insert

from pipeline.defs.pool_storage import PoolBookkeepingLock

__all__ = ["PoolSafePostgresEventLogStorage", "PoolSafePostgresStorage"]

# the advisory lock of the pool bookkeeping: one bigint for the whole database (b"SpritePl")
PG_POOL_LOCK_KEY = int.from_bytes(b"SpritePl", "big")


def _from_config(config_value: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments dagster-postgres' storages take from their ``postgres_db``/``postgres_url`` config."""
    return {
        "postgres_url": pg_url_from_config(config_value),
        "should_autocreate_tables": config_value.get("should_autocreate_tables", True),
        "token_provider": get_token_provider_from_config(config_value),
    }


class PoolSafePostgresEventLogStorage(PoolBookkeepingLock, PostgresEventLogStorage):
    """dagster-postgres' event log storage; pool bookkeeping under ``pg_advisory_lock(PG_POOL_LOCK_KEY)``."""

    _lock_engine: db.engine.Engine | None = None

    @contextmanager
    def _pools_lock(self) -> Iterator[None]:
        if self._lock_engine is None:
            # its own engine: the webserver's pooled engine (optimize_for_webserver) may have no connection to spare
            self._lock_engine = create_pg_engine(
                self.postgres_url, self._token_provider, isolation_level="AUTOCOMMIT", poolclass=db_pool.NullPool
            )
        with self._lock_engine.connect() as conn:
            conn.execute(db.text("SELECT pg_advisory_lock(:key)"), {"key": PG_POOL_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(db.text("SELECT pg_advisory_unlock(:key)"), {"key": PG_POOL_LOCK_KEY})

    def initialize_concurrency_limit_to_default(self, concurrency_key: str) -> bool:
        return self._locked(self._initialize_to_default, concurrency_key)

    def _initialize_to_default(self, concurrency_key: str) -> bool:
        if not (self.has_concurrency_limits_table and self.has_instance and self.has_default_pool_limit_col):
            return super().initialize_concurrency_limit_to_default(concurrency_key)
        default_limit = self._instance.global_op_concurrency_default_limit
        if default_limit is None:  # Dagster's path deletes the limit: no insert to collide
            return super().initialize_concurrency_limit_to_default(concurrency_key)
        self._reconcile_concurrency_limits_from_slots()
        table = ConcurrencyLimitsTable
        upsert = insert(table).values(concurrency_key=concurrency_key, limit=default_limit, using_default_limit=True)
        with self.index_transaction() as conn:
            # as Dagster's: an existing row only gets the new limit (its using_default_limit is left alone)
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[table.c.concurrency_key],
                    set_={"limit": default_limit},
                    where=table.c.limit != default_limit,
                )
            )
            self._allocate_concurrency_slots(conn, concurrency_key, default_limit)
        return True

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PoolSafePostgresEventLogStorage:
        return cls(inst_data=inst_data, **_from_config(config_value))


class PoolSafePostgresStorage(DagsterPostgresStorage):
    """``storage: postgres`` with the pool-safe event log: the same database, tables and configuration."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        self._run_storage = PostgresRunStorage(postgres_url, should_autocreate_tables, token_provider=token_provider)
        self._event_log_storage = PoolSafePostgresEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        self._schedule_storage = PostgresScheduleStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        super(DagsterPostgresStorage, self).__init__()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PoolSafePostgresStorage:
        return cls(inst_data=inst_data, **_from_config(config_value))
