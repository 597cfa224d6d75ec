"""A running Dagster webserver for this project, driven over GraphQL (no dagster import needed).

When ``dagster dev`` (or ``sprites dev``) serves the project, the build service launches runs through it with
``launchRun`` on ``__ASSET_JOB``: they enter the run queue and respect the ``comfyui`` pool like runs
started from the UI. A webserver counts as "for this project" only when it serves the ``sprites``
code location *and* its instance stores under the same ``DAGSTER_HOME``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx

from pipeline.defs.asset_keys import MANIFEST_KEY_PATH, sprite_path, sprite_paths, stage_of_path
from pipeline.defs.launch import RunOutcome, SpriteOutcome, user_message
from pipeline.errors import ConfigError

__all__ = ["DEFAULT_URL", "LOCATION", "URL_ENV", "DagsterWebserver", "RunLog", "WebserverProbe"]

log = logging.getLogger(__name__)

URL_ENV = "SPRITES_DAGSTER_URL"
DEFAULT_URL = "http://127.0.0.1:3000"
LOCATION = "sprites"
REPOSITORY = "__repository__"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
_DISABLED = {"off", "none", "no", "0", "false"}

_LAUNCH = """
mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on PythonError { message }
  ... on InvalidSubsetError { message }
  ... on PipelineNotFoundError { message }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on UnauthorizedError { message }
} }"""
_RELOAD = """
mutation($loc: String!) { reloadRepositoryLocation(repositoryLocationName: $loc) {
  __typename
  ... on WorkspaceLocationEntry { loadStatus locationOrLoadError { __typename ... on PythonError { message } } }
  ... on PythonError { message }
  ... on UnauthorizedError { message }
} }"""
_TERMINATE = """
mutation($id: String!) { terminateRun(runId: $id) {
  __typename
  ... on TerminateRunSuccess { run { runId status } }
  ... on TerminateRunFailure { message }
  ... on RunNotFoundError { message }
  ... on PythonError { message }
  ... on UnauthorizedError { message }
} }"""
_STATUS = "query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"
_LOGS = """
query($id: ID!, $after: String) { logsForRun(runId: $id, afterCursor: $after, limit: 1000) {
  __typename
  ... on EventConnection { cursor hasMore events {
    __typename
    ... on MessageEvent { stepKey message }
    ... on MaterializationEvent { assetKey { path } metadataEntries {
      label ... on TextMetadataEntry { text } ... on FloatMetadataEntry { floatValue }
      ... on IntMetadataEntry { intValue } ... on BoolMetadataEntry { boolValue } } }
    ... on ExecutionStepFailureEvent { error { message className cause { message className } } }
  } }
} }"""
_PROBE = """{ instance { hasInfo info }
  workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus } } } }"""
_ASSETS = "query($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) { assetKey { path } } }"


@dataclass
class RunLog:
    """Per-sprite outcomes read from a run's event log, incrementally (``cursor``)."""

    names: list[str]
    cursor: str | None = None
    outcomes: dict[str, SpriteOutcome] = field(default_factory=dict)
    manifest_error: str | None = None

    def __post_init__(self) -> None:
        self.outcomes = {n: SpriteOutcome(n) for n in self.names}


def _op(name: str) -> str:
    return "sprite__" + name.replace("-", "_")


def _error_text(error: dict[str, Any] | None) -> str:
    """A step failure as the user should read it (the same rule as ``sprites build``)."""

    def wrap(e: dict[str, Any] | None) -> SimpleNamespace | None:
        if not e:
            return None
        return SimpleNamespace(cls_name=e.get("className"), message=e.get("message"), cause=wrap(e.get("cause")))

    return user_message(wrap(error))


class DagsterWebserver:
    """GraphQL client for one webserver URL."""

    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def query(self, document: str, variables: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        try:
            response = self._client.post(
                f"{self.url}/graphql",
                json={"query": document, "variables": variables or {}},
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            if response.status_code >= 400 and not body.get("errors"):
                response.raise_for_status()
        except (httpx.HTTPError, ValueError) as exc:
            raise ConfigError(f"Dagster webserver {self.url}: {exc}") from exc
        if body.get("errors"):
            raise ConfigError(f"Dagster webserver {self.url}: {body['errors'][0].get('message')}")
        return body["data"]

    def serves(self, dagster_home: str, timeout: float = 1.0) -> str | None:
        """None when this webserver serves the project's location on the same instance, else why not."""
        data = self.query(_PROBE, timeout=timeout)
        entries = (data.get("workspaceOrError") or {}).get("locationEntries") or []
        if not any(e.get("name") == LOCATION for e in entries):
            return f"it has no '{LOCATION}' code location"
        info = (data.get("instance") or {}).get("info") or ""
        home = os.path.realpath(dagster_home)
        if f"base_dir: {home}\n" not in info and f"base_dir: {dagster_home}\n" not in info:
            return f"its Dagster instance is not {home}"
        return None

    def reload_location(self) -> None:
        """Reload the code location so new spec files become assets (raises ConfigError if it fails to load)."""
        entry = self.query(_RELOAD, {"loc": LOCATION})["reloadRepositoryLocation"]
        if entry["__typename"] != "WorkspaceLocationEntry":
            raise ConfigError(f"reloading '{LOCATION}' failed: {entry.get('message')}")
        loaded = entry.get("locationOrLoadError") or {}
        if loaded.get("__typename") == "PythonError":
            raise ConfigError(f"the '{LOCATION}' code location failed to load: {loaded.get('message')}")

    def missing_assets(self, names: list[str]) -> list[str]:
        """Sprites whose ``<name>_bevy`` asset the webserver does not know (e.g. another specs folder)."""
        keys = [{"path": list(sprite_path(n, "bevy"))} for n in names]
        nodes = self.query(_ASSETS, {"keys": keys})["assetNodes"]
        known = {(stage_of_path(node["assetKey"]["path"]) or ("", ""))[0] for node in nodes}
        return [n for n in names if n not in known]

    def launch(self, names: list[str], tags: dict[str, str], include_manifest: bool = True) -> str:
        """Launch a run of the sprites' assets (and the manifest) through the run queue; returns its id."""
        selection = [{"path": list(path)} for n in names for path in sprite_paths(n)]
        if include_manifest:
            selection.append({"path": list(MANIFEST_KEY_PATH)})
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "jobName": "__ASSET_JOB",
                "assetSelection": selection,
            },
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        result = self.query(_LAUNCH, {"p": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            detail = result.get("message") or json.dumps(result.get("errors"))
            raise ConfigError(f"the Dagster webserver refused the run ({result['__typename']}): {detail}")
        return str(result["run"]["runId"])

    def status(self, run_id: str) -> str:
        run = self.query(_STATUS, {"id": run_id})["runOrError"]
        if run["__typename"] != "Run":
            raise ConfigError(f"run {run_id} not found on {self.url}")
        return str(run["status"])

    def terminate(self, run_id: str) -> tuple[bool, str]:
        result = self.query(_TERMINATE, {"id": run_id})["terminateRun"]
        if result["__typename"] == "TerminateRunSuccess":
            return True, f"termination requested (status {result['run']['status']})"
        return False, str(result.get("message") or result["__typename"])

    def read_events(self, run_id: str, log: RunLog) -> list[tuple[str, str, str]]:
        """Fold new events into ``log``; returns (kind, sprite, message): sprites that finished, and log lines."""
        finished: list[tuple[str, str, str]] = []
        by_op = {_op(n): n for n in log.names}
        while True:
            conn = self.query(_LOGS, {"id": run_id, "after": log.cursor})["logsForRun"]
            if conn["__typename"] != "EventConnection":
                return finished
            log.cursor = conn["cursor"]
            for ev in conn["events"]:
                sprite = by_op.get(ev.get("stepKey") or "")
                kind = ev["__typename"]
                if kind == "MaterializationEvent" and sprite:
                    meta = {
                        m["label"]: next((v for k, v in m.items() if k != "label"), None) for m in ev["metadataEntries"]
                    }
                    _, stage = stage_of_path(ev["assetKey"]["path"]) or (sprite, None)
                    if stage and meta.get("cache") is not None:
                        log.outcomes[sprite].cache[stage] = str(meta["cache"])
                    log.outcomes[sprite].seconds += float(meta.get("seconds") or 0)
                    if stage == "bevy":
                        log.outcomes[sprite].path = str(meta.get("asset_path"))
                elif kind == "LogMessageEvent" and sprite:  # e.g. "goblin: 40% frame 2/4" from a generation
                    finished.append(("log", sprite, str(ev.get("message") or "")))
                elif kind == "ExecutionStepSuccessEvent" and sprite:
                    log.outcomes[sprite].status = "built"
                    finished.append(("sprite_done", sprite, "built"))
                elif kind == "ExecutionStepFailureEvent":
                    message = _error_text(ev.get("error"))
                    if sprite:
                        log.outcomes[sprite].status = "failed"
                        log.outcomes[sprite].error = message
                        finished.append(("sprite_failed", sprite, message))
                    elif ev.get("stepKey") == "bevy__manifest":
                        log.manifest_error = message
            if not conn.get("hasMore"):
                return finished

    def outcome(self, run_id: str, log: RunLog, status: str, seconds: float) -> RunOutcome:
        self.read_events(run_id, log)
        for o in log.outcomes.values():
            if o.status == "pending":
                o.status = "skipped"
        return RunOutcome(run_id, status == "SUCCESS", log.outcomes, log.manifest_error, seconds)


class WebserverProbe:
    """Finds the project's running webserver (or None: runs then execute in-process), remembering the
    answer for ``ttl`` seconds so that a burst of tool calls does not probe it each time.

    ``url`` names it; ``off`` (or ``none``, ``false``...) disables the lookup; None probes the ``sprites dev``
    address with a short timeout.
    """

    def __init__(self, dagster_home: str, url: str | None = None, ttl: float = 10.0):
        self.dagster_home = dagster_home
        self.url = (url or "").strip() or DEFAULT_URL
        self.disabled = self.url.lower() in _DISABLED
        self.ttl = ttl
        self._cached: tuple[float, DagsterWebserver | None] | None = None

    def find(self) -> DagsterWebserver | None:
        if self.disabled:
            return None
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self.ttl:
            return self._cached[1]
        server: DagsterWebserver | None = DagsterWebserver(self.url)
        try:
            why_not = server.serves(self.dagster_home)  # type: ignore[union-attr]
        except ConfigError:
            why_not = "unreachable"
        if why_not is not None:
            if why_not != "unreachable":
                log.warning("not launching through the Dagster webserver at %s: %s", self.url, why_not)
            server.close()  # type: ignore[union-attr]
            server = None
        self._cached = (now, server)
        return server
