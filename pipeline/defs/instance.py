"""The project's Dagster instance as the build service uses it: opening it, and Dagster's own record of a
run's termination (public APIs only; Dagster is imported when first needed).

Cancelling a run is recorded where Dagster records it, on the run itself (``report_run_canceling``: status
CANCELING), whoever asks: ``cancel_run`` over MCP, a signal to ``sprites build``, the UI's Terminate. The
steps of the run watch that status (``watch_for_cancel``, started by the pipeline's resource) and set the
run's cancel event, which the generation backends honour (``Backend.generate(cancel=)``): a ComfyUI job is
withdrawn from its server, the procedural backend stops between frames, and the steps not started yet end
at once. With a step failed and the run CANCELING, Dagster ends the run CANCELED.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError
from pipeline.settings import Settings

if TYPE_CHECKING:
    from dagster import DagsterInstance

__all__ = ["CANCEL_POLL_S", "ensure_dagster_home", "open_instance", "request_cancel", "watch_for_cancel"]

log = logging.getLogger(__name__)

#: how often a running step looks at its run's status for a termination request
CANCEL_POLL_S = 0.25
_ENDED = frozenset({"CANCELING", "CANCELED", "FAILURE", "SUCCESS"})
_CANCELABLE = frozenset({"QUEUED", "NOT_STARTED", "STARTING", "STARTED"})


def ensure_dagster_home(settings: Settings) -> None:
    """Point Dagster at the settings' instance (DAGSTER_HOME / --dagster-home, default <project>/dagster_home)."""
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)


def _get_instance(factory: Any) -> DagsterInstance:
    """``DagsterInstance.get()``, tried again when another process was creating the same database's tables at
    that moment (two Dagster homes on one fresh Postgres database: "type ... already exists"); the lock above
    only serialises processes sharing this home."""
    for attempt in range(5):
        try:
            return factory.get()
        except Exception as exc:
            cause = exc.__cause__ or exc
            racing = "already exists" in str(cause) or type(cause).__name__ in ("DuplicateObject", "UniqueViolation")
            if not racing or attempt == 4:
                raise
            log.info("the instance's database was being created by another process; trying again (%s)", cause)
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def open_instance(settings: Settings) -> DagsterInstance:
    """The instance under ``settings.dagster_home``; a bad dagster.yaml or unreachable storage is a ConfigError."""
    from dagster import DagsterInstance, DagsterInvalidConfigError

    ensure_dagster_home(settings)
    home = os.environ["DAGSTER_HOME"]
    try:
        # Dagster's SQLite storage creates its tables on first use; two processes opening a fresh DAGSTER_HOME
        # together would race on that, so the first open is serialised across processes.
        with open(os.path.join(home, ".sprites-instance.lock"), "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                return _get_instance(DagsterInstance)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    except DagsterInvalidConfigError as exc:
        raise ConfigError(f"the Dagster instance at {home} has an invalid dagster.yaml: {exc}") from exc
    except Exception as exc:  # its storage cannot be opened (e.g. a Postgres server down or refusing us)
        cause = exc.__cause__ or exc
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        raise ConfigError(
            f"cannot open the Dagster instance at {home} (storage of its dagster.yaml): "
            f"{type(cause).__name__}: {first}; check that its database is up and reachable "
            "(DAGSTER_PG_* for dagster_home/examples/postgres)"
        ) from exc


def request_cancel(instance: DagsterInstance, run_id: str, message: str) -> str | None:
    """Record a termination request on the run (Dagster's CANCELING); returns its status before, None if unknown.

    A run still in the webserver's queue is marked CANCELED outright (as Dagster's run coordinator does): no
    step will ever see the request.
    """
    run = instance.get_run_by_id(run_id)
    if run is None:
        return None
    before = run.status.value
    if before == "QUEUED":
        instance.report_run_canceled(run, message=message)
    elif before in _CANCELABLE:
        instance.report_run_canceling(run, message=message)
    return before


def watch_for_cancel(
    instance: DagsterInstance, run_id: str, cancel: threading.Event, stop: threading.Event
) -> threading.Thread:
    """Set ``cancel`` as soon as the run's status says it is being terminated; ends when ``stop`` is set."""

    def watch() -> None:
        while not stop.wait(CANCEL_POLL_S):
            try:
                run = instance.get_run_by_id(run_id)
            except Exception:  # a storage hiccup: the next look may work; the run goes on meanwhile
                log.debug("could not read the status of run %s", run_id, exc_info=True)
                continue
            if run is None or run.status.value in _ENDED:
                if run is not None and run.status.value in ("CANCELING", "CANCELED"):
                    cancel.set()
                return

    thread = threading.Thread(target=watch, name=f"cancel-watch-{run_id[:8]}", daemon=True)
    thread.start()
    return thread
