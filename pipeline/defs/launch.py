"""Run sprite builds through Dagster, in-process, against the project's Dagster instance.

The build service's in-process path (``pipeline.service``; ``sprites build``, and the MCP server when no
webserver serves the project): the runs land in the same instance ``dagster dev`` shows, so they appear
in the UI with their lineage and metadata. Progress is read back from the instance's event log while the
run executes. A run is stopped through Dagster's own record (``pipeline.defs.instance``): the run is
marked CANCELING, its steps see it and set the cancel event the backends honour, and it ends CANCELED.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.specs import SpecSet
from pipeline.errors import SpriteError, message_of
from pipeline.settings import Settings

__all__ = ["BuildEvent", "RunOutcome", "SpriteOutcome", "run_sprites", "user_message"]


@dataclass
class SpriteOutcome:
    name: str
    status: str = "pending"  # built | failed | skipped | canceled
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
    canceled: bool = False  # Dagster ended the run CANCELED (cancel event, signal, Terminate)


@dataclass(frozen=True)
class BuildEvent:
    kind: str  # "sprite_done" | "sprite_failed" | "progress"
    sprite: str | None
    message: str


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
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Materialize the three assets of each named sprite (and the manifest) in one Dagster run.

    The run ends in one publish (``pipeline.state.publish``): its manifest step, or, when Dagster
    skipped that step because a sprite failed, a publish here of what the run did export.
    ``spec_set``: the specs as the caller already loaded them (the run builds exactly those). ``run_id``: the
    Dagster run id to use (so that the caller knows it before the run exists). ``cancel``: set it to stop the
    run (as SIGINT/SIGTERM do in the main thread); the outcome then says ``canceled``.
    """
    from dagster import AssetKey, DagsterEventType

    from pipeline.defs.asset_keys import MANIFEST_KEY, sprite_keys, stage_of_key
    from pipeline.defs.instance import open_instance
    from pipeline.defs.location import build_definitions

    instance = open_instance(settings)
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
        from pipeline.core.interrupts import shield_children_from_sigint

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
        while drain_some():  # the final call must read everything, however many events the last moment made
            pass

    def drain_some() -> bool:
        """Read up to 1000 new events of the run; True when more are waiting."""
        nonlocal cursor, manifest_error
        if not instance.has_run(run_id):
            return False
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
                _, stage = stage_of_key(mat.asset_key) or (sprite, None)
                if stage and "cache" in meta:
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
        return bool(conn.has_more)

    from pipeline.core.interrupts import stop_on_signals

    cancel = cancel or threading.Event()
    with stop_on_signals(lambda signum: cancel.set()) as stopped:
        _wait_for_run(worker, drain, cancel, instance, run_id, stopped)
    drain()
    if include_manifest:
        try:  # the manifest step did not run (a sprite failed, or the run was stopped): publish what it exported
            from pipeline.core.specs import load_spec_set
            from pipeline.defs.publishing import publish_after_run

            publish_after_run(
                instance, settings, run_id, spec_set or load_spec_set(settings.specs_dir), manifest_wanted=True
            )
        except SpriteError as exc:
            manifest_error = manifest_error or str(exc)
    if stopped.signum is not None:
        raise _interrupted(stopped.signum, instance, run_id, outcomes)
    if "exc" in result:
        raise result["exc"]
    run = instance.get_run_by_id(run_id)
    canceled = run is not None and run.status.value == "CANCELED"
    for o in outcomes.values():
        if o.status == "pending" or (canceled and o.status == "failed"):
            o.status = "canceled" if canceled else "skipped"
    res = result["res"]
    return RunOutcome(run_id, bool(res.success), outcomes, manifest_error, time.perf_counter() - start, canceled)


def _wait_for_run(
    worker: threading.Thread,
    drain: Callable[[], None],
    cancel: threading.Event,
    instance: Any,
    run_id: str,
    stopped: Any,
) -> None:
    """Follow the run until it ends; once ``cancel`` is set (by the caller or a signal), ask Dagster to end it."""
    from pipeline.core.interrupts import Interrupted
    from pipeline.defs.instance import request_cancel

    requested = False
    why = "Cancelled through the build service."
    try:
        while worker.is_alive():
            worker.join(0.2)
            # asked once the run has started: Dagster's start event would overwrite an earlier CANCELING
            run = instance.get_run_by_id(run_id) if cancel.is_set() and not requested else None
            if run is not None and run.status.value == "STARTED":
                requested = True
                if stopped.signum is not None:
                    why = "Stopped by a signal to `sprites build`."
                request_cancel(instance, run_id, why)
            drain()
    except KeyboardInterrupt:  # a second signal while the run winds down
        raise Interrupted(
            stopped.signum or 2, f"interrupted twice: stopped at once; Dagster run {run_id[:8]} may not be marked ended"
        ) from None


def _interrupted(signum: int, instance: Any, run_id: str, outcomes: dict[str, SpriteOutcome]) -> Exception:
    from pipeline.core.interrupts import Interrupted, interrupted_message

    run = instance.get_run_by_id(run_id)
    status = run.status.value if run is not None else "not started"
    built = sum(o.status == "built" for o in outcomes.values())
    return Interrupted(signum, interrupted_message(signum, run_id, status, built, len(outcomes) - built))


def user_message(err: Any) -> str:
    """A step failure as the user should read it: our own error's message when one is in the chain."""
    return message_of(err)
