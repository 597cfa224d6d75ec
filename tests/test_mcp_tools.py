"""The MCP tools through an in-memory ``fastmcp.Client``, against a temporary project and Dagster instance."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from fastmcp import Client, FastMCP
from fastmcp.exceptions import ToolError
from mcp.shared.exceptions import MCPError as McpError
from PIL import Image, ImageDraw

from pipeline.faces.mcp.deploy import import_backend_available
from pipeline.faces.mcp.server import create_server
from pipeline.service import BuildService
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A game project in tmp_path: project defaults, two enemy specs, its own Dagster instance."""
    root = tmp_path / "game"
    (root / "sprite_specs" / "enemies").mkdir(parents=True)
    shutil.copy(REPO / "sprite_specs" / "_defaults.yaml", root / "sprite_specs")
    for name in ("goblin", "slime"):
        shutil.copy(REPO / "sprite_specs" / "enemies" / f"{name}.yaml", root / "sprite_specs" / "enemies")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return Settings.for_project(root, dagster_home=home)


@pytest.fixture
def service(project: Settings) -> BuildService:
    """The build service the server is made over (no webserver: runs execute in-process)."""
    return BuildService(project, dagster_url="off")


@pytest.fixture
def app(service: BuildService) -> FastMCP:
    return create_server(service)


def files_under(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


async def test_every_tool_is_typed_with_constraints_and_output_schema(app: FastMCP) -> None:
    async with Client(app) as client:
        tools = {t.name: t for t in await client.list_tools()}
    assert set(tools) == {
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
    for tool in tools.values():
        assert tool.description and tool.output_schema, tool.name
    gen = tools["generate_sprite"].input_schema
    assert gen["required"] == ["prompt"]
    assert "enemy" in gen["properties"]["category"]["enum"] and gen["properties"]["category"]["default"] == "prop"
    assert gen["properties"]["wait_seconds"]["maximum"] == 600
    assert "^[a-z0-9]" in json.dumps(gen["properties"]["name"])
    assert "pico-8" in json.dumps(gen["properties"]["palette"])
    assert tools["generate_batch"].input_schema["properties"]["sprites"]["maxItems"] == 20
    assert tools["generate_sprite"].output_schema["properties"]["launched_via"]["enum"] == [
        "webserver",
        "in-process",
        "none",
    ]


async def test_generate_sprite_writes_a_spec_materializes_and_returns_the_image(
    app: FastMCP, project: Settings
) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with Client(app, progress_handler=on_progress) as client:
        result = await client.call_tool(
            "generate_sprite", {"prompt": "a 32x32 goblin archer", "category": "enemy", "palette": "PICO-8"}
        )
        again = await client.call_tool(
            "generate_sprite", {"prompt": "a 32x32 goblin archer", "category": "enemy", "palette": "PICO-8"}
        )

    data = result.structured_content
    assert data["name"] == "goblin-archer" and data["status"] == "built", data
    assert data["launched_via"] == "in-process" and data["run_id"]
    assert data["cache"] == {"raw": "miss", "pixel": "miss", "bevy": "miss"}
    assert data["timings"]["run_s"] > 0
    # the spec is a real, declarative file in the project
    spec_file = project.project_dir / data["spec_file"]
    assert data["spec_file"] == "sprite_specs/mcp/goblin-archer.yaml"
    text = spec_file.read_text()
    assert text.startswith("# yaml-language-server: $schema=../sprite-spec.schema.json\n")
    assert yaml.safe_load(text) == {
        "name": "goblin-archer",
        "category": "enemy",
        "prompt": "a 32x32 goblin archer",
        "palette": "pico-8",
    }
    # the Bevy folder has the PNG (32x32, the hash reported) and the manifest lists it
    png = Path(data["png_path"]).read_bytes()
    assert png_size(png) == (32, 32)
    assert hashlib.sha256(png).hexdigest() == data["sha256"]
    manifest = json.loads((project.assets_dir / "sprites" / "manifest.json").read_text())
    assert [e["name"] for e in manifest["sprites"]] == ["goblin-archer"]
    assert manifest["sprites"][0]["sha256"] == data["sha256"]
    # the image content is the sprite, scaled up crisply
    image = next(c for c in result.content if c.type == "image")
    shown = base64.b64decode(image.data)
    assert png_size(shown) == (256, 256)
    with Image.open(io.BytesIO(shown)) as big, Image.open(io.BytesIO(png)) as small:
        assert (
            big.convert("RGBA").resize((32, 32), Image.Resampling.NEAREST).tobytes() == small.convert("RGBA").tobytes()
        )
    assert any(message and "in-process" in message for _, _, message in progress)
    assert all(total == 3 for _, total, _ in progress)
    # the same request again: no run, same files
    second = again.structured_content
    assert second["status"] == "up to date" and second["run_id"] is None and second["launched_via"] == "none"
    assert second["spec_written"] is False and second["sha256"] == data["sha256"]


async def test_an_existing_sprite_is_never_silently_overwritten(app: FastMCP, project: Settings) -> None:
    goblin = (project.specs_dir / "enemies" / "goblin.yaml").read_bytes()
    async with Client(app) as client:
        with pytest.raises(
            ToolError, match=r"name: sprite 'goblin' already exists in sprite_specs/enemies/goblin\.yaml"
        ):
            await client.call_tool("generate_sprite", {"prompt": "other", "category": "enemy", "name": "goblin"})
        with pytest.raises(ToolError, match="not written by"):  # overwrite never applies to a person's spec
            await client.call_tool(
                "generate_sprite", {"prompt": "o", "category": "enemy", "name": "goblin", "overwrite": True}
            )
        first = await client.call_tool("generate_sprite", {"prompt": "red bat", "category": "enemy", "name": "bat"})
        with pytest.raises(ToolError, match="overwrite=true"):
            await client.call_tool("generate_sprite", {"prompt": "blue bat", "category": "enemy", "name": "bat"})
        assert "red bat" in (project.specs_dir / "mcp" / "bat.yaml").read_text()
        replaced = await client.call_tool(
            "generate_sprite", {"prompt": "blue bat", "category": "enemy", "name": "bat", "overwrite": True}
        )
    assert (project.specs_dir / "enemies" / "goblin.yaml").read_bytes() == goblin
    assert "blue bat" in (project.specs_dir / "mcp" / "bat.yaml").read_text()
    assert replaced.structured_content["status"] == "built"
    assert replaced.structured_content["sha256"] != first.structured_content["sha256"]
    assert replaced.structured_content["cache"]["raw"] == "miss"


async def test_a_file_in_the_bevy_folder_the_pipeline_did_not_write_is_not_replaced(
    app: FastMCP, project: Settings
) -> None:
    handmade = project.assets_dir / "sprites" / "item" / "potion.png"
    handmade.parent.mkdir(parents=True)
    handmade.write_bytes(b"hand-drawn")
    async with Client(app) as client:
        with pytest.raises(ToolError, match=r"sprites/item/potion\.png already exists in the Bevy assets folder"):
            await client.call_tool("generate_sprite", {"prompt": "potion", "category": "item", "name": "potion"})
        derived = await client.call_tool("generate_sprite", {"prompt": "potion", "category": "item"})
    assert handmade.read_bytes() == b"hand-drawn"
    assert derived.structured_content["name"] == "potion-2"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"name": "../../etc/passwd"}, "name"),
        ({"name": "/abs"}, "name"),
        ({"name": "a/b"}, "name"),
        ({"name": ".."}, "name"),
        ({"name": "Goblin"}, "name"),
        ({"size": "1000x3"}, "size"),
        ({"size": "2x2"}, "size"),
        ({"steps": 0}, "steps"),
        ({"palette": "rainbow"}, "palette"),
        ({"palette": ["#fff"]}, "palette"),
        ({"category": "dragon"}, "category"),
        ({"prompt": ""}, "prompt"),
        ({"outline": "red"}, "outline"),
        ({"wait_seconds": 10_000}, "wait_seconds"),
    ],
)
async def test_bad_arguments_name_the_field_and_write_nothing(
    app: FastMCP, project: Settings, arguments: dict, field: str
) -> None:
    before = files_under(project.project_dir.parent)
    async with Client(app) as client:
        with pytest.raises(ToolError) as err:
            await client.call_tool("generate_sprite", {"prompt": "goblin", "category": "enemy", **arguments})
    message = str(err.value)
    assert f"{field}:" in message, message
    assert "Traceback" not in message
    assert files_under(project.project_dir.parent) - before <= {"game/.sprites/state/mcp-audit.jsonl"}


async def test_a_spec_that_breaks_the_set_is_removed_again(app: FastMCP, project: Settings) -> None:
    (project.specs_dir / "enemies" / "warlord.yaml").write_text(
        "name: warlord\ncategory: enemy\nprompt: orc warlord\noutput:\n  path: sprites/enemy/orc.png\n"
    )
    async with Client(app) as client:
        with pytest.raises(ToolError, match=r"output path 'sprites/enemy/orc\.png' is also used by sprite 'warlord'"):
            await client.call_tool("generate_sprite", {"prompt": "orc", "category": "enemy", "name": "orc"})
    assert not (project.specs_dir / "mcp" / "orc.yaml").exists()


async def test_generate_batch_reports_each_prompt(app: FastMCP, project: Settings) -> None:
    async with Client(app) as client:
        result = await client.call_tool(
            "generate_batch",
            {
                "category": "item",
                "sprites": [
                    {"prompt": "golden key"},
                    {"prompt": "cursed ring", "palette": "rainbow"},
                    {"prompt": "goblin", "name": "goblin", "category": "enemy"},
                    {"prompt": "blue gem", "size": "16x16", "palette": "db16"},
                ],
            },
        )
        with pytest.raises(ToolError, match="sprites"):
            await client.call_tool("generate_batch", {"sprites": [{"prompt": f"p{i}"} for i in range(21)]})
    data = result.structured_content
    assert (data["succeeded"], data["failed"]) == (2, 2)
    by_index = {item["index"]: item for item in data["items"]}
    assert by_index[0]["name"] == "golden-key" and by_index[0]["status"] == "built"
    assert by_index[1]["status"] == "rejected" and "palette:" in by_index[1]["error"]
    assert by_index[2]["status"] == "rejected" and "already exists" in by_index[2]["error"]
    assert by_index[3]["sprite"]["size"] == "16x16" and by_index[3]["sprite"]["run_id"] == data["run_id"]
    assert len([c for c in result.content if c.type == "image"]) == 2
    assert sorted(p.name for p in (project.specs_dir / "mcp").iterdir()) == ["blue-gem.yaml", "golden-key.yaml"]


async def test_materialize_by_name_and_by_dagster_selection(app: FastMCP, project: Settings) -> None:
    async with Client(app) as client:
        first = (await client.call_tool("materialize", {"sprites": ["sli*"]})).structured_content
        again = (await client.call_tool("materialize", {"sprites": ["slime"]})).structured_content
        group = (await client.call_tool("materialize", {"selection": "group:enemy"})).structured_content
        by_key = (await client.call_tool("materialize", {"selection": 'key:"slime/*"'})).structured_content
        with pytest.raises(ToolError, match=r"selects no asset; a sprite's asset keys are <name>/<name>_render"):
            await client.call_tool("materialize", {"selection": 'key:"raw/slime"'})  # a key before the renaming
        with pytest.raises(ToolError, match="did you mean slime"):
            await client.call_tool("materialize", {"sprites": ["slim"]})
        with pytest.raises(ToolError, match="selection:"):
            await client.call_tool("materialize", {"selection": "bogus::"})
        with pytest.raises(ToolError, match="sprites or selection"):
            await client.call_tool("materialize", {})
    assert first["status"] == "success" and first["launched_via"] == "in-process"
    assert [(s["name"], s["status"], s["cache"]["raw"]) for s in first["sprites"]] == [("slime", "built", "miss")]
    assert again["status"] == "nothing to do" and again["up_to_date"] == ["slime"] and again["run_id"] is None
    assert group["status"] == "success" and [s["name"] for s in group["sprites"]] == ["goblin"]
    assert group["up_to_date"] == ["slime"]
    assert by_key["status"] == "nothing to do" and by_key["up_to_date"] == ["slime"]


async def test_list_sprites_shows_up_to_date_stale_missing_and_failed(app: FastMCP, project: Settings) -> None:
    blocked = project.assets_dir / "sprites" / "enemy" / "goblin.png"
    blocked.mkdir(parents=True)  # a folder where the PNG must go: the export step fails
    async with Client(app) as client:
        run = (await client.call_tool("materialize", {"sprites": ["goblin", "slime"]})).structured_content
        slime = project.specs_dir / "enemies" / "slime.yaml"
        slime.write_text(slime.read_text().replace("seed: 77", "seed: 78"))
        (project.specs_dir / "enemies" / "bat.yaml").write_text("name: bat\ncategory: enemy\nprompt: bat\n")
        listing = (await client.call_tool("list_sprites", {})).structured_content
        only_failed = (await client.call_tool("list_sprites", {"status": "failed"})).structured_content
    assert run["status"] == "failure"
    rows = {r["name"]: r for r in listing["sprites"]}
    assert rows["goblin"]["status"] == "failed" and "goblin.png" in rows["goblin"]["reason"]
    assert rows["slime"]["status"] == "stale" and "seed" in rows["slime"]["reason"]
    assert rows["bat"]["status"] == "missing"
    assert listing["counts"] == {"failed": 1, "stale": 1, "missing": 1}
    assert [r["name"] for r in only_failed["sprites"]] == ["goblin"]


async def test_sprite_status_shows_lineage_and_the_run(app: FastMCP, project: Settings) -> None:
    async with Client(app) as client:
        built = (
            await client.call_tool("generate_sprite", {"prompt": "cave bat", "category": "enemy"})
        ).structured_content
        status = (await client.call_tool("sprite_status", {"name": "cave-bat"})).structured_content
        with pytest.raises(ToolError, match="did you mean"):
            await client.call_tool("sprite_status", {"name": "cave-bot"})
    assert status["status"] == "up to date" and status["spec_file"] == "sprite_specs/mcp/cave-bat.yaml"
    stages = ["cave-bat/cave-bat_render", "cave-bat/cave-bat_pixel_art", "cave-bat/cave-bat_bevy"]
    assert status["asset_keys"] == [*stages, "bevy/manifest"]
    assert status["current_keys"] == status["recorded_keys"]
    assert {m["asset_key"]: m["run_id"] for m in status["materializations"]} == dict.fromkeys(stages, built["run_id"])
    last = status["last_run"]
    assert last["run_id"] == built["run_id"] and last["status"] == "SUCCESS"
    assert (last["source"], last["launched_via"], last["sprites"]) == ("mcp", "in-process", ["cave-bat"])


async def test_view_sprite_and_the_resources(app: FastMCP, project: Settings) -> None:
    async with Client(app) as client:
        with pytest.raises(ToolError, match="has not been built yet"):
            await client.call_tool("view_sprite", {"name": "slime"})
        with pytest.raises(McpError, match="no manifest yet"):
            await client.read_resource("sprites://manifest.json")
        await client.call_tool("materialize", {"sprites": ["slime"]})
        view = await client.call_tool("view_sprite", {"name": "slime", "upscale": 2})
        png = await client.read_resource("sprite://slime")
        manifest = await client.read_resource("sprites://manifest.json")
        schema = await client.read_resource("sprites://sprite-spec.schema.json")
        with pytest.raises(McpError):
            await client.read_resource("sprite://..%2F..%2Fetc")
        with pytest.raises(ToolError, match="name:"):
            await client.call_tool("view_sprite", {"name": "../slime"})
    data = view.structured_content
    slime = (project.assets_dir / "sprites" / "enemy" / "slime.png").read_bytes()
    assert (data["width"], data["height"], data["frames"], data["shown_scale"]) == (64, 64, 4, 2)
    assert data["sha256"] == hashlib.sha256(slime).hexdigest()
    image = next(c for c in view.content if c.type == "image")
    assert png_size(base64.b64decode(image.data)) == (128, 128)
    assert base64.b64decode(png[0].blob) == slime and png[0].mime_type == "image/png"
    assert json.loads(manifest[0].text)["sprites"][0]["name"] == "slime"
    assert "prompt" in json.loads(schema[0].text)["properties"]


async def test_a_run_past_the_wait_bound_returns_a_run_id_that_sprite_status_follows(
    app: FastMCP, project: Settings
) -> None:
    async with Client(app) as client:
        started = (
            await client.call_tool("generate_sprite", {"prompt": "lava slug", "category": "enemy", "wait_seconds": 0})
        ).structured_content
        followed = (
            await client.call_tool(
                "sprite_status", {"name": "lava-slug", "run_id": started["run_id"], "wait_seconds": 60}
            )
        ).structured_content
        with pytest.raises(ToolError, match="run_id"):
            await client.call_tool("sprite_status", {"name": "lava-slug", "run_id": "no-such-run"})
    assert started["status"] in ("queued", "running") and started["run_id"]
    assert "sprite_status" in started["message"]
    assert followed["status"] == "up to date" and followed["active_run"] is None
    assert followed["last_run"]["status"] == "SUCCESS"


async def test_cancel_run_stops_a_queued_and_a_running_run(
    app: FastMCP, service: BuildService, project: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import anyio

    from pipeline.core.generate.procedural import ProceduralBackend
    from pipeline.errors import GenerationCancelled

    release = threading.Event()
    generating: list[str] = []
    cancelled: list[str] = []
    original = ProceduralBackend.generate

    def slow_generate(self, request, progress=None, cancel=None):  # type: ignore[no-untyped-def]
        """A long render that honours the run's cancel event, as the real backends do."""
        generating.append(request.sprite)
        while not release.wait(0.01):
            if cancel is not None and cancel.is_set():
                cancelled.append(request.sprite)
                raise GenerationCancelled(f"{request.sprite}: generation cancelled")
        return original(self, request, progress, cancel)

    monkeypatch.setattr(ProceduralBackend, "generate", slow_generate)
    async with Client(app) as client:
        running = (await client.call_tool("materialize", {"sprites": ["goblin"], "wait_seconds": 0})).structured_content
        queued = (await client.call_tool("materialize", {"sprites": ["slime"], "wait_seconds": 0})).structured_content
        assert queued["status"] == "queued" and queued["run_id"].startswith("job-")
        cancel_queued = (await client.call_tool("cancel_run", {"run_id": queued["run_id"]})).structured_content
        job = service.find(running["run_id"])
        assert job is not None
        while not generating:  # the run's step is inside the backend
            await anyio.sleep(0.05)
        assert job.run_id is not None
        cancel_running = (await client.call_tool("cancel_run", {"run_id": job.run_id})).structured_content
        job.done.wait(30)
        release.set()
        with pytest.raises(ToolError, match="no run"):
            await client.call_tool("cancel_run", {"run_id": "nope"})
    assert cancel_queued["status"] == "canceled"
    assert service.find(queued["run_id"]).state == "canceled"
    assert cancel_running["status"] == "canceling" and cancel_running["launched_via"] == "in-process"
    assert job.state == "canceled"
    assert cancelled == ["goblin"]  # the backend was handed the run's cancel event, and it was set
    assert service.instance().get_run_by_id(job.run_id).status.value == "CANCELED"
    assert not (project.assets_dir / "sprites" / "enemy" / "goblin.png").exists()


async def test_deploy_to_bevy_checks_its_picture(app: FastMCP, project: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "outside.png"
    Image.new("RGBA", (64, 64), (255, 0, 0, 255)).save(outside)
    inside = project.project_dir / "art" / "hero.png"
    inside.parent.mkdir()
    art = Image.new("RGBA", (32, 32), (0, 0, 255, 255))
    ImageDraw.Draw(art).rectangle((8, 6, 23, 25), fill=(255, 200, 0, 255))
    art.resize((64, 64), Image.Resampling.NEAREST).save(inside)
    base = {"name": "hero", "category": "character"}
    async with Client(app) as client:
        for extra, message in [
            ({"image_path": str(outside)}, "outside the project folder"),
            ({"image_path": "../outside.png"}, "outside the project folder"),
            ({}, "exactly one"),
            ({"image_path": "art/hero.png", "image_base64": "AAAA"}, "exactly one"),
            ({"image_base64": "not base64!"}, "image_base64: not valid base64"),
            ({"image_base64": base64.b64encode(b"plain text").decode()}, "not a readable picture"),
            ({"image_path": "art/missing.png"}, "cannot read"),
        ]:
            with pytest.raises(ToolError, match=message):
                await client.call_tool("deploy_to_bevy", {**base, **extra})
        if not import_backend_available():
            with pytest.raises(ToolError, match="'image' generation backend"):
                await client.call_tool("deploy_to_bevy", {**base, "image_path": "art/hero.png"})
            assert not (project.specs_dir / "mcp").exists()
            return
        result = (await client.call_tool("deploy_to_bevy", {**base, "image_path": "art/hero.png"})).structured_content
    assert result["status"] == "built" and result["spec_file"] == "sprite_specs/mcp/hero.yaml"
    assert (project.specs_dir / "mcp" / "images" / "hero.png").is_file()
    assert Path(result["png_path"]).is_file()


async def test_unexpected_failures_are_masked_and_logged(
    app: FastMCP, project: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals at /root/.ssh")

    from pipeline.faces.mcp.operations import SpriteOperations

    monkeypatch.setattr(SpriteOperations, "list_sprites", broken)
    async with Client(app) as client:
        result = await client.call_tool("list_sprites", {}, raise_on_error=False)
        await client.call_tool("list_sprites", {"sprites": ["../x"]}, raise_on_error=False)
    assert result.is_error and "secret" not in result.content[0].text
    lines = [json.loads(line) for line in (project.state_dir / "mcp-audit.jsonl").read_text().splitlines()]
    assert [(line["tool"], line["outcome"]) for line in lines] == [
        ("list_sprites", "unexpected RuntimeError"),
        ("list_sprites", "invalid arguments"),
    ]


async def test_the_image_backend_reads_the_picture_as_the_render(project: Settings) -> None:
    from pipeline.core.generate.image import ImageFileBackend
    from pipeline.core.specs import SpriteSpec
    from pipeline.errors import GenerationError, SpecError

    picture = project.project_dir / "art" / "orb.png"
    picture.parent.mkdir()
    Image.new("RGBA", (80, 64), (0, 200, 0, 255)).save(picture)
    backend = ImageFileBackend(project)
    spec = SpriteSpec.model_validate(
        {"name": "orb", "category": "item", "prompt": "orb", "generation": {"init_image": "art/orb.png"}}
    )
    request = backend.resolve(spec, project)
    assert (request.width, request.height, request.frames) == (80, 64, 1)
    assert backend.generate(request).frames == [picture.read_bytes()]
    Image.new("RGBA", (80, 64), (200, 0, 0, 255)).save(picture)
    assert backend.resolve(spec, project).key != request.key  # a new picture is a new render
    with pytest.raises(GenerationError, match="changed while building"):
        backend.generate(request)
    escaping = spec.model_copy(update={"generation": spec.generation.model_copy(update={"init_image": "../x.png"})})
    with pytest.raises(SpecError, match=r"init_image '\.\./x\.png' is not allowed"):
        backend.resolve(escaping, project)


async def test_nothing_is_written_while_the_project_specs_are_invalid(app: FastMCP, project: Settings) -> None:
    (project.specs_dir / "enemies" / "broken.yaml").write_text("name: broken\ncategory: enemy\npromt: typo\n")
    async with Client(app) as client:
        with pytest.raises(ToolError, match=r"(?s)must be valid.*broken\.yaml.*did you mean 'prompt'"):
            await client.call_tool("generate_sprite", {"prompt": "imp", "category": "enemy"})
    assert not (project.specs_dir / "mcp").exists()
