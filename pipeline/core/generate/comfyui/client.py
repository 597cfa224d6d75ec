"""An async client for one ComfyUI server: its HTTP API (httpx) and the ``/ws`` event stream (websockets).

Errors it raises (all ``GenerationError``, so callers catch one tree)::

    ServerError                    the server failed, was unreachable, or answered nonsense
    ├── ServerUnavailable          connection errors / 5xx, still failing when the retry deadline ran out
    ├── WorkflowRejected           POST /prompt answered 400: validation errors, per node and input (never retried)
    └── ExecutionFailed            a node raised while running (execution_error), without the tensor dumps

Connection errors and 5xx are retried with exponential backoff (and jitter) until a total deadline; a 400
is an answer, not a failure, and is raised at once. httpx and websockets errors never leave this module
untranslated.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from pipeline.errors import ServerError

__all__ = [
    "ComfyClient",
    "ExecutionFailed",
    "NodeProblem",
    "QueueState",
    "RetryPolicy",
    "ServerUnavailable",
    "WorkflowRejected",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How long one HTTP call may keep retrying connection errors and 5xx answers."""

    deadline: float = 30.0  #: total seconds for one call, retries included
    base_delay: float = 0.25  #: first backoff; doubles per attempt
    max_delay: float = 4.0
    timeout: float = 30.0  #: per attempt (connect is capped at 5 s)

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2**attempt) * random.uniform(0.5, 1.0)


class ServerUnavailable(ServerError):
    """The server could not be reached, or kept answering 5xx, until the retry deadline ran out."""


@dataclass(frozen=True)
class NodeProblem:
    """One validation error of one node input, as ComfyUI reported it."""

    node_id: str
    class_type: str
    input: str | None
    kind: str  # ComfyUI's error type, e.g. value_not_in_list
    message: str

    def __str__(self) -> str:
        where = f"node {self.node_id} ({self.class_type})"
        if self.input:
            where += f" input '{self.input}'"
        return f"{where}: {self.message}"


_HINTS = {
    "ckpt_name": "the checkpoint is not installed on that server: copy it into ComfyUI/models/checkpoints "
    "or change the spec's generation.checkpoint",
    "lora_name": "the LoRA is not installed on that server: copy it into ComfyUI/models/loras "
    "or change the spec's generation.loras",
    "image": "the input image is not on that server (uploads go to ComfyUI/input)",
}


class WorkflowRejected(ServerError):
    """ComfyUI refused the workflow (HTTP 400): names each node id, class_type, input and ComfyUI's message."""

    def __init__(self, server: str, body: Any, template: str | None = None):
        self.body = body if isinstance(body, dict) else {"error": {"message": str(body)}}
        self.template = template
        err = self.body.get("error")
        err = err if isinstance(err, dict) else {"message": str(err)}
        self.kind = str(err.get("type", ""))
        self.problems = _node_problems(self.body.get("node_errors"))
        head = f"ComfyUI rejected workflow '{template}'" if template else "ComfyUI rejected the workflow"
        head += f" ({self.kind}: {err.get('message', '')}"
        if err.get("details"):
            head += f" [{err['details']}]"
        head += ")"
        lines = [head, *(f"  {p}" for p in self.problems)]
        hints = {_HINTS[p.input] for p in self.problems if p.input in _HINTS}
        if self.kind == "invalid_prompt" and "does not exist" in str(err.get("message", "")):
            hints.add("a node class of the template is missing on that server: install the custom node there")
        hints.add(
            f"fix comfy_workflows/{template}.json or the spec's generation settings, then run `sprites doctor`"
            if template
            else "fix the workflow template or the spec, then run `sprites doctor`"
        )
        lines += [f"  -> {h}" for h in sorted(hints)]
        super().__init__(server, "\n".join(lines))

    @property
    def server_specific(self) -> bool:
        """True when another server might accept it (a missing model or node class, not a bad value)."""
        if self.kind == "invalid_prompt":
            return "does not exist" in str(self.body.get("error", {}).get("message", ""))
        return bool(self.problems) and all(
            p.kind == "value_not_in_list" and p.input in ("ckpt_name", "lora_name", "image") for p in self.problems
        )


def _node_problems(node_errors: Any) -> list[NodeProblem]:
    out: list[NodeProblem] = []
    if not isinstance(node_errors, dict):
        return out
    for node_id, entry in node_errors.items():
        if not isinstance(entry, dict):
            continue
        class_type = str(entry.get("class_type", "?"))
        for e in entry.get("errors") or []:
            if not isinstance(e, dict):
                continue
            extra = e.get("extra_info")
            name = extra.get("input_name") if isinstance(extra, dict) else None
            message = str(e.get("message", ""))
            details = str(e.get("details", ""))
            # value_not_in_list keeps the useful part in details: "ckpt_name: 'x' not in [...]"
            if details and details != name:
                message = f"{message}: {details}"
            out.append(NodeProblem(str(node_id), class_type, name, str(e.get("type", "")), message))
    return out


class ExecutionFailed(ServerError):
    """A node raised during execution (``execution_error``): node, exception type and message only."""

    def __init__(self, server: str, data: dict[str, Any], template: str | None = None, sprite: str | None = None):
        self.node_id = str(data.get("node_id"))
        self.node_type = str(data.get("node_type"))
        self.exception_type = str(data.get("exception_type", "Exception"))
        self.exception_message = str(data.get("exception_message", "")).strip()
        what = f"'{sprite}' " if sprite else ""
        where = f" of workflow '{template}'" if template else ""
        hint = (
            "the GPU ran out of memory: lower the render size/batch or free VRAM on that server"
            if "OutOfMemory" in self.exception_type or "out of memory" in self.exception_message.lower()
            else "see the ComfyUI server log for the traceback"
        )
        super().__init__(
            server,
            f"generating {what}failed in node {self.node_id} ({self.node_type}){where}: "
            f"{self.exception_type}: {self.exception_message}\n  -> {hint}",
        )


@dataclass(frozen=True)
class QueueState:
    running: tuple[str, ...]
    pending: tuple[str, ...]

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self.running or prompt_id in self.pending


class ComfyClient:
    """HTTP calls to one server. ``url`` may carry a path prefix (a reverse proxy); ``/ws`` is derived from it."""

    def __init__(self, url: str, client_id: str, retry: RetryPolicy | None = None, transport: Any = None):
        self.url = url.rstrip("/")
        self.client_id = client_id
        self.retry = retry or RetryPolicy()
        timeout = httpx.Timeout(self.retry.timeout, connect=min(5.0, self.retry.timeout))
        self._http = httpx.AsyncClient(
            base_url=self.url,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=8),
            # plain http needs no CA bundle (loading it costs ~30 ms per client)
            verify=self.url.startswith("https://"),
        )

    @property
    def ws_url(self) -> str:
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path + "/ws", f"clientId={self.client_id}", ""))

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- transport with retries -------------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, *, retry: RetryPolicy | None = None, ok: tuple[int, ...] = (200,), **kw: Any
    ) -> httpx.Response:
        """One call, retried on connection errors and 5xx until the policy's deadline; other statuses returned."""
        policy = retry or self.retry
        deadline = time.monotonic() + policy.deadline
        attempt = 0
        while True:
            problem: str
            try:
                response = await self._http.request(method, path, **kw)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if response.status_code < 500:
                    return response
                problem = f"HTTP {response.status_code} {response.text[:200].strip()}"
            attempt += 1
            pause = policy.delay(attempt - 1)
            if time.monotonic() + pause > deadline:
                raise ServerUnavailable(
                    self.url,
                    f"{method} {path} failed: {problem} (tried {attempt}x over {policy.deadline:g}s); "
                    "is ComfyUI running there? check SPRITES_COMFYUI_URL",
                )
            await asyncio.sleep(pause)

    async def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.request(method, path, **kw)
        if response.status_code != 200:
            raise ServerError(self.url, f"{method} {path} answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError as exc:
            raise ServerError(self.url, f"{method} {path} answered something that is not JSON: {exc}") from exc

    # ---- the API ---------------------------------------------------------------------------------------------

    async def post_prompt(self, graph: dict[str, Any], prompt_id: str, template: str | None = None) -> dict[str, Any]:
        """Queue ``graph`` under our ``prompt_id``. 400 -> ``WorkflowRejected`` (not retried).

        A request that failed after it was sent may still have been queued: before sending again, look for
        ``prompt_id`` in the queue and history so a job never runs twice.
        """
        body = {"prompt": graph, "client_id": self.client_id, "prompt_id": prompt_id}
        deadline = time.monotonic() + self.retry.deadline
        attempt = 0
        while True:
            try:
                response = await self._http.post("/prompt", json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never reached the server
                problem = f"{type(exc).__name__}: {exc}"
            except httpx.TransportError as exc:  # sent, answer lost: it may be queued
                problem = f"{type(exc).__name__}: {exc}"
                if await self._known(prompt_id):
                    return {"prompt_id": prompt_id, "node_errors": {}}
            else:
                if response.status_code == 200:
                    try:
                        return dict(response.json())
                    except (ValueError, TypeError):  # a proxy's page instead of ComfyUI's answer
                        problem = f"HTTP 200 but not JSON: {response.text[:80]!r}"
                        if await self._known(prompt_id):
                            return {"prompt_id": prompt_id, "node_errors": {}}
                elif response.status_code == 400:
                    try:
                        payload = response.json()
                    except ValueError:
                        payload = {"error": {"type": "http_400", "message": response.text[:500]}}
                    raise WorkflowRejected(self.url, payload, template)
                elif response.status_code < 500:
                    raise ServerError(
                        self.url, f"POST /prompt answered HTTP {response.status_code}: {response.text[:300]}"
                    )
                else:
                    problem = f"HTTP {response.status_code}"
                    if await self._known(prompt_id):  # a proxy's 502 can come after ComfyUI queued it
                        return {"prompt_id": prompt_id, "node_errors": {}}
            attempt += 1
            pause = self.retry.delay(attempt - 1)
            if time.monotonic() + pause > deadline:
                raise ServerUnavailable(
                    self.url, f"POST /prompt failed: {problem} (tried {attempt}x over {self.retry.deadline:g}s)"
                )
            await asyncio.sleep(pause)

    async def _known(self, prompt_id: str) -> bool:
        """Did a POST /prompt whose answer was lost queue ``prompt_id`` after all? (Unknown counts as no.)"""
        try:
            if prompt_id in await self.queue(retry=RetryPolicy(deadline=5)):
                return True
            return await self.history(prompt_id, retry=RetryPolicy(deadline=5)) is not None
        except ServerError as exc:
            log.info("%s: could not tell whether prompt %s was queued (sending it again): %s", self.url, prompt_id, exc)
            return False

    async def history(self, prompt_id: str, retry: RetryPolicy | None = None) -> dict[str, Any] | None:
        """The history entry of ``prompt_id``, or None while it is queued, running, or forgotten (``{}``)."""
        data = await self._json("GET", f"/history/{prompt_id}", retry=retry)
        entry = data.get(prompt_id) if isinstance(data, dict) else None
        return entry if isinstance(entry, dict) else None

    async def queue(self, retry: RetryPolicy | None = None) -> QueueState:
        data = await self._json("GET", "/queue", retry=retry)
        if not isinstance(data, dict):
            raise ServerError(self.url, "GET /queue did not answer a JSON object")

        def ids(items: Any) -> tuple[str, ...]:
            return tuple(str(i[1]) for i in items or [] if isinstance(i, list) and len(i) > 1)

        return QueueState(ids(data.get("queue_running")), ids(data.get("queue_pending")))

    async def view(self, filename: str, subfolder: str = "", kind: str = "output", max_bytes: int = 0) -> bytes:
        """GET /view, streamed: refused when its Content-Length, or what it actually sends, exceeds ``max_bytes``
        (0: no limit), so a huge or endless body never gets into memory. Retried like ``request``."""
        shown = f"{subfolder + '/' if subfolder else ''}{filename}"
        params = {"filename": filename, "subfolder": subfolder, "type": kind}
        deadline = time.monotonic() + self.retry.deadline
        attempt = 0
        while True:
            try:
                async with self._http.stream("GET", "/view", params=params) as response:
                    if response.status_code < 500:
                        return await self._bounded_body(response, shown, max_bytes)
                    problem = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            attempt += 1
            pause = self.retry.delay(attempt - 1)
            if time.monotonic() + pause > deadline:
                raise ServerUnavailable(self.url, f"GET /view {shown} failed: {problem} (tried {attempt}x)")
            await asyncio.sleep(pause)

    async def _bounded_body(self, response: httpx.Response, shown: str, max_bytes: int) -> bytes:
        if response.status_code != 200:
            raise ServerError(
                self.url, f"GET /view {shown} answered HTTP {response.status_code} (was the output folder cleaned?)"
            )
        declared = response.headers.get("content-length", "")
        limit = f"more than the {max_bytes / 2**20:.1f} MiB an image of the requested size can take"
        if max_bytes and declared.isdigit() and int(declared) > max_bytes:
            raise ServerError(self.url, f"GET /view {shown} declares {int(declared)} bytes, {limit}; not downloaded")
        chunks, total = [], 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if max_bytes and total > max_bytes:
                raise ServerError(self.url, f"GET /view {shown} sent {limit}; download stopped")
            chunks.append(chunk)
        return b"".join(chunks)

    async def interrupt(self, prompt_id: str | None = None) -> None:
        """Interrupt ``prompt_id`` if it is the one running (ComfyUI >= 0.3.4x; older ones interrupt whatever runs)."""
        await self.request("POST", "/interrupt", json={"prompt_id": prompt_id} if prompt_id else {})

    async def delete(self, prompt_ids: list[str]) -> None:
        """Remove pending prompts from the queue (a running prompt is not affected)."""
        await self.request("POST", "/queue", json={"delete": prompt_ids})

    async def upload_image(self, data: bytes, name: str, subfolder: str = "", overwrite: bool = True) -> str:
        """POST /upload/image; returns the name a LoadImage node uses (``subfolder/name``)."""
        response = await self.request(
            "POST",
            "/upload/image",
            files={"image": (name, data, "image/png")},
            data={"subfolder": subfolder, "type": "input", "overwrite": "true" if overwrite else "false"},
        )
        if response.status_code != 200:
            raise ServerError(self.url, f"POST /upload/image {name} answered HTTP {response.status_code}")
        try:
            body = response.json()
            sub, stored = body.get("subfolder") or "", str(body["name"])
        except (ValueError, AttributeError, KeyError, TypeError) as exc:
            raise ServerError(
                self.url, f"POST /upload/image {name} answered {response.text[:120]!r}, not ComfyUI's JSON: {exc!r}"
            ) from exc
        return f"{sub}/{stored}" if sub else stored

    async def object_info(self, retry: RetryPolicy | None = None) -> dict[str, Any]:
        data = await self._json("GET", "/object_info", retry=retry)
        if not isinstance(data, dict):
            raise ServerError(self.url, "GET /object_info did not answer a JSON object")
        return data

    async def system_stats(self, retry: RetryPolicy | None = None) -> dict[str, Any]:
        data = await self._json("GET", "/system_stats", retry=retry)
        return data if isinstance(data, dict) else {}
