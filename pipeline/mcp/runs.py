"""MCP jobs: Dagster runs the server started, followed until they end, whichever path launched them.

Two paths, chosen per launch:

* **webserver**: a ``dagster dev`` for this project is running (see ``webserver.py``): the run is launched
  over GraphQL, so the run queue and the ``comfyui`` pool apply to it as to any run from the UI;
* **in-process**: otherwise ``pipeline.launch.run_sprites`` executes it inside this server, against the
  same instance. One in-process run at a time: the others wait in this server's own queue.

A job outlives the tool call that started it (a call returns at its wait bound); ``sprite_status``
follows it and ``cancel_run`` stops it.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from pipeline.errors import ConfigError, SpriteError
from pipeline.launch import BuildEvent, RunOutcome, run_sprites
from pipeline.mcp.history import JOB_TAG, VIA_TAG, History, clean_error
from pipeline.mcp.models import CancelResult
from pipeline.mcp.webserver import DagsterWebserver, RunLog, detect_webserver
from pipeline.settings import Settings

__all__ = ["Job", "Runner"]

log = logging.getLogger(__name__)
_POLL_S = 0.25


@dataclass
class Job:
    """One run requested through MCP. ``state``: queued, running, done, canceled, error."""

    id: str
    names: list[str]
    via: str  # "in-process" | "webserver"
    state: str = "queued"
    run_id: str | None = None
    outcome: RunOutcome | None = None
    error: str | None = None
    events: list[BuildEvent] = field(default_factory=list)
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    ended: float | None = None
    cancel_requested: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def finished_count(self) -> int:
        return sum(e.kind in ("sprite_done", "sprite_failed") for e in self.events)

    @property
    def seconds(self) -> float | None:
        return None if self.started is None else (self.ended or time.monotonic()) - self.started


class Runner:
    """Starts and tracks this server's runs."""

    def __init__(self, settings: Settings, history: History, dagster_url: str | None = None):
        self.settings = settings
        self.history = history
        self.dagster_url = dagster_url if dagster_url is not None else settings.dagster_url
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._in_process = threading.Lock()  # one in-process Dagster run at a time

    def prewarm(self) -> threading.Thread:
        """Import Dagster and open (or create) the instance in the background, so the first run does not pay
        for it. It holds the in-process lock: a run arriving meanwhile waits rather than racing it to create
        a fresh instance's storage."""

        def work() -> None:
            with self._in_process:
                try:
                    import pipeline.location  # noqa: F401  (imports dagster and the asset factory)

                    self.history.instance()
                except Exception:  # only a head start: the first run reports any problem properly
                    log.warning("warming up Dagster failed; the first run will report why", exc_info=True)

        thread = threading.Thread(target=work, name="mcp-prewarm", daemon=True)
        thread.start()
        return thread

    def webserver(self) -> DagsterWebserver | None:
        return detect_webserver(str(self.history.home), self.dagster_url)

    # -- lookup ------------------------------------------------------------------------------------------

    def find(self, ident: str) -> Job | None:
        """A job by its id or by its Dagster run id."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if ident in (job.id, job.run_id):
                return job
        for job in jobs:  # an in-process run id is only known from the instance while it runs
            if job.run_id is None and job.state == "running" and self.run_id(job) == ident:
                return job
        return None

    def active_for(self, name: str) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs.values() if name in j.names and not j.done.is_set()), None)

    def run_id(self, job: Job) -> str | None:
        if job.run_id is None and job.via == "in-process" and job.state != "queued":
            job.run_id = self.history.run_id_for_job(job.id)
        return job.run_id

    # -- launching ---------------------------------------------------------------------------------------

    def submit(self, names: list[str], *, webserver: DagsterWebserver | None = None) -> Job:
        """Start a run of ``names`` (and the manifest) and return its job at once."""
        server = webserver if webserver is not None else self.webserver()
        if server is not None:
            missing = server.missing_assets(names)
            if missing:
                server.reload_location()
                missing = server.missing_assets(names)
            if missing:
                log.warning("webserver %s does not know %s; running in-process", server.url, ", ".join(missing))
                server = None
        job = Job(id=f"job-{uuid.uuid4().hex[:12]}", names=list(names), via="webserver" if server else "in-process")
        with self._lock:
            self._jobs[job.id] = job
        target = self._via_webserver if server else self._via_in_process
        args = (job, server) if server else (job,)
        threading.Thread(target=target, args=args, name=f"mcp-{job.id}", daemon=True).start()
        return job

    def _tags(self, job: Job) -> dict[str, str]:
        return {"sprites/source": "mcp", JOB_TAG: job.id, VIA_TAG: job.via}

    def _finish(self, job: Job) -> None:
        outcome = job.outcome
        if outcome is not None:
            for o in outcome.sprites.values():
                o.error = clean_error(o.error)
            outcome.manifest_error = clean_error(outcome.manifest_error)
        job.ended = time.monotonic()
        job.done.set()

    def _via_in_process(self, job: Job) -> None:
        try:
            with self._in_process:
                if job.cancel_requested:
                    job.state = "canceled"
                    return
                job.state = "running"
                job.started = time.monotonic()
                self.history.instance()  # a fresh instance's storage is created once, here, not by racing threads
                job.outcome = run_sprites(self.settings, job.names, tags=self._tags(job), on_event=job.events.append)
                job.run_id = job.outcome.run_id
                job.state = "canceled" if job.cancel_requested and not job.outcome.success else "done"
        except SpriteError as exc:
            job.state, job.error = "error", str(exc)
        except Exception:
            log.exception("in-process run of %s failed unexpectedly", job.names)
            job.state, job.error = "error", "the run failed unexpectedly; the MCP server's log has the details"
        except BaseException as exc:  # the interrupt cancel_run raised in the run's thread
            if not (job.cancel_requested and type(exc).__name__ == "DagsterExecutionInterruptedError"):
                raise
            job.state = "canceled"
            self._record_canceled(job)
        finally:
            self._finish(job)

    def _record_canceled(self, job: Job) -> None:
        """Dagster records an interrupted CANCELING run as canceled; make sure it is never left CANCELING."""
        run_id = self.run_id(job)
        if run_id is None:
            return
        instance = self.history.instance()
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status.value in ("CANCELING", "STARTED"):
            instance.report_run_canceled(run, message="Canceled through the MCP server.")

    def _via_webserver(self, job: Job, server: DagsterWebserver) -> None:
        try:
            job.run_id = server.launch(job.names, self._tags(job))
            job.started = time.monotonic()
            run_log = RunLog(job.names)
            status = "QUEUED"
            while status not in ("SUCCESS", "FAILURE", "CANCELED"):
                time.sleep(_POLL_S)
                status = server.status(job.run_id)
                job.state = "queued" if status in ("QUEUED", "NOT_STARTED", "STARTING") else "running"
                for kind, sprite, message in server.read_events(job.run_id, run_log):
                    job.events.append(BuildEvent(kind, sprite, message))
            job.outcome = server.outcome(job.run_id, run_log, status, job.seconds or 0.0)
            job.state = "canceled" if status == "CANCELED" else "done"
        except SpriteError as exc:
            job.state, job.error = "error", str(exc)
        except Exception:
            log.exception("webserver run of %s failed unexpectedly", job.names)
            job.state, job.error = "error", "following the run failed unexpectedly; the MCP server's log has details"
        finally:
            self._finish(job)

    # -- cancelling --------------------------------------------------------------------------------------

    def cancel(self, ident: str) -> CancelResult:
        job = self.find(ident)
        if job is None:
            return self._cancel_foreign(ident)
        run_id = self.run_id(job) or job.id
        if job.done.is_set():
            return CancelResult(run_id=run_id, status=job.state, launched_via=job.via, message="the run already ended")  # type: ignore[arg-type]
        job.cancel_requested = True
        if job.via == "webserver":
            if job.run_id is None:
                raise ConfigError("the run is being launched; try cancel_run again in a moment")
            server = self.webserver()
            if server is None:
                raise ConfigError("the Dagster webserver that runs this job is no longer reachable")
            ok, message = server.terminate(job.run_id)
            return CancelResult(
                run_id=run_id, status="canceling" if ok else job.state, launched_via="webserver", message=message
            )
        if job.state == "queued":
            return CancelResult(
                run_id=run_id,
                status="canceled",
                launched_via="in-process",
                message="removed from the queue before it started",
            )
        if job.run_id is None:
            raise ConfigError("the run is starting; try cancel_run again in a moment")
        self.history.mark_canceling(job.run_id)
        interrupted = _interrupt_run_thread(job.run_id)
        message = "interrupted; Dagster records it as canceled" if interrupted else "cancellation recorded"
        return CancelResult(run_id=run_id, status="canceling", launched_via="in-process", message=message)

    def _cancel_foreign(self, run_id: str) -> CancelResult:
        """A run this server did not start: terminate it through the webserver when one is running."""
        info = self.history.run_info(run_id)
        if info is None:
            raise ConfigError(f"no run '{run_id}' in this server's jobs or in the Dagster instance")
        if info.status in ("SUCCESS", "FAILURE", "CANCELED"):
            return CancelResult(
                run_id=run_id, status=info.status, launched_via=info.launched_via, message="the run already ended"
            )
        server = self.webserver()
        if server is None:
            raise ConfigError(
                f"run {run_id} was not started by this MCP server and no Dagster webserver is running to terminate it"
            )
        ok, message = server.terminate(run_id)
        return CancelResult(
            run_id=run_id, status="canceling" if ok else info.status, launched_via=info.launched_via, message=message
        )

    def wait_all(self, timeout: float) -> None:
        """Give running jobs up to ``timeout`` seconds to finish (server shutdown)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.done.wait(max(0.0, deadline - time.monotonic()))


def _interrupt_run_thread(run_id: str) -> bool:
    """Raise Dagster's interrupt inside the thread executing an in-process run.

    Dagster delivers interrupts to a run only through signals to the main thread; ``run_sprites`` executes
    in a worker thread named ``dagster-run-<id8>``. With the run marked CANCELING first, Dagster's own
    handler then records the run as canceled; writes are atomic, so an interrupted stage leaves no
    half-written file.
    """
    from dagster._core.errors import DagsterExecutionInterruptedError

    for thread in threading.enumerate():
        if thread.name == f"dagster-run-{run_id[:8]}" and thread.ident is not None:
            hit = ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(DagsterExecutionInterruptedError)
            )
            return bool(hit == 1)
    return False
