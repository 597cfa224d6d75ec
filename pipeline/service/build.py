"""``BuildService``: select, plan, launch, follow, cancel and publish builds of one project.

The faces (``sprites`` CLI, the MCP server, the automation) call this; none re-implements it. Launching
goes one of two ways, chosen per launch:

* **webserver**: a ``dagster dev`` serves this project on the same instance (``webserver.py``): the run is
  launched over GraphQL, so the run queue and the ``comfyui`` pool apply as to any run from the UI;
* **in-process**: ``pipeline.defs.launch.run_sprites`` executes it in this process, against the same instance,
  one at a time (the others wait in this service's queue). Its Dagster run id is chosen here, up front.

Its interface has no Dagster type: runs are ``Run`` handles (``runs.py``), plans ``Plan``s (``plan.py``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from pipeline.core.specs import SpecSet, load_specs
from pipeline.defs import instance as instances
from pipeline.defs import launch
from pipeline.defs.launch import BuildEvent, RunOutcome
from pipeline.errors import ConfigError, SpriteError
from pipeline.service.runs import FINAL, CancelOutcome, Run, RunState, clean_error
from pipeline.service.selection import select
from pipeline.service.webserver import DagsterWebserver, RunLog, WebserverProbe
from pipeline.settings import Settings
from pipeline.state.plan import Plan, plan_build
from pipeline.state.publish import PublishResult, publish

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from pipeline.core.generate.base import GenerationRequest

__all__ = ["BuildService"]

log = logging.getLogger(__name__)
_POLL_S = 0.25
JOB_TAG = "sprites/job"
VIA_TAG = "sprites/launched_via"


def _identity(spec_set: SpecSet, names: list[str]) -> tuple[tuple[str, str], ...]:
    """Per sprite, a hash of its validated spec: two requests with equal identities want the same build."""
    out = []
    for name in sorted(names):
        spec = spec_set.specs[name].spec
        out.append((name, hashlib.sha256(spec.model_dump_json().encode()).hexdigest()))
    return tuple(out)


class BuildService:
    """One project's builds. ``dagster_url``: the webserver to launch through (None: probe the ``sprites dev``
    address; ``off``: always in-process)."""

    def __init__(self, settings: Settings, dagster_url: str | None = None):
        self.settings = settings
        # the argument, else the setting (SPRITES_DAGSTER_URL / --dagster-url), else the probe of `sprites dev`
        self.probe = WebserverProbe(
            str(settings.dagster_home), dagster_url if dagster_url is not None else settings.dagster_url
        )
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()  # guards _runs
        self._launching = threading.Lock()  # plan + launch as one step: identical requests join one run
        self._in_process = threading.Lock()  # one in-process Dagster run at a time
        self._instance: DagsterInstance | None = None
        self._instance_lock = threading.Lock()

    # -- the project -------------------------------------------------------------------------------------

    def load(self) -> SpecSet:
        return load_specs(self.settings.specs_dir)

    def select(
        self, spec_set: SpecSet, patterns: list[str] | tuple[str, ...], category: str | None = None
    ) -> list[str]:
        return select(spec_set, patterns, category)

    def plan(
        self,
        spec_set: SpecSet,
        names: list[str] | None = None,
        *,
        force: bool = False,
        old_lock_ok: bool = True,
        requests: Mapping[str, GenerationRequest] | None = None,
    ) -> Plan:
        """``requests``: the sprites' resolved requests, when the caller has them already."""
        return plan_build(self.settings, spec_set, names, force=force, old_lock_ok=old_lock_ok, requests=requests)

    def publish(self, plan: Plan) -> PublishResult:
        """Nothing to build, but the manifest / .assets.ron are not what the lock renders: render them again."""
        return publish(self.settings, {}, plan.project.removed)

    def instance(self) -> DagsterInstance:
        """The project's Dagster instance, opened once."""
        with self._instance_lock:
            if self._instance is None:
                self._instance = instances.open_instance(self.settings)
            return self._instance

    def prewarm(self) -> threading.Thread:
        """Import Dagster and open (or create) the instance in the background, so the first run does not pay
        for it; a run arriving meanwhile waits for it rather than racing it to create a fresh storage."""

        def work() -> None:
            with self._in_process:
                try:
                    import pipeline.defs.location  # noqa: F401  (imports dagster and the asset factory)

                    self.instance()
                except Exception:  # only a head start: the first run reports any problem properly
                    log.warning("warming up Dagster failed; the first run will report why", exc_info=True)

        thread = threading.Thread(target=work, name="build-prewarm", daemon=True)
        thread.start()
        return thread

    # -- the webserver -----------------------------------------------------------------------------------

    def webserver(self) -> DagsterWebserver | None:
        return self.probe.find()

    def reload_location(self) -> None:
        """New spec files become assets in a running ``dagster dev`` (its UI shows them at once)."""
        server = self.webserver()
        if server is None:
            return
        try:
            server.reload_location()
        except SpriteError as exc:
            log.warning("could not reload the Dagster code location: %s", exc)

    # -- building in this thread (the CLI) ---------------------------------------------------------------

    def build(
        self,
        names: list[str],
        *,
        spec_set: SpecSet | None = None,
        offline: bool = False,
        checks: bool = True,
        log_level: str = "CRITICAL",
        on_event: Callable[[BuildEvent], None] | None = None,
        source: str = "cli",
    ) -> RunOutcome:
        """Run ``names`` (and the manifest) in-process in the calling thread; SIGINT/SIGTERM stop it cleanly
        when that is the main thread (``pipeline.core.interrupts``)."""
        return launch.run_sprites(
            self.settings,
            names,
            offline=offline,
            on_event=on_event,
            log_level=log_level,
            checks=checks,
            spec_set=spec_set,
            tags={"sprites/source": source},
        )

    # -- launching in the background (the MCP server) ----------------------------------------------------

    def ensure(
        self,
        spec_set: SpecSet,
        names: list[str],
        *,
        force: bool = False,
        source: str = "mcp",
        republish_alone: bool = False,
    ) -> tuple[Plan, Run | None]:
        """Plan ``names`` and start what the plan needs; an active run of the same sprites with the same
        specs is joined instead of starting another (six identical requests at once make one run).

        When only the manifest needs publishing, the run holds ``names`` again (cache hits, so that each
        reports a result), or, with ``republish_alone``, the manifest step alone."""
        identity = _identity(spec_set, names)
        with self._launching:
            joined = self._active_with(identity)
            plan = self.plan(spec_set, names, force=force)
            if joined is not None:
                return plan, joined
            if plan.nothing_to_do:
                return plan, None
            # up-to-date sprites only when the manifest needs them (it is republished by any run)
            todo = plan.names or ([] if republish_alone else names)
            return plan, self._launch(todo, source, _identity(spec_set, todo))

    def launch(self, names: list[str], *, source: str = "mcp") -> Run:
        """Start a run of ``names`` (and the manifest) and return its handle at once."""
        with self._launching:
            return self._launch(names, source, ())

    def _active_with(self, identity: tuple[tuple[str, str], ...]) -> Run | None:
        wanted = set(identity)
        with self._lock:
            for run in self._runs.values():
                if run.state not in FINAL and wanted and wanted <= set(run.identity):
                    return run
        return None

    def _launch(self, names: list[str], source: str, identity: tuple[tuple[str, str], ...]) -> Run:
        server = self.webserver()
        if server is not None:
            missing = server.missing_assets(names)
            if missing:
                server.reload_location()
                missing = server.missing_assets(names)
            if missing:
                log.warning("webserver %s does not know %s; running in-process", server.url, ", ".join(missing))
                server = None
        run = Run(
            id=f"job-{uuid.uuid4().hex[:12]}",
            names=list(names),
            via="webserver" if server else "in-process",
            source=source,
            identity=identity,
            dagster_run_id=None if server else str(uuid.uuid4()),
        )
        with self._lock:
            self._runs[run.id] = run
        if server is not None:
            target: Callable[[], None] = lambda: self._follow_webserver(run, server)  # noqa: E731
        else:
            target = lambda: self._execute_in_process(run)  # noqa: E731
        threading.Thread(target=target, name=f"build-{run.id}", daemon=True).start()
        return run

    def _tags(self, run: Run) -> dict[str, str]:
        return {"sprites/source": run.source, JOB_TAG: run.id, VIA_TAG: run.via}

    def _execute_in_process(self, run: Run) -> None:
        try:
            with self._in_process:
                if run.cancel.is_set():
                    run.finish(RunState.CANCELED)
                    return
                run.move(RunState.RUNNING)
                self.instance()  # a fresh instance's storage is created once, here, not by racing threads
                run.outcome = launch.run_sprites(
                    self.settings,
                    run.names,
                    tags=self._tags(run),
                    on_event=run.events.append,
                    run_id=run.dagster_run_id,
                    cancel=run.cancel,
                )
                self._clean(run.outcome)
                run.finish(RunState.CANCELED if run.outcome.canceled else RunState.DONE)
        except SpriteError as exc:
            run.finish(RunState.ERROR, str(exc))
        except Exception:
            log.exception("in-process run of %s failed unexpectedly", run.names)
            run.finish(RunState.ERROR, "the run failed unexpectedly; the server's log has the details")
        finally:
            if not run.done.is_set():
                run.finish(RunState.ERROR, "the run ended without a result")

    def _follow_webserver(self, run: Run, server: DagsterWebserver) -> None:
        try:
            run.dagster_run_id = server.launch(run.names, self._tags(run))
            run_log = RunLog(run.names)
            status = "QUEUED"
            while status not in ("SUCCESS", "FAILURE", "CANCELED"):
                time.sleep(_POLL_S)
                status = server.status(run.dagster_run_id)
                if status not in ("QUEUED", "NOT_STARTED", "STARTING"):
                    run.move(RunState.RUNNING)
                for kind, sprite, message in server.read_events(run.dagster_run_id, run_log):
                    run.events.append(BuildEvent(kind, sprite, message))
            run.move(RunState.RUNNING)
            run.outcome = server.outcome(run.dagster_run_id, run_log, status, run.seconds or 0.0)
            run.outcome.canceled = status == "CANCELED"
            self._clean(run.outcome)
            run.finish(RunState.CANCELED if status == "CANCELED" else RunState.DONE)
        except SpriteError as exc:
            run.finish(RunState.ERROR, str(exc))
        except Exception:
            log.exception("webserver run of %s failed unexpectedly", run.names)
            run.finish(RunState.ERROR, "following the run failed unexpectedly; the server's log has details")

    @staticmethod
    def _clean(outcome: RunOutcome) -> None:
        for o in outcome.sprites.values():
            o.error = clean_error(o.error)
        outcome.manifest_error = clean_error(outcome.manifest_error)

    # -- finding and following ---------------------------------------------------------------------------

    def find(self, ident: str) -> Run | None:
        """A run by this service's id or by its Dagster run id."""
        with self._lock:
            return next((r for r in self._runs.values() if ident in (r.id, r.run_id)), None)

    def active_for(self, name: str) -> Run | None:
        with self._lock:
            return next((r for r in self._runs.values() if name in r.names and not r.done.is_set()), None)

    def wait_all(self, timeout: float) -> None:
        """Give running runs up to ``timeout`` seconds to finish (server shutdown)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.done.wait(max(0.0, deadline - time.monotonic()))

    # -- cancelling --------------------------------------------------------------------------------------

    def cancel(self, ident: str) -> CancelOutcome:
        """Stop a run: one still in this service's queue never starts; a running one is terminated through
        Dagster (the webserver's terminateRun, or its CANCELING record, which the run's steps honour)."""
        run = self.find(ident)
        if run is None:
            return self._cancel_foreign(ident)
        if run.done.is_set():
            return CancelOutcome(run.handle, str(run.state), run.via, "the run already ended")
        run.cancel.set()
        if run.via == "webserver":
            if run.dagster_run_id is None:
                raise ConfigError("the run is being launched; try cancelling again in a moment")
            server = self.webserver()
            if server is None:
                raise ConfigError("the Dagster webserver that runs this job is no longer reachable")
            ok, message = server.terminate(run.dagster_run_id)
            return CancelOutcome(run.handle, "canceling" if ok else str(run.state), "webserver", message)
        if run.state == RunState.QUEUED:
            return CancelOutcome(run.handle, "canceled", "in-process", "removed from the queue before it started")
        return CancelOutcome(run.handle, "canceling", "in-process", "stopping; Dagster records it as canceled")

    def _cancel_foreign(self, run_id: str) -> CancelOutcome:
        """A run this service did not start (the UI's, the CLI's, another server's)."""
        try:
            record = self.instance().get_run_by_id(run_id)
        except Exception:  # not a run id Dagster can look up
            record = None
        if record is None:
            raise ConfigError(f"no run '{run_id}' in this server's runs or in the Dagster instance")
        via = record.tags.get(VIA_TAG, "unknown")
        status = record.status.value
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return CancelOutcome(run_id, status, via, "the run already ended")
        server = self.webserver()
        if server is not None:
            ok, message = server.terminate(run_id)
            return CancelOutcome(run_id, "canceling" if ok else status, via, message)
        # no webserver: Dagster's own record; the run's steps see it wherever they execute
        instances.request_cancel(self.instance(), run_id, "Cancelled through the build service.")
        return CancelOutcome(run_id, "canceling", via, "termination recorded; the run's steps stop when they see it")
