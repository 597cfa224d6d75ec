"""The shipped dagster_home/dagster.yaml loads, and says what the docs say it says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._core.run_coordinator import QueuedRunCoordinator

from pipeline.defs.pool_storage import PoolSafeSqliteEventLogStorage

REPO = Path(__file__).resolve().parent.parent


def test_shipped_instance_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        # Dagster's SQLite storage in Dagster's folders, with the pool-safe event log (tests/test_pool_storage.py)
        assert isinstance(instance.event_log_storage, PoolSafeSqliteEventLogStorage)
        assert Path(instance.event_log_storage._base_dir) == tmp_path / "history" / "runs"
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        config = instance.get_concurrency_config()
        queue = config.run_queue_config
        assert queue is not None and queue.max_concurrent_runs == 4
        limits = {(t["key"], str(t.get("value"))): t["limit"] for t in queue.tag_concurrency_limits}
        assert limits[("sprites/source", "spec-sensor")] == 1
        assert limits[("sprites/source", "schedule")] == 1
        assert limits[("sprites/comfyui_server", "{'applyLimitPerUniqueValue': True}")] == 1
        assert config.pool_config.default_pool_limit == 2
        assert config.pool_config.pool_granularity.value == "op"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert not instance.run_retries_retry_on_asset_or_op_failure
        # the comfyui pool, configured by nobody, gets the default: at most 2 generation steps across all runs
        storage = instance.event_log_storage
        assert storage.initialize_concurrency_limit_to_default("comfyui")
        assert storage.get_concurrency_info("comfyui").slot_count == 2
