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
import random
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
    """A free port below Linux's ephemeral range (32768+), where outgoing connections would not take it."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found in 20000-32000")


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


def _group_members(pgid: int) -> list[int]:
    """Live processes in process group ``pgid`` (read from /proc; empty where there is no /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(stat.parent.name))
    return members


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
        if response.status_code == 400:  # a query the schema refuses: say why
            raise RuntimeError(f"GraphQL refused the query: {response.text[:2000]}")
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
        for pid in _group_members(proc.pid):  # stragglers of the session this harness started, by id
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
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
def dagster_dev(
    env_for_url: Callable[[str], Mapping[str, str]], log_path: Path, attempts: int = 2
) -> Iterator[DagsterDev]:
    """A started ``dagster dev``; ``env_for_url(url)`` gives its environment (which may name its own URL).

    A start that fails (a port taken between choosing and binding it, a machine too busy) is retried
    once on another port; the last failure is raised with the server's log.
    """
    for attempt in range(1, attempts + 1):
        port = free_port()
        dev = DagsterDev(env_for_url(f"http://127.0.0.1:{port}"), log_path, port=port)
        try:
            dev.start()
        except (RuntimeError, TimeoutError) as exc:
            dev.stop()
            if attempt == attempts:
                raise RuntimeError(f"dagster dev did not start: {exc}\n--- log ---\n{dev.log()}") from exc
            continue
        try:
            yield dev
        finally:
            dev.stop()
        return


LATEST_METADATA = """
query Latest($keys: [AssetKeyInput!]!) { assetNodes(assetKeys: $keys) { assetKey { path }
  assetMaterializations(limit: 1) { runId metadataEntries { label __typename
    ... on MarkdownMetadataEntry { mdStr } ... on TextMetadataEntry { text } } } } }
"""


def latest_metadata(dev: DagsterDev, key: list[str]) -> dict[str, dict[str, Any]]:
    """The metadata entries of ``key``'s latest materialization as the UI receives them, by label."""
    nodes = dev.graphql(LATEST_METADATA, {"keys": [{"path": key}]})["assetNodes"]
    materializations = nodes[0]["assetMaterializations"] if nodes else []
    return {e["label"]: e for e in materializations[0]["metadataEntries"]} if materializations else {}


def markdown_image(md: str) -> tuple[str, bytes]:
    """(alt text, PNG bytes) of a markdown data-URI image such as ``pipeline.core.previews`` writes."""
    import base64
    import re

    m = re.fullmatch(r"!\[(.*)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", md)
    if m is None:
        raise AssertionError(f"not a markdown PNG image: {md[:80]}...")
    return m.group(1), base64.b64decode(m.group(2))
