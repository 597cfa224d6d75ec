"""Candidates through the MCP tools (``fastmcp.Client`` in memory, as an agent sees them): the candidates as
image content, the pick written into the spec, the sprite rebuilt from the cache; on the procedural backend
and against the ComfyUI-protocol server on 127.0.0.1 (its job count proves nothing is rendered twice)."""

from __future__ import annotations

import base64
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from PIL import Image

from pipeline.settings import Settings
from pipeline.state.cache import ContentCache
from tests.comfyui_server import FakeComfyServer
from tests.conftest import REPO
from tests.mcp_support import mcp_server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SPECS = {
    # (a slime: the procedural backend's seeds vary its shape; a goblin's only vary the render's grain)
    "blob.yaml": "name: blob\ncategory: enemy\nsize: 32x32\nseed: 40\nprompt: green slime\ncandidates: 3  # pick one\n",
    "ghost.yaml": "name: ghost\ncategory: enemy\nsize: 16x16\nseed: 7\nprompt: pixel art ghost\n"
    "generation: {backend: comfyui, steps: 4, render_scale: 8}\ncandidates:\n  count: 2\n",
    "slime.yaml": "name: slime\ncategory: enemy\nsize: 16x16\nprompt: green slime\n",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def comfy() -> Iterator[FakeComfyServer]:
    with FakeComfyServer(latency=0.05) as fake:
        yield fake


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, comfy: FakeComfyServer) -> Settings:
    root = tmp_path / "game"
    (root / "sprite_specs").mkdir(parents=True)
    shutil.copy(REPO / "sprite_specs" / "_defaults.yaml", root / "sprite_specs")
    shutil.copytree(REPO / "comfy_workflows", root / "comfy_workflows")
    for name, text in SPECS.items():
        (root / "sprite_specs" / name).write_text(text)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("SPRITES_DAGSTER_URL", "off")
    settings = Settings.for_project(root, comfyui_urls=[comfy.url], dagster_home=home)
    return settings


def _images(result: object) -> list[Image.Image]:
    out = []
    for c in result.content:  # type: ignore[attr-defined]
        if c.type == "image":
            out.append(Image.open(io.BytesIO(base64.b64decode(c.data))))
    return out


def _texts(result: object) -> list[str]:
    return [c.text for c in result.content if c.type == "text"]  # type: ignore[attr-defined]


async def test_candidates_as_images_then_a_pick_from_mcp(project: Settings, comfy: FakeComfyServer) -> None:
    cache = ContentCache(project.cache_dir)
    async with Client(mcp_server(project)) as client:
        tools = {t.name for t in await client.list_tools()}
        assert {"sprite_candidates", "pick_candidate"} <= tools
        built = await client.call_tool("materialize", {"sprites": ["blob", "ghost", "slime"]})
        assert built.structured_content["status"] == "success", built.structured_content
        assert len(comfy.executions()) == 2  # both ghost candidates, one job each
        renders = set(cache.keys("generate"))
        assert len(renders) == 3 + 2 + 1

        listed = await client.call_tool("sprite_candidates", {"name": "blob"})
        data = listed.structured_content
        assert data["count"] == 3 and data["picked_index"] is None and data["publish"] == "first"
        assert [c["seed"] for c in data["candidates"]] == [40, 41, 42]
        assert [c["published"] for c in data["candidates"]] == [True, False, False]
        assert all(c["rendered"] and Path(c["render_path"]).is_file() for c in data["candidates"])
        images = _images(listed)
        # the pixel art each candidate becomes (32 px), shown at 8x like every MCP image of a sprite
        assert len(images) == 3 and all(im.size == (256, 256) for im in images)
        assert len({im.tobytes() for im in images}) == 3  # different seeds, different sprites
        # each image is announced by a line naming its index and seed
        assert _texts(listed)[1:] == [
            "candidate 0 (seed 40), published",
            "candidate 1 (seed 41)",
            "candidate 2 (seed 42)",
        ]
        with Image.open(Path(data["candidates"][1]["pixel_path"])) as on_disk:
            assert on_disk.size == (32, 32)
            shown = images[1].convert("RGBA").resize((32, 32), Image.Resampling.NEAREST)
            assert on_disk.convert("RGBA").tobytes() == shown.tobytes()
        with Image.open(Path(data["candidates"][1]["render_path"])) as render:
            assert render.size == (256, 256)  # the render itself: 32 px x render_scale 8

        picked = await client.call_tool("pick_candidate", {"name": "blob", "index": 1})
        result = picked.structured_content
        assert result["status"] == "built" and result["seed"] == 41 and result["spec_written"] is True
        # the pick renders nothing, and its pixel stage ran when the candidates were shown
        assert result["cache"]["raw"] == "hit" and result["cache"]["pixel"] == "hit"
        assert "candidates: {count: 3, picked: 41}  # pick one\n" in (project.specs_dir / "blob.yaml").read_text()
        assert len(_images(picked)) == 1

        ghost = await client.call_tool("pick_candidate", {"name": "ghost", "index": 1})
        assert ghost.structured_content["status"] == "built" and ghost.structured_content["seed"] == 8
        assert len(comfy.executions()) == 2  # no job was sent to the ComfyUI server for the pick
        assert set(cache.keys("generate")) == renders

        again = await client.call_tool("pick_candidate", {"name": "ghost", "index": 1})
        assert again.structured_content["status"] == "up to date" and again.structured_content["run_id"] is None
        listed = await client.call_tool("sprite_candidates", {"name": "ghost"})
        assert listed.structured_content["picked_index"] == 1
        assert [c["picked"] for c in listed.structured_content["candidates"]] == [False, True]
        rebuilt = await client.call_tool("materialize", {"sprites": ["blob", "ghost", "slime"]})
        assert rebuilt.structured_content["status"] == "nothing to do"  # the next build is a no-op

        with pytest.raises(
            ToolError, match=r"blob\.yaml:6: sprite 'blob': field 'candidates\.picked': there is no candidate 3"
        ):
            await client.call_tool("pick_candidate", {"name": "blob", "index": 3})
        with pytest.raises(ToolError, match=r"slime\.yaml:1: sprite 'slime': field 'candidates': has no candidates"):
            await client.call_tool("sprite_candidates", {"name": "slime"})

    lock = json.loads((project.project_dir / "sprites.lock").read_text())["sprites"]
    assert lock["blob"]["candidates"] == {"seeds": [40, 41, 42], "picked": 41}
    assert lock["ghost"]["candidates"] == {"seeds": [7, 8], "picked": 8}
    assert lock["ghost"]["entry"]["seed"] == 8
