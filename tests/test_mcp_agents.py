"""MCP for agents, as the DGX-Pixels server served them: a prompt alone is enough, ``style`` presets and ``lora``
become spec fields, identical requests at once share one run, a failed deploy is an error result, and no
error text shows the server's absolute paths."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import anyio
import pytest
import yaml
from fastmcp import Client, FastMCP
from fastmcp.exceptions import ToolError
from PIL import Image, ImageDraw

from pipeline.faces.mcp.calls import relative_paths
from pipeline.faces.mcp.requests import SpriteRequest, spec_body
from pipeline.faces.mcp.server import create_server
from pipeline.faces.mcp.styles import STYLES, apply_style
from pipeline.service import BuildService
from pipeline.settings import Settings
from tests.conftest import REPO

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    root = tmp_path / "game"
    (root / "sprite_specs").mkdir(parents=True)
    shutil.copy(REPO / "sprite_specs" / "_defaults.yaml", root / "sprite_specs")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # restored afterwards (opening the instance sets it)
    return Settings.for_project(root, dagster_home=home)


@pytest.fixture
def service(project: Settings) -> BuildService:
    return BuildService(project, dagster_url="off")


@pytest.fixture
def app(service: BuildService) -> FastMCP:
    return create_server(service)


def spec_of(project: Settings, name: str) -> dict[str, object]:
    return dict(yaml.safe_load((project.specs_dir / "mcp" / f"{name}.yaml").read_text()))


async def test_a_prompt_alone_makes_a_sprite_in_the_projects_default_category(app: FastMCP, project: Settings) -> None:
    async with Client(app) as client:
        made = (await client.call_tool("generate_sprite", {"prompt": "a wooden barrel"})).structured_content
    assert made["status"] == "built" and made["name"] == "wooden-barrel", made
    assert spec_of(project, "wooden-barrel") == {
        "name": "wooden-barrel",
        "category": "prop",
        "prompt": "a wooden barrel",
    }
    assert (project.assets_dir / "sprites" / "prop" / "wooden-barrel.png").is_file()


@pytest.mark.parametrize("style", sorted(STYLES))
def test_each_style_preset_is_spec_fields_and_explicit_arguments_win(style: str) -> None:
    preset = STYLES[style]
    body = spec_body(apply_style(SpriteRequest(prompt="a knight"), style), "knight")
    assert body["prompt"] == (f"a knight, {preset.words} style" if preset.words else "a knight")
    assert body.get("palette") == preset.palette
    assert body.get("pixel", {}).get("outline") == preset.outline
    mine = spec_body(apply_style(SpriteRequest(prompt="a knight", palette="db16", outline="#ff0000"), style), "knight")
    assert (mine["palette"], mine["pixel"]["outline"]) == ("db16", "#ff0000")


async def test_style_and_lora_arguments_land_in_the_written_spec(app: FastMCP, project: Settings) -> None:
    arguments = {"prompt": "a knight", "category": "character", "style": "8bit", "lora": "pixel-xl.safetensors"}
    async with Client(app) as client:
        made = (await client.call_tool("generate_sprite", {**arguments, "lora_strength": 0.8})).structured_content
        with pytest.raises(ToolError, match="style"):
            await client.call_tool("generate_sprite", {**arguments, "style": "watercolour"})
        with pytest.raises(ToolError, match="lora_strength"):
            await client.call_tool("generate_sprite", {**arguments, "lora_strength": 9})
    assert made["status"] == "built", made
    spec = spec_of(project, made["name"])
    assert spec["prompt"] == "a knight, 8-bit style" and spec["palette"] == "nes"
    assert spec["generation"] == {"loras": [{"name": "pixel-xl.safetensors", "strength": 0.8}]}


async def test_six_identical_requests_at_once_start_one_run(
    app: FastMCP, service: BuildService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six concurrent calls; the render waits until all six have asked the service, so they overlap for sure."""
    from pipeline.core.generate.procedural import ProceduralBackend

    asked = threading.Semaphore(0)
    real_ensure, real_generate = BuildService.ensure, ProceduralBackend.generate

    def counting_ensure(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return real_ensure(self, *args, **kwargs)
        finally:
            asked.release()

    def generate_once_all_asked(self, request, progress=None, cancel=None):  # type: ignore[no-untyped-def]
        for _ in range(6):
            assert asked.acquire(timeout=60), "the six calls did not all reach the build service"
        return real_generate(self, request, progress, cancel)

    monkeypatch.setattr(BuildService, "ensure", counting_ensure)
    monkeypatch.setattr(ProceduralBackend, "generate", generate_once_all_asked)
    results: list[dict[str, object]] = []
    arguments = {"prompt": "a red crab", "category": "enemy", "wait_seconds": 120}
    async with Client(app) as client:

        async def call() -> None:
            results.append((await client.call_tool("generate_sprite", arguments)).structured_content)

        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(call)
    assert [r["status"] for r in results] == ["built"] * 6, results
    assert len({r["run_id"] for r in results}) == 1
    assert len(service.instance().get_runs()) == 1
    assert len({r["sha256"] for r in results}) == 1


def picture(project: Settings) -> str:
    path = project.project_dir / "art" / "orb.png"
    path.parent.mkdir(exist_ok=True)
    art = Image.new("RGBA", (32, 32), (0, 0, 255, 255))
    ImageDraw.Draw(art).rectangle((8, 6, 23, 25), fill=(255, 200, 0, 255))
    art.resize((64, 64), Image.Resampling.NEAREST).save(path)
    return "art/orb.png"


async def test_a_failed_deploy_is_an_error_result_naming_project_relative_paths(
    app: FastMCP, project: Settings
) -> None:
    blocked = project.assets_dir / "sprites" / "item" / "orb.png"
    blocked.mkdir(parents=True)  # a folder where the PNG must go: the export step fails
    async with Client(app) as client:
        failed = await client.call_tool(
            "deploy_to_bevy",
            {"name": "orb", "category": "item", "image_path": picture(project), "overwrite": True},
            raise_on_error=False,
        )
        shutil.rmtree(blocked)
        fixed = await client.call_tool(
            "deploy_to_bevy", {"name": "orb", "category": "item", "image_path": "art/orb.png"}
        )
    assert failed.is_error, failed
    text = failed.content[0].text
    assert "orb: failed" in text and "sprites/item/orb.png" in text, text
    assert str(project.project_dir) not in text and str(Path.home()) not in text
    assert not fixed.is_error and fixed.structured_content["status"] == "built"


async def test_errors_outside_the_project_name_their_setting_not_the_path(app: FastMCP, project: Settings) -> None:
    (project.dagster_home / "dagster.yaml").write_text("run_queue: [not, a, mapping]\n")
    async with Client(app) as client:
        result = await client.call_tool(
            "generate_sprite", {"prompt": "a moth", "category": "enemy"}, raise_on_error=False
        )
    assert result.is_error
    message = result.content[0].text
    assert "$DAGSTER_HOME" in message and "invalid dagster.yaml" in message, message
    assert str(project.dagster_home) not in message and str(project.project_dir) not in message


def test_relative_paths(project: Settings) -> None:
    root, home = str(project.project_dir), str(project.dagster_home)
    cases = {
        f"could not write {root}/bevy_target/assets/sprites/a.png": "could not write bevy_target/assets/sprites/a.png",
        f"the instance at {home} is broken": "the instance at $DAGSTER_HOME is broken",
        f"{home}/dagster.yaml: bad": "$DAGSTER_HOME/dagster.yaml: bad",
        f"outside {root}": "outside the project folder",
        "nothing to replace": "nothing to replace",
    }
    for text, expected in cases.items():
        assert relative_paths(project, text) == expected
