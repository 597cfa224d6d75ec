"""The operations behind the MCP tools, as synchronous functions over the build service.

Selecting, planning, launching, following and cancelling are the build service's (``pipeline.service``);
what is MCP's own is here: writing specs for requests, and the results, listings and lineage the tools
return. The tools (``server.py``) add only argument schemas, progress notifications, waiting, images and
error translation. Everything here raises the project's ``SpriteError`` tree.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from pipeline.core.export.manifest import MANIFEST_PATH
from pipeline.core.specs import LoadedSpec, SpecSet
from pipeline.defs.asset_keys import MANIFEST_KEY_PATH, sprite_paths
from pipeline.errors import ConfigError, SpecError, SpriteError
from pipeline.faces.mcp import specfiles
from pipeline.faces.mcp.history import History
from pipeline.faces.mcp.models import (
    RunInfo,
    SpriteList,
    SpriteResult,
    SpriteRow,
    SpriteStatus,
    StageKeys,
    Timings,
)
from pipeline.faces.mcp.requests import InvalidArgument, SpriteRequest, argument_error, spec_body
from pipeline.service import BuildService, CancelOutcome, NoSuchSprite, Plan, Run, RunState, UnknownCategory
from pipeline.state.keys import export_key, pixelate_key
from pipeline.state.lockfile import LockEntry, OldLockError, read_lock
from pipeline.state.status import SpriteState

__all__ = ["SpriteOperations"]

log = logging.getLogger(__name__)
_RUN_STATUS = {
    RunState.QUEUED: "QUEUED",
    RunState.RUNNING: "STARTED",
    RunState.DONE: "SUCCESS",
    RunState.CANCELED: "CANCELED",
    RunState.ERROR: "FAILURE",
}


class SpriteOperations:
    """One project's sprites, as the MCP server sees them, over its build service."""

    def __init__(self, build: BuildService):
        self.build = build
        self.settings = build.settings
        self.history = History(build.instance, self.settings)
        self._spec_lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------------------------

    def load(self) -> SpecSet:
        return self.build.load()

    def states(self, spec_set: SpecSet, names: list[str]) -> list[SpriteState]:
        return list(self.build.plan(spec_set, names).project.sprites.values())

    def spec_file(self, loaded: LoadedSpec) -> str:
        """The spec's file relative to the project folder (posix)."""
        return Path(os.path.relpath(self.settings.specs_dir / loaded.file, self.settings.project_dir)).as_posix()

    def select(self, spec_set: SpecSet, patterns: list[str], category: str | None = None) -> list[str]:
        """Sprite names matching names or globs (and a category); an unknown one names near matches."""
        try:
            return self.build.select(spec_set, patterns, category)
        except NoSuchSprite as exc:
            hint = "" if exc.near else "; list_sprites shows every sprite"
            raise InvalidArgument(f"sprites: {exc}{hint}") from None
        except UnknownCategory as exc:
            raise InvalidArgument(f"category: {exc}") from None

    # -- writing specs -----------------------------------------------------------------------------------

    def create_specs(
        self, requests: list[SpriteRequest], *, overwrite: bool = False
    ) -> tuple[SpecSet, list[specfiles.SpecWrite | SpriteError]]:
        """Write one spec per request (each may fail alone), then validate the whole set.

        Returns the valid spec set and, per request, its write or the error that rejected it.
        """
        results: list[specfiles.SpecWrite | SpriteError] = []
        with self._spec_lock:
            try:
                spec_set = self.load()
            except SpecError as exc:
                raise ConfigError(f"the project's specs must be valid before a new one can join them; {exc}") from exc
            taken: set[str] = set()
            for request in requests:
                try:
                    name = request.name or specfiles.derive_name(request.prompt)
                    body = spec_body(request, name, spec_set.categories)
                    write = specfiles.write_spec(
                        self.settings, spec_set, body, overwrite=overwrite, derived=request.name is None, taken=taken
                    )
                except SpriteError as exc:
                    results.append(exc)
                    continue
                taken.add(write.name)
                results.append(write)
            writes = [r for r in results if isinstance(r, specfiles.SpecWrite)]
            spec_set, rejected = specfiles.validate_written(self.settings, writes)
            unbound = []
            for i, r in enumerate(results):
                if not isinstance(r, specfiles.SpecWrite):
                    continue
                if r.name in rejected:
                    results[i] = argument_error(rejected[r.name])
                    continue
                try:  # bind the workflow too: a template that cannot take this spec is the caller's error
                    self.build.plan(spec_set, [r.name])
                except SpriteError as exc:
                    specfiles.rollback(r)
                    unbound.append(r.name)
                    results[i] = exc
            if unbound:
                spec_set = self.load()
        if any(isinstance(r, specfiles.SpecWrite) and r.written for r in results):
            self.build.reload_location()  # new spec files become assets in a running `dagster dev`
        return spec_set, results

    # -- planning and launching --------------------------------------------------------------------------

    def ensure(
        self, spec_set: SpecSet, names: list[str], force: bool = False, *, republish_alone: bool = False
    ) -> tuple[Plan, Run | None]:
        """Start what ``names`` need (or join the identical run already under way); None: all up to date."""
        return self.build.ensure(spec_set, names, force=force, source="mcp", republish_alone=republish_alone)

    def cancel(self, ident: str) -> CancelOutcome:
        return self.build.cancel(ident)

    # -- results -----------------------------------------------------------------------------------------

    def sprite_result(
        self,
        spec_set: SpecSet,
        name: str,
        *,
        job: Run | None,
        written: bool,
        started: float,
        spec_s: float = 0.0,
    ) -> SpriteResult:
        loaded = spec_set.specs[name]
        spec = loaded.spec
        outcome = job.outcome.sprites.get(name) if job and job.outcome else None
        if job is None:
            status, message = "up to date", "already up to date: no run was needed"
        elif outcome is not None and outcome.status in ("built", "failed"):
            status = outcome.status
            message = "built" if status == "built" else f"failed: {outcome.error}"
        elif job.state == RunState.CANCELED or (outcome is not None and outcome.status == "canceled"):
            status, message = "canceled", "the run was canceled"
        elif job.state == RunState.ERROR:
            status, message = "failed", job.error or "the run failed"
        elif job.done.is_set():
            status, message = "skipped", "the run ended before this sprite's step ran"
        else:
            status = "queued" if job.state == RunState.QUEUED else "running"
            message = "still running past the wait bound: follow it with sprite_status(name, run_id)"
        record = self._locked(name) if status in ("built", "up to date") else None
        png = self.settings.assets_dir / spec.output_path
        run_s = job.seconds if job else None
        return SpriteResult(
            name=name,
            status=status,  # type: ignore[arg-type]
            message=message,
            spec_file=self.spec_file(loaded),
            spec_written=written,
            asset_path=spec.output_path,
            png_path=str(png) if record and png.is_file() else None,
            manifest_path=str(self.settings.assets_dir / MANIFEST_PATH),
            sha256=record.entry.sha256 if record else None,
            size=str(spec.size),
            frames=spec.animation.frames,
            palette=list(record.entry.palette.colors) if record else [],
            seed=spec.effective_seed,
            cache=dict(outcome.cache) if outcome else {},
            run_id=job.handle if job else None,
            launched_via=job.via if job else "none",  # type: ignore[arg-type]
            error=(outcome.error if outcome and outcome.error else job.error) if job and status == "failed" else None,
            timings=Timings(
                total_s=round(time.perf_counter() - started, 4),
                spec_s=round(spec_s, 4),
                run_s=round(run_s, 4) if run_s is not None else None,
                stages_s=round(outcome.seconds, 4) if outcome else None,
            ),
        )

    def _locked(self, name: str) -> LockEntry | None:
        try:
            lock = read_lock(self.settings)
        except OldLockError:
            return None
        return lock.sprites.get(name) if lock else None

    def job_info(self, job: Run) -> RunInfo:
        run_id = job.run_id
        info = self.history.run_info(run_id) if run_id and job.via == "in-process" else None
        if info is not None:
            return info
        return RunInfo(
            run_id=job.handle,
            status=_RUN_STATUS[job.state],
            launched_via=job.via,  # type: ignore[arg-type]
            source="mcp",
            sprites=job.names,
            error=job.error,
        )

    # -- listing and status ------------------------------------------------------------------------------

    def list_sprites(self, patterns: list[str], category: str | None, status: str | None) -> SpriteList:
        spec_set = self.load()
        names = self.select(spec_set, patterns, category)
        states = self.states(spec_set, names)
        attempts = self.history.attempts([s.name for s in states if s.status != "up to date"])
        rows = []
        for st in states:
            spec = st.loaded.spec
            row_status: str = st.status
            reason = st.reason
            job = self.build.active_for(st.name)
            if job is not None:
                row_status, reason = ("queued" if job.state == RunState.QUEUED else "running"), f"run {job.handle}"
            elif st.name in attempts:
                row_status, run_id, error = attempts[st.name]
                reason = error or f"run {run_id}"
            rows.append(
                SpriteRow(
                    name=st.name,
                    category=spec.category,
                    status=row_status,  # type: ignore[arg-type]
                    reason=reason,
                    size=str(spec.size),
                    frames=spec.animation.frames,
                    backend=st.request.backend,
                    asset_path=spec.output_path,
                    spec_file=self.spec_file(st.loaded),
                    spec_line=st.loaded.line,
                )
            )
        if status:
            rows = [r for r in rows if r.status == status]
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        return SpriteList(count=len(rows), counts=counts, sprites=rows)

    def sprite_status(self, name: str) -> SpriteStatus:
        spec_set = self.load()
        if name not in spec_set.specs:
            self.select(spec_set, [name])  # raises with near matches
        state = self.states(spec_set, [name])[0]
        spec = state.loaded.spec
        record = state.locked
        current = StageKeys(generate=state.request.key)
        if record is not None:
            pixel = pixelate_key(record.raw_sha256, spec)
            current = StageKeys(
                generate=state.request.key, pixelate=pixel, export=export_key(record.pixel_sha256, spec)
            )
        recorded = StageKeys(**record.keys.model_dump()) if record else None
        status: str = state.status
        reason = state.reason
        job = self.build.active_for(name)
        active = self.job_info(job) if job else None
        materializations = self.history.materializations(name)
        attempt = self.history.attempts([name]).get(name) if status != "up to date" else None
        last_run_id = (
            attempt[1]
            if attempt
            else max(materializations, key=lambda m: m.timestamp).run_id
            if materializations
            else None
        )
        if active:
            status, reason = ("queued" if job and job.state == RunState.QUEUED else "running"), f"run {active.run_id}"
        elif attempt:
            status, reason = attempt[0], attempt[2] or reason
        return SpriteStatus(
            name=name,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            spec_file=self.spec_file(state.loaded),
            spec_line=state.loaded.line,
            asset_keys=["/".join(path) for path in (*sprite_paths(name), MANIFEST_KEY_PATH)],
            asset_path=spec.output_path,
            current_keys=current,
            recorded_keys=recorded,
            materializations=materializations,
            last_run=self.history.run_info(last_run_id) if last_run_id else None,
            active_run=active,
        )

    def require(self, spec_set: SpecSet, name: str) -> LoadedSpec:
        if name not in spec_set.specs:
            self.select(spec_set, [name])
        return spec_set.specs[name]
