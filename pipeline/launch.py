"""Run sprite builds through Dagster, in-process, against the project's Dagster instance.

Used by ``sprites build`` (and the MCP server): the runs land in the same instance ``dagster dev``
shows, so CLI builds appear in the UI with their lineage and metadata. Progress is read back from the
instance's event log while the run executes.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.buildstate.publish import pending_entries, publish_run
from pipeline.errors import ConfigError, SpriteError, message_of
from pipeline.settings import Settings
from pipeline.specs import SpecSet

__all__ = ["BuildEvent", "RunOutcome", "SpriteOutcome", "ensure_dagster_home", "run_sprites", "user_message"]


@dataclass
class SpriteOutcome:
    name: str
    status: str = "pending"  # built | failed | skipped
    error: str | None = None
    cache: dict[str, str] = field(default_factory=dict)  # asset -> hit/miss
    seconds: float = 0.0
    path: str | None = None


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    sprites: dict[str, SpriteOutcome]
    manifest_error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class BuildEvent:
    kind: str  # "sprite_done" | "sprite_failed" | "progress"
    sprite: str | None
    message: str


def ensure_dagster_home(settings: Settings) -> None:
    """Point Dagster at the settings' instance (DAGSTER_HOME / --dagster-home, default <project>/dagster_home)."""
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)  # what DagsterInstance.get() reads
    settings.dagster_home.mkdir(parents=True, exist_ok=True)


def _sprite_of_step(step_key: str | None) -> str | None:
    if not step_key or not step_key.startswith("sprite__"):
        return None
    return step_key.removeprefix("sprite__")


def run_sprites(
    settings: Settings,
    names: list[str],
    *,
    include_manifest: bool = True,
    offline: bool = False,
    tags: dict[str, str] | None = None,
    log_level: str = "CRITICAL",
    checks: bool = True,
    run_id: str | None = None,
    on_event: Callable[[BuildEvent], None] | None = None,
    spec_set: SpecSet | None = None,
) -> RunOutcome:
    """Materialize the three assets of each named sprite (and the manifest) in one Dagster run.

    The run ends in one publish (``pipeline.buildstate.publish``): its manifest step, or, when Dagster
    skipped that step because a sprite failed, a publish here of what the run did export.
    ``spec_set``: the specs as the caller already loaded them (the run builds exactly those).
    """
    from dagster import AssetKey, DagsterEventType, DagsterInstance
    from dagster._core.errors import DagsterInvalidConfigError

    from pipeline.assets import MANIFEST_KEY, sprite_keys
    from pipeline.location import build_definitions

    ensure_dagster_home(settings)
    try:
        # Dagster's SQLite storage creates its tables on first use; two builds starting together on a
        # fresh DAGSTER_HOME would race on that, so the first open is serialised across processes.
        with open(settings.dagster_home / ".sprites-instance.lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            instance = DagsterInstance.get()
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    except DagsterInvalidConfigError as exc:
        raise ConfigError(
            f"the Dagster instance at {settings.dagster_home} has an invalid dagster.yaml: {exc}"
        ) from exc
    except Exception as exc:  # its storage cannot be opened (e.g. a Postgres server down or refusing us)
        cause = exc.__cause__ or exc
        raise ConfigError(
            f"cannot open the Dagster instance at {settings.dagster_home} (storage of its dagster.yaml): "
            f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}; check "
            "that its database is up and reachable (DAGSTER_PG_* for dagster_home/examples/postgres)"
        ) from exc
    defs = build_definitions(settings, offline=offline, only=set(names), checks=checks, spec_set=spec_set)
    job = defs.resolve_implicit_global_asset_job_def()
    keys: list[AssetKey] = [k for n in names for k in sprite_keys(n)]
    if include_manifest:
        keys.append(MANIFEST_KEY)
    # step keys use op names, which replace '-' by '_': map back to sprite names
    by_op = {n.replace("-", "_"): n for n in names}
    outcomes = {n: SpriteOutcome(n) for n in names}
    run_id = run_id or str(uuid.uuid4())
    start = time.perf_counter()
    result: dict[str, Any] = {}

    def execute() -> None:
        from pipeline.interrupts import shield_children_from_sigint

        shield_children_from_sigint()
        try:
            result["res"] = job.execute_in_process(
                instance=instance,
                asset_selection=keys,
                raise_on_error=False,
                run_id=run_id,
                # failures are reported by the caller from the event log, as messages, not tracebacks
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
                tags={"sprites/source": "cli", **(tags or {})},
            )
        except BaseException as exc:  # surfaced in the calling thread below
            result["exc"] = exc

    worker = threading.Thread(target=execute, name=f"dagster-run-{run_id[:8]}", daemon=True)
    worker.start()
    cursor = None
    seen_done: set[str] = set()
    manifest_error: str | None = None

    def drain() -> None:
        nonlocal cursor, manifest_error
        if not instance.has_run(run_id):
            return
        conn = instance.get_records_for_run(run_id, cursor=cursor, limit=1000)
        cursor = conn.cursor
        for record in conn.records:
            entry = record.event_log_entry
            ev = entry.dagster_event
            if ev is None:
                # the steps' own log lines: generation progress ("goblin: 40% KSampler (node 3) 12/30 on ...")
                op = _sprite_of_step(entry.step_key)
                sprite = by_op.get(op) if op else None
                if sprite and on_event and entry.user_message.startswith(f"{sprite}: "):
                    on_event(BuildEvent("progress", sprite, entry.user_message.removeprefix(f"{sprite}: ")))
                continue
            op = _sprite_of_step(ev.step_key)
            sprite = by_op.get(op) if op else None
            if ev.event_type == DagsterEventType.ASSET_MATERIALIZATION and sprite:
                mat = ev.event_specific_data.materialization  # type: ignore[union-attr]
                meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
                stage = mat.asset_key.path[0]
                if "cache" in meta:
                    outcomes[sprite].cache[stage] = str(meta["cache"])
                seconds = meta.get("seconds")
                if isinstance(seconds, int | float):
                    outcomes[sprite].seconds += seconds
                if stage == "bevy":
                    outcomes[sprite].path = str(meta.get("asset_path"))
            elif ev.event_type == DagsterEventType.STEP_SUCCESS and sprite and sprite not in seen_done:
                seen_done.add(sprite)
                outcomes[sprite].status = "built"
                if on_event:
                    on_event(BuildEvent("sprite_done", sprite, "built"))
            elif ev.event_type == DagsterEventType.STEP_FAILURE:
                err = ev.event_specific_data.error  # type: ignore[union-attr]
                message = user_message(err)
                if sprite and sprite not in seen_done:
                    seen_done.add(sprite)
                    outcomes[sprite].status = "failed"
                    outcomes[sprite].error = message
                    if on_event:
                        on_event(BuildEvent("sprite_failed", sprite, message))
                elif ev.step_key == "bevy_manifest":
                    manifest_error = message

    from pipeline.interrupts import stop_on_signals

    with stop_on_signals() as stopped:
        _wait_for_run(worker, drain, stopped, instance, run_id)
    drain()
    latest = instance.get_latest_materialization_event(MANIFEST_KEY) if include_manifest else None
    if include_manifest and (pending_entries(settings, run_id) or latest is None or latest.run_id != run_id):
        try:  # the manifest step did not run (a sprite failed, or the run was stopped): publish what it exported
            from pipeline.assets import record_manifest
            from pipeline.specs import load_spec_set

            published = publish_run(settings, run_id)
            # so that the UI shows the manifest as it is, not as the run whose manifest step was skipped
            record_manifest(instance, settings, spec_set or load_spec_set(settings.specs_dir), published)
        except SpriteError as exc:
            manifest_error = manifest_error or str(exc)
    if stopped.signum is not None:
        raise _interrupted(stopped.signum, instance, run_id, outcomes)
    if "exc" in result:
        raise result["exc"]
    for o in outcomes.values():
        if o.status == "pending":
            o.status = "skipped"
    res = result["res"]
    return RunOutcome(run_id, bool(res.success), outcomes, manifest_error, time.perf_counter() - start)


def _wait_for_run(
    worker: threading.Thread, drain: Callable[[], None], stopped: Any, instance: Any, run_id: str
) -> None:
    """Follow the run until it ends; a SIGINT/SIGTERM cancels it (see ``pipeline.interrupts``)."""
    from pipeline.interrupts import Interrupted, cancel_in_process_run

    cancelled = False
    try:
        while worker.is_alive():
            worker.join(0.2)
            if stopped.signum is not None and not cancelled:
                cancelled = True
                cancel_in_process_run(instance, run_id, worker)
            drain()
    except KeyboardInterrupt:  # a second signal while the run winds down
        raise Interrupted(
            stopped.signum or 2, f"interrupted twice: stopped at once; Dagster run {run_id[:8]} may not be marked ended"
        ) from None


def _interrupted(signum: int, instance: Any, run_id: str, outcomes: dict[str, SpriteOutcome]) -> Exception:
    from pipeline.interrupts import Interrupted, interrupted_message

    run = instance.get_run_by_id(run_id)
    status = run.status.value if run is not None else "not started"
    built = sum(o.status == "built" for o in outcomes.values())
    return Interrupted(signum, interrupted_message(signum, run_id, status, built, len(outcomes) - built))


def user_message(err: Any) -> str:
    """A step failure as the user should read it: our own error's message when one is in the chain."""
    return message_of(err)
