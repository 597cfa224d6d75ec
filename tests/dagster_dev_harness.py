"""Start and stop a real ``dagster dev`` (webserver + daemon + code server) for tests, on 127.0.0.1.

The code location is this checkout's ``pipeline.definitions`` (via ``workspace.yaml``), pointed at a
temporary project through ``SPRITES_*`` variables, with a temporary ``DAGSTER_HOME`` whose
``dagster.yaml`` is the project's own plus test-only overrides (a quicker run queue).

Stopping: ``dagster dev`` is started in its own session with SIGINT at its default disposition and is
stopped with SIGINT, which makes it shut its webserver, daemon and code servers down; anything of that
session still alive afterwards is killed by process group (only processes this harness started).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_dagster_home(path: Path, overrides: Mapping[str, Any] | None = None) -> Path:
    """A DAGSTER_HOME with the shipped dagster.yaml, deep-merged with ``overrides``."""
    config = yaml.safe_load((REPO / "dagster_home" / "dagster.yaml").read_text())

    def merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
        for k, v in extra.items():
            base[k] = merge(dict(base.get(k) or {}), v) if isinstance(v, Mapping) else v
        return base

    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text(yaml.safe_dump(merge(config, overrides or {})))
    return path


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class DagsterDev:
    """One ``dagster dev`` process tree; use as a context manager."""

    def __init__(self, env: Mapping[str, str], log_path: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(REPO), **env}
        self.env.pop("DAGSTER_IS_DEV_CLI", None)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        log = open(self.log_path, "wb")  # noqa: SIM115 - owned by the child for its whole life
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        log.close()
        wait_for("the code location to load", self._location_loaded, timeout)

    def _location_loaded(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {self.process.returncode}:\n{self.log()}")
        try:
            data = self.graphql(
                "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
            )
        except (httpx.HTTPError, RuntimeError):
            return False
        entries = data["workspaceOrError"].get("locationEntries", [])
        for entry in entries:
            error = entry["locationOrLoadError"] or {}
            if error.get("__typename") == "PythonError":
                raise RuntimeError(f"code location {entry['name']} failed to load: {error['message']}")
        return bool(entries) and all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=timeout
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]  # type: ignore[no-any-return]

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-6000:]
        return ""

    def stop(self, timeout: float = 60) -> None:
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the session this harness started
        self.process = None

    def __enter__(self) -> DagsterDev:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def dagster_dev(env: Mapping[str, str], log_path: Path) -> Iterator[DagsterDev]:
    with DagsterDev(env, log_path) as dev:
        yield dev
