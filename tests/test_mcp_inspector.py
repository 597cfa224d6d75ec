"""The MCP Inspector CLI (npm @modelcontextprotocol/inspector, pinned in tests/inspector/package.json) lists and
calls every tool of a real ``sprites mcp --http`` subprocess: what an MCP client other than our own sees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tests.conftest import REPO
from tests.mcp_support import mcp_project_env
from tests.test_mcp_transports import start_http

pytestmark = pytest.mark.slow

PACKAGE = REPO / "tests" / "inspector"
BIN = PACKAGE / "node_modules" / ".bin" / "mcp-inspector"
TOKEN = "inspector-token-0123456789abcdef"
TOOLS = {
    "generate_sprite",
    "generate_batch",
    "deploy_to_bevy",
    "materialize",
    "list_sprites",
    "sprite_status",
    "view_sprite",
    "cancel_run",
    "sprite_candidates",
    "pick_candidate",
}


@pytest.fixture(scope="module")
def inspector() -> Path:
    """The pinned Inspector, installed with ``npm ci`` when missing (scripts/test.sh installs it up front)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("SPRITES_REQUIRE_NODE"):
            pytest.fail("node/npm are required here (SPRITES_REQUIRE_NODE is set) but not installed")
        pytest.skip("node and npm are not installed (CI installs them: .ci/run); the Inspector CLI needs them")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    major = int(version.lstrip("v").split(".")[0] or 0) if version.lstrip("v")[:1].isdigit() else 0
    if major < 20:  # Debian 12's own nodejs is 18; the pinned Inspector is verified on 20 and asks for 22
        pytest.skip(f"node {version or '?'} is older than 20, which the pinned MCP Inspector CLI needs")
    if not BIN.exists():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=PACKAGE, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return BIN


def inspect(
    inspector: Path, url: str, method: str, tool: str | None = None, *, error: bool = False, **args: Any
) -> dict[str, Any]:
    """One Inspector CLI call; its stdout is the JSON-RPC result (``error``: an isError result, exit status 5)."""
    cmd = [str(inspector), "--cli", url, "--header", f"Authorization: Bearer {TOKEN}", "--method", method]
    if tool:
        cmd += ["--tool-name", tool]
    for key, value in args.items():
        cmd += ["--tool-arg", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    expected = 5 if error else 0  # the Inspector's exit status for a tool result with isError
    assert done.returncode == expected, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return dict(json.loads(done.stdout))


def test_the_inspector_lists_and_calls_every_tool(inspector: Path, tmp_path: Path) -> None:
    env = {**mcp_project_env(tmp_path), "SPRITES_MCP_TOKEN": TOKEN}
    root = Path(env["SPRITES_PROJECT_DIR"])
    picture = root / "art" / "orb.png"
    picture.parent.mkdir()
    art = Image.new("RGBA", (32, 32), (0, 0, 255, 255))
    ImageDraw.Draw(art).rectangle((8, 6, 23, 25), fill=(255, 200, 0, 255))
    art.resize((64, 64), Image.Resampling.NEAREST).save(picture)
    (root / "sprite_specs" / "coin.yaml").write_text("name: coin\ncategory: item\nprompt: a gold coin\ncandidates: 2\n")
    proc, port = start_http(env)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        listed = {t["name"]: t for t in inspect(inspector, url, "tools/list")["tools"]}
        made = inspect(inspector, url, "tools/call", "generate_sprite", prompt="a swamp toad")
        batch = inspect(
            inspector, url, "tools/call", "generate_batch", sprites=[{"prompt": "blue gem"}], category="item"
        )
        deployed = inspect(
            inspector, url, "tools/call", "deploy_to_bevy", name="orb", category="item", image_path="art/orb.png"
        )
        run = inspect(inspector, url, "tools/call", "materialize", sprites=["goblin"])
        listing = inspect(inspector, url, "tools/call", "list_sprites")
        status = inspect(inspector, url, "tools/call", "sprite_status", name="goblin")
        view = inspect(inspector, url, "tools/call", "view_sprite", name="goblin", upscale=1)
        cancel = inspect(inspector, url, "tools/call", "cancel_run", run_id=run["structuredContent"]["run_id"])
        unknown = inspect(inspector, url, "tools/call", "cancel_run", error=True, run_id="no-such-run")
        candidates = inspect(inspector, url, "tools/call", "sprite_candidates", name="coin")
        picked = inspect(inspector, url, "tools/call", "pick_candidate", name="coin", index=1)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert set(listed) == TOOLS
    for tool in listed.values():
        assert tool["description"] and tool["inputSchema"]["type"] == "object" and tool.get("outputSchema"), tool
    assert listed["generate_sprite"]["inputSchema"]["required"] == ["prompt"]
    assert {"style", "lora", "lora_strength"} <= set(listed["generate_sprite"]["inputSchema"]["properties"])
    # generate_sprite with a prompt only: the project's default category, a derived name
    toad = made["structuredContent"]
    assert not made.get("isError") and toad["status"] == "built" and toad["name"] == "swamp-toad", made
    assert (
        toad["asset_path"] == "sprites/prop/swamp-toad.png"
        and (root / "bevy_target/assets" / toad["asset_path"]).is_file()
    )
    assert [c["type"] for c in made["content"]] == ["text", "image"]
    assert batch["structuredContent"]["items"][0]["status"] == "built", batch
    assert deployed["structuredContent"]["status"] == "built", deployed
    assert run["structuredContent"]["status"] == "success"
    rows = {r["name"]: r["status"] for r in listing["structuredContent"]["sprites"]}
    # coin (candidates) is built by the pick, after this listing
    assert rows == {**dict.fromkeys(["blue-gem", "goblin", "orb", "swamp-toad"], "up to date"), "coin": "missing"}
    assert status["structuredContent"]["last_run"]["run_id"] == run["structuredContent"]["run_id"]
    assert view["structuredContent"]["width"] == 32 and view["content"][1]["type"] == "image"
    assert cancel["structuredContent"]["message"] == "the run already ended"
    assert unknown["isError"] and "no run 'no-such-run'" in unknown["content"][0]["text"]
    listed_candidates = candidates["structuredContent"]
    assert listed_candidates["count"] == 2 and [c["index"] for c in listed_candidates["candidates"]] == [0, 1]
    seed = listed_candidates["candidates"][1]["seed"]
    assert picked["structuredContent"]["status"] == "built" and picked["structuredContent"]["seed"] == seed, picked
    assert f"picked: {seed}" in (root / "sprite_specs" / "coin.yaml").read_text()
