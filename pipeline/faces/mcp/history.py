"""What the Dagster instance remembers about sprites: materializations, runs, failed attempts.

Read directly from the project's instance (the same one ``dagster dev`` shows), whichever way a run was
launched. Dagster is imported lazily: listing up-to-date sprites never needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipeline.defs.asset_keys import op_name, sprite_key, sprite_keys, stage_of_key
from pipeline.defs.launch import user_message
from pipeline.faces.mcp.models import MaterializationInfo, RunInfo
from pipeline.service.build import VIA_TAG
from pipeline.service.runs import clean_error
from pipeline.settings import Settings

if TYPE_CHECKING:
    from dagster import DagsterInstance

__all__ = ["History"]

_WAITING = {"QUEUED", "NOT_STARTED", "STARTING", "MANAGED"}
_FAILED = {"FAILURE", "CANCELED", "CANCELING"}


class History:
    """Reads of the project's Dagster instance (``instance``: the build service's, opened on first use)."""

    def __init__(self, instance: Callable[[], DagsterInstance], settings: Settings):
        self.instance = instance
        self.settings = settings

    def exists(self) -> bool:
        """Whether any run was ever recorded (a fresh project has no storage yet)."""
        return (self.settings.dagster_home / "history").is_dir()

    # -- runs -------------------------------------------------------------------------------------------

    def run_info(self, run_id: str) -> RunInfo | None:
        if not self.exists():
            return None
        instance = self.instance()
        record = instance.get_run_record_by_id(run_id)
        if record is None:
            return None
        run = record.dagster_run
        selection = run.asset_selection or set()
        sprites = sorted({found[0] for k in selection if (found := stage_of_key(k)) and found[1] == "bevy"})
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
            if event is not None and (sprite is None or event.step_key == op_name(sprite)):
                return clean_error(user_message(event.event_specific_data.error))  # type: ignore[union-attr]
        return None

    # -- sprites ----------------------------------------------------------------------------------------

    def attempts(self, names: list[str]) -> dict[str, tuple[str, str, str | None]]:
        """Sprites whose latest planned run did not (yet) materialize them: name -> (state, run id, error).

        state is ``failed`` (run failed or was canceled), ``running`` or ``queued``.
        """
        if not names or not self.exists():
            return {}
        instance = self.instance()
        out: dict[str, tuple[str, str, str | None]] = {}
        by_key = {sprite_key(n, "bevy"): n for n in names}
        for record in instance.get_asset_records(list(by_key)):
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
            name = by_key[entry.asset_key]
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
        """The latest materialization of each of the sprite's three assets, with cache hit/miss and seconds."""
        if not self.exists():
            return []
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
