"""Who may call the server over HTTP, and a record of every call.

* HTTP always requires a bearer token. It comes from ``SPRITES_MCP_TOKEN``; without it a loopback server
  makes a random one and prints it once on stderr, and a server on any other address refuses to start.
* Every tool call is audited: one JSON line per call (tool, arguments, client, outcome, seconds) in
  ``<state>/mcp-audit.jsonl`` and the ``pipeline.faces.mcp.audit`` logger. Unexpected errors are logged with
  their traceback here, while the client only sees that the call failed (``mask_error_details``).
* Every HTTP request the bearer check rejects (no token, a wrong one) is audited too (``RejectedAuthAudit``):
  the client address, the method and path, and why, never the token it sent.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mcp_types as mt
from fastmcp.exceptions import ToolError, ValidationError
from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.server.dependencies import get_access_token
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import ToolResult
from pydantic import ValidationError as PydanticValidationError

from pipeline.errors import ConfigError, SpriteError
from pipeline.faces.mcp.requests import argument_error

__all__ = [
    "TOKEN_ENV",
    "AuditMiddleware",
    "BearerToken",
    "RejectedAuthAudit",
    "is_loopback",
    "resolve_token",
    "write_audit",
]

TOKEN_ENV = "SPRITES_MCP_TOKEN"
MIN_TOKEN_LENGTH = 16
audit_log = logging.getLogger("pipeline.faces.mcp.audit")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, env_token: str | None) -> tuple[str, bool]:
    """(the token to require, whether it was generated). Refuses weak tokens and open non-loopback servers."""
    token = (env_token or "").strip()
    if token:
        if len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError(f"{TOKEN_ENV} must be at least {MIN_TOKEN_LENGTH} characters long")
        return token, False
    if not is_loopback(host):
        raise ConfigError(
            f"refusing to serve MCP over HTTP on {host} without a token: set {TOKEN_ENV} "
            f"(e.g. `export {TOKEN_ENV}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`)"
        )
    return secrets.token_urlsafe(32), True


class BearerToken(TokenVerifier):
    """One static bearer token, compared in constant time."""

    def __init__(self, token: str):
        super().__init__()
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.encode(), self._token):
            return None
        return AccessToken(token=token, client_id="sprites-mcp-client", scopes=[], expires_at=None)


def write_audit(path: Path | None, line: dict[str, Any]) -> None:
    """One audit line: to the ``pipeline.faces.mcp.audit`` logger and appended to ``path``."""
    audit_log.info("%s", json.dumps(line))
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
    except OSError as exc:
        audit_log.warning("cannot write the audit file %s: %s", path, exc)


class RejectedAuthAudit:
    """ASGI middleware: record every request answered 401/403 by the bearer check."""

    def __init__(self, app: Any, audit_file: Path | None = None):
        self.app = app
        self.audit_file = audit_file

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def watch(message: Any) -> None:
            if message.get("type") == "http.response.start" and message.get("status") in (401, 403):
                headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
                client = scope.get("client")
                write_audit(
                    self.audit_file,
                    {
                        "time": round(time.time(), 3),
                        "tool": None,
                        "request": f"{scope.get('method')} {scope.get('path')}",
                        "client": f"{client[0]}:{client[1]}" if client else "unknown",
                        "outcome": f"rejected: HTTP {message['status']}, "
                        + ("wrong bearer token" if b"authorization" in {k.encode() for k in headers} else "no token"),
                        "seconds": round(time.perf_counter() - started, 4),
                    },
                )
            await send(message)

        await self.app(scope, receive, watch)


def _summary(arguments: dict[str, Any] | None) -> dict[str, Any]:
    """Arguments for the audit line, with long values (e.g. base64 images) shortened."""
    out: dict[str, Any] = {}
    for key, value in (arguments or {}).items():
        text = json.dumps(value, default=str)
        out[key] = value if len(text) <= 300 else text[:300] + f"... ({len(text)} chars)"
    return out


class AuditMiddleware(Middleware):
    """Audit every tool call; turn argument validation errors into ``ToolError``s naming the argument."""

    def __init__(self, audit_file: Callable[[], Path | None] = lambda: None):
        self.audit_file = audit_file  # asked per call: the project is configured after the server is built

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = await call_next(context)
            if result.is_error:
                outcome = "error"
            return result
        except ValidationError as exc:
            outcome = "invalid arguments"
            cause = exc.__cause__
            if isinstance(cause, PydanticValidationError):
                raise ToolError(f"invalid arguments for {context.message.name}: {argument_error(cause)}") from exc
            raise
        except ToolError as exc:
            cause = exc.__cause__
            if cause is None or isinstance(cause, SpriteError | ToolError):
                outcome = f"refused: {exc}"
            else:  # fastmcp masked an unexpected error as a ToolError: keep the whole story here
                outcome = f"unexpected {type(cause).__name__}"
                audit_log.error("tool %s failed unexpectedly", context.message.name, exc_info=cause)
            raise
        except Exception as exc:
            outcome = f"unexpected {type(exc).__name__}"
            audit_log.exception("tool %s failed unexpectedly", context.message.name)
            raise
        finally:
            self._record(context, outcome, time.perf_counter() - started)

    def _record(self, context: MiddlewareContext[mt.CallToolRequestParams], outcome: str, seconds: float) -> None:
        token = get_access_token()
        line = {
            "time": round(time.time(), 3),
            "tool": context.message.name,
            "arguments": _summary(context.message.arguments),
            "client": token.client_id if token else "local",
            "outcome": outcome[:500],
            "seconds": round(seconds, 4),
        }
        write_audit(self.audit_file(), line)
