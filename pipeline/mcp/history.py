"""What the Dagster instance remembers about sprites: materializations, runs, failed attempts.

Read directly from the project's instance (the same one ``dagster dev`` shows), whichever way a run was
launched. Dagster is imported lazily: listing up-to-date sprites never needs it.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError
from pipeline.launch import ensure_dagster_home, user_message
from pipeline.mcp.models import MaterializationInfo, RunInfo
from pipeline.settings import Settings

if TYPE_CHECKING:
    from dagster import DagsterInstance

__all__ = ["JOB_TAG", "VIA_TAG", "History", "clean_error"]

#: tags every MCP run carries: which MCP job it belongs to, and which path launched it
JOB_TAG = "sprites/mcp_job"
VIA_TAG = "sprites/launched_via"
_WAITING = {"QUEUED", "NOT_STARTED", "STARTING", "MANAGED"}
_FAILED = {"FAILURE", "CANCELED", "CANCELING"}


def clean_error(message: str | None) -> str | None:
    """'pipeline.errors.ExportError: could not write x' -> 'could not write x' (the class is noise to a user)."""
    return re.sub(r"^(?:[a-z_]+\.)+[A-Za-z]+(?:Error|Cancelled): ", "", message) if message else message


def _op(name: str) -> str:
    return "sprite__" + name.replace("-", "_")


class History:
    """Lazy, thread-safe access to the project's Dagster instance."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._instance: DagsterInstance | None = None
        self._lock = threading.Lock()

    @property
    def home(self) -> Path:
        return self.settings.dagster_home

    def exists(self) -> bool:
        """Whether any run was ever recorded (a fresh project has no storage yet)."""
        return (self.home / "history").is_dir()

    def instance(self) -> DagsterInstance:
        with self._lock:
            if self._instance is None:
                from dagster import DagsterInstance
                from dagster._core.errors import DagsterInvalidConfigError

                ensure_dagster_home(self.settings)
                try:
                    self._instance = DagsterInstance.get()
                except DagsterInvalidConfigError as exc:
                    raise ConfigError(
                        f"the Dagster instance at {self.home} has an invalid dagster.yaml: {exc}"
                    ) from exc
            return self._instance

    # -- runs -------------------------------------------------------------------------------------------

    def run_id_for_job(self, job_id: str) -> str | None:
        """The Dagster run an MCP job started (found by its tag), once it exists."""
        if not self.exists():
            return None
        from dagster import RunsFilter

        ids = self.instance().get_run_ids(filters=RunsFilter(tags={JOB_TAG: job_id}), limit=1)
        return ids[0] if ids else None

    def run_info(self, run_id: str) -> RunInfo | None:
        if not self.exists():
            return None
        instance = self.instance()
        record = instance.get_run_record_by_id(run_id)
        if record is None:
            return None
        run = record.dagster_run
        selection = run.asset_selection or set()
        sprites = sorted({k.path[1] for k in selection if k.path[0] == "bevy" and k.path[1] != "manifest"})
        status = run.status.value
        return RunInfo(
            run_id=run_id,
            status=status,
            launched_via=run.tags.get(VIA_TAG, "unknown"),  # type: ignore[arg-type]
            source=run.tags.get("sprites/source"),
            sprites=sprites,
            start_time=record.start_time,
            end_time=record.end_time,
            error=self._run_error(run_id) if status in _FAILED else None,
        )

    def _run_error(self, run_id: str, sprite: str | None = None) -> str | None:
        from dagster import DagsterEventType

        for entry in self.instance().all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
            event = entry.dagster_event
            if event is not None and (sprite is None or event.step_key == _op(sprite)):
                return clean_error(user_message(event.event_specific_data.error))  # type: ignore[union-attr]
        return None

    def mark_canceling(self, run_id: str) -> str | None:
        """Record a cancellation request on a run; returns its status before, or None if unknown."""
        instance = self.instance()
        run = instance.get_run_by_id(run_id)
        if run is None:
            return None
        before = run.status.value
        if before in ("STARTED", "STARTING", "QUEUED", "NOT_STARTED"):
            instance.report_run_canceling(run, message="Cancellation requested through the MCP server.")
        return before

    # -- sprites ----------------------------------------------------------------------------------------

    def attempts(self, names: list[str]) -> dict[str, tuple[str, str, str | None]]:
        """Sprites whose latest planned run did not (yet) materialize them: name -> (state, run id, error).

        state is ``failed`` (run failed or was canceled), ``running`` or ``queued``.
        """
        if not names or not self.exists():
            return {}
        from dagster import AssetKey

        instance = self.instance()
        out: dict[str, tuple[str, str, str | None]] = {}
        for record in instance.get_asset_records([AssetKey(["bevy", n]) for n in names]):
            entry = record.asset_entry
            # the SQLite storage leaves last_planned_materialization_run_id empty; last_run_id is the latest
            # run that targeted the asset
            planned = entry.last_planned_materialization_run_id or entry.last_run_id
            done = entry.last_materialization.run_id if entry.last_materialization else None
            if not planned or planned == done:
                continue
            run = instance.get_run_by_id(planned)
            if run is None:
                continue
            name = entry.asset_key.path[1]
            status = run.status.value
            if status in _FAILED:
                why = self._run_error(planned, name) or f"run {planned[:8]} ended {status.lower()}"
                out[name] = ("failed", planned, why)
            elif status == "STARTED":
                out[name] = ("running", planned, None)
            elif status in _WAITING:
                out[name] = ("queued", planned, None)
        return out

    def materializations(self, name: str) -> list[MaterializationInfo]:
        """The latest materialization of raw/, pixel/ and bevy/<name>, with cache hit/miss and seconds."""
        if not self.exists():
            return []
        from pipeline.assets import sprite_keys

        out = []
        for key in sprite_keys(name):
            entry = self.instance().get_latest_materialization_event(key)
            if entry is None or entry.dagster_event is None:
                continue
            mat = entry.dagster_event.event_specific_data.materialization  # type: ignore[union-attr]
            meta: dict[str, Any] = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
            out.append(
                MaterializationInfo(
                    asset_key=key.to_user_string(),
                    run_id=entry.run_id,
                    timestamp=entry.timestamp,
                    cache=str(meta["cache"]) if "cache" in meta else None,
                    seconds=float(meta["seconds"]) if "seconds" in meta else None,
                )
            )
        return out
