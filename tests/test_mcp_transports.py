"""``sprites mcp`` as a real subprocess: over stdio (agents), and over HTTP with and without the bearer token."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from mcp.shared.exceptions import MCPError as McpError

from pipeline.errors import ConfigError
from pipeline.faces.mcp.auth import is_loopback, resolve_token
from tests.conftest import REPO
from tests.mcp_support import SPRITES, mcp_project_env

pytestmark = pytest.mark.anyio
# `sprites mcp`, whether or not the CLI group registers the command yet


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def project_env(tmp_path: Path) -> dict[str, str]:
    return mcp_project_env(tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_stdio_subprocess_generates_and_shows_a_sprite(project_env: dict[str, str]) -> None:
    transport = StdioTransport(command=sys.executable, args=["-c", SPRITES, "mcp"], env=project_env, cwd=str(REPO))
    async with Client(transport) as client:
        tools = {t.name for t in await client.list_tools()}
        made = await client.call_tool("generate_sprite", {"prompt": "swamp toad", "category": "enemy"})
        again = await client.call_tool("generate_sprite", {"prompt": "swamp toad", "category": "enemy"})
        view = await client.call_tool("view_sprite", {"name": "swamp-toad", "upscale": 1})
    assert "generate_sprite" in tools and "cancel_run" in tools
    assert made.structured_content["status"] == "built" and made.structured_content["launched_via"] == "in-process"
    assert again.structured_content["status"] == "up to date"
    assert [c.type for c in view.content] == ["text", "image"]
    root = Path(project_env["SPRITES_PROJECT_DIR"])
    assert (root / "sprite_specs" / "mcp" / "swamp-toad.yaml").is_file()
    assert (root / "bevy_target" / "assets" / "sprites" / "enemy" / "swamp-toad.png").is_file()


def start_http(env: dict[str, str], *extra: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SPRITES, "mcp", "--http", "--port", str(port), "--no-prewarm", *extra],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"server did not start: {proc.communicate()[1]}")


async def test_http_requires_the_bearer_token(project_env: dict[str, str]) -> None:
    token = "test-token-0123456789abcdef"
    proc, port = start_http({**project_env, "SPRITES_MCP_TOKEN": token})
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        async with Client(StreamableHttpTransport(url, auth=token)) as client:
            listing = await client.call_tool("list_sprites", {})
        for auth in (None, "wrong-token-0123456789"):
            with pytest.raises((httpx.HTTPStatusError, McpError)):
                async with Client(StreamableHttpTransport(url, auth=auth)) as client:
                    await client.list_tools()
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        raw = httpx.post(url, json=request, timeout=10)
        wrong = httpx.post(url, json=request, headers={"Authorization": "Bearer nope"}, timeout=10)
        right = httpx.post(url, json=request, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert [s["name"] for s in listing.structured_content["sprites"]] == ["goblin"]
    assert (raw.status_code, wrong.status_code) == (401, 401)
    assert right.status_code != 401  # past authentication (this bare request is not a full MCP session)
    # every rejected attempt is in the audit log (never the token it sent), beside the tool call that passed
    audit = Path(project_env["SPRITES_PROJECT_DIR"]) / ".sprites" / "state" / "mcp-audit.jsonl"
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    rejected = [line for line in lines if line["outcome"].startswith("rejected")]
    assert {line["outcome"] for line in rejected} == {
        "rejected: HTTP 401, no token",
        "rejected: HTTP 401, wrong bearer token",
    }
    assert len(rejected) >= 4 and all(line["request"].endswith(" /mcp") for line in rejected)
    assert all(line["client"].startswith("127.0.0.1:") for line in rejected)
    assert [line["tool"] for line in lines if line["outcome"] == "ok"] == ["list_sprites"]
    assert "wrong-token" not in audit.read_text() and "nope" not in audit.read_text()


def test_http_refuses_a_public_address_without_a_token(project_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SPRITES, "mcp", "--http", "--host", "0.0.0.0", "--port", str(free_port())],
        env=project_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "refusing to serve MCP over HTTP on 0.0.0.0 without a token" in done.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("10.0.0.5", False)],
)
def test_token_rules(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert resolve_token(host, "a-long-enough-token-123") == ("a-long-enough-token-123", False)
    with pytest.raises(ConfigError, match="at least 16"):
        resolve_token(host, "short")
    if loopback:
        token, generated = resolve_token(host, "  ")
        assert generated and len(token) >= 32
    else:
        with pytest.raises(ConfigError, match="SPRITES_MCP_TOKEN"):
            resolve_token(host, None)
