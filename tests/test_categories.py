"""Project-defined categories, end to end: _defaults.yaml -> specs, JSON Schema, CLI, Dagster groups,
Bevy folders, and the MCP tools' schemas (through an in-memory fastmcp Client)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from fastmcp import Client
from fastmcp.exceptions import ToolError

from pipeline.core.specs import DEFAULT_CATEGORIES, load_specs, read_categories
from pipeline.defs.asset_keys import STAGES, sprite_key
from pipeline.defs.location import build_definitions
from pipeline.errors import SpecError
from pipeline.faces.cli import main
from pipeline.settings import Settings
from tests.conftest import REPO
from tests.mcp_support import mcp_server

GAME_CATEGORIES = ["hero", "npc", "vfx", "weapon"]
DEFAULTS = (
    "categories: [hero, npc, vfx, weapon]\n"
    "defaults:\n  size: 16x16\n  palette: pico-8\n  generation: {backend: procedural, render_scale: 8}\n"
)
SPECS = {
    "people/villager.yaml": "name: villager\ncategory: npc\nprompt: pixel art villager in a green tunic\n",
    "fx/spark.yaml": "name: spark\ncategory: vfx\nprompt: pixel art magic spark burst\n",
}


def _project(root: Path, defaults: str = DEFAULTS, specs: dict[str, str] | None = None) -> Settings:
    specs_dir = root / "sprite_specs"
    specs_dir.mkdir(parents=True)
    (specs_dir / "_defaults.yaml").write_text(defaults)
    for rel, text in (SPECS if specs is None else specs).items():
        (specs_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (specs_dir / rel).write_text(text)
    return Settings.for_project(root)


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--project-dir", str(settings.project_dir)])
    return result.exit_code, result.output


def test_specs_take_the_projects_categories_and_refuse_others_naming_file_line_and_list(tmp_path: Path) -> None:
    settings = _project(tmp_path / "ok")
    spec_set = load_specs(settings.specs_dir)
    assert spec_set.categories.names == tuple(GAME_CATEGORIES) and spec_set.categories.default == "hero"
    assert {s.name: s.spec.output_path for s in spec_set} == {
        "spark": "sprites/vfx/spark.png",
        "villager": "sprites/npc/villager.png",
    }
    bad = _project(tmp_path / "bad", specs={**SPECS, "e/orc.yaml": "name: orc\nprompt: an orc\ncategory: enemy\n"})
    with pytest.raises(SpecError) as info:
        load_specs(bad.specs_dir)
    [problem] = info.value.problems
    assert (problem.file, problem.line, problem.field) == ("e/orc.yaml", 3, "category")
    assert "unknown category 'enemy'" in problem.message
    assert "allowed: hero, npc, vfx, weapon ('categories' in _defaults.yaml)" in problem.message


def test_without_a_list_a_project_gets_the_default_categories(tmp_path: Path) -> None:
    defaults = "defaults:\n  size: 16x16\n"
    settings = _project(tmp_path, defaults, {"a.yaml": "name: a\ncategory: portrait\nprompt: a face\n"})
    spec_set = load_specs(settings.specs_dir)
    assert spec_set.categories.names == DEFAULT_CATEGORIES and not spec_set.categories.declared
    assert spec_set.categories.default == "prop"
    broken = _project(tmp_path / "b", defaults, {"a.yaml": "name: a\ncategory: npcs\nprompt: a face\n"})
    with pytest.raises(SpecError, match=r"unknown category 'npcs' \(did you mean 'npc'\?\); allowed: prop, "):
        load_specs(broken.specs_dir)


@pytest.mark.parametrize(
    ("defaults", "line", "fragment"),
    [
        ("categories: []\n", 1, "'categories' must be a non-empty list"),
        ("categories: hero\n", 1, "'categories' must be a non-empty list"),
        ("categories:\n  - hero\n  - Bad-Name\n", 3, "category 'Bad-Name' must be a lowercase name"),
        ("categories:\n  - hero\n  - hero\n", 3, "category 'hero' is listed twice"),
        ("categories: [hero]\ndefaults:\n  category: villain\n", 3, "unknown category 'villain'; allowed: hero"),
        ("categories: [hero]\ncategoriez: [x]\n", 2, "must be a mapping of 'defaults' and 'categories'"),
    ],
)
def test_a_bad_category_list_is_reported_in_defaults_yaml(
    tmp_path: Path, defaults: str, line: int, fragment: str
) -> None:
    settings = _project(tmp_path, defaults, {})
    with pytest.raises(SpecError) as info:
        load_specs(settings.specs_dir)
    assert any(p.file == "_defaults.yaml" and p.line == line and fragment in p.message for p in info.value.problems), [
        str(p) for p in info.value.problems
    ]
    code, out = _cli(settings, "check")
    assert code == 2 and f"_defaults.yaml:{line}" in out and "Traceback" not in out


def test_schema_lists_the_projects_categories_and_validates_its_files(tmp_path: Path) -> None:
    settings = _project(tmp_path)
    code, out = _cli(settings, "schema")
    assert code == 0, out
    schema = json.loads(out)
    assert schema["$defs"]["Sprite"]["properties"]["category"]["enum"] == GAME_CATEGORIES
    code, out = _cli(settings, "schema", "--write")
    assert code == 0 and json.loads((settings.specs_dir / "sprite-spec.schema.json").read_text()) == schema
    validator = jsonschema.Draft7Validator(schema)
    for path in settings.specs_dir.rglob("*.yaml"):
        assert not list(validator.iter_errors(yaml.safe_load(path.read_text()))), path
    assert list(validator.iter_errors({"name": "x", "category": "enemy", "prompt": "p"}))
    # the committed schema is the sample project's: its categories, as `sprites schema --write` wrote it
    committed = json.loads((REPO / "sprite_specs" / "sprite-spec.schema.json").read_text())
    enum = committed["$defs"]["Sprite"]["properties"]["category"]["enum"]
    assert enum == list(read_categories(REPO / "sprite_specs").names)
    samples = jsonschema.Draft7Validator(committed)
    for path in (REPO / "sprite_specs").rglob("*.yaml"):
        assert not list(samples.iter_errors(yaml.safe_load(path.read_text()))), path


def test_cli_category_choice_is_the_projects(tmp_path: Path) -> None:
    settings = _project(tmp_path)
    code, out = _cli(settings, "list", "--category", "vfx", "--json")
    assert code == 0, out
    assert [row["name"] for row in json.loads(out)] == ["spark"]
    code, out = _cli(settings, "list", "--category", "enemy")
    assert code == 2 and "unknown category 'enemy'" in out and "hero, npc, vfx, weapon" in out


@pytest.mark.slow
def test_categories_are_dagster_groups_and_bevy_folders(tmp_path: Path, dagster_home: Path) -> None:
    settings = _project(tmp_path)
    graph = build_definitions(settings).resolve_asset_graph()
    for stage in STAGES:
        assert graph.get(sprite_key("villager", stage)).group_name == "npc"
        assert graph.get(sprite_key("spark", stage)).group_name == "vfx"
    code, out = _cli(settings, "build")
    assert code == 0, out
    assert (settings.assets_dir / "sprites/npc/villager.png").is_file()
    assert (settings.assets_dir / "sprites/vfx/spark.png").is_file()
    manifest = json.loads((settings.assets_dir / "sprites/manifest.json").read_text())
    assert {e["name"]: e["category"] for e in manifest["sprites"]} == {"spark": "vfx", "villager": "npc"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_mcp_tool_schemas_list_the_projects_categories_with_a_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _project(tmp_path / "game")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    async with Client(mcp_server(settings, dagster_home=home)) as client:
        tools = {t.name: t.input_schema for t in await client.list_tools()}
        for name in ("generate_sprite", "deploy_to_bevy", "generate_batch"):
            category = tools[name]["properties"]["category"]
            assert (category["enum"], category["default"]) == (GAME_CATEGORIES, "hero"), name
            assert "category" not in tools[name].get("required", [])
        batch = tools["generate_batch"]
        items = batch["properties"]["sprites"]["items"]
        if "$ref" in items:  # fastmcp may inline $defs or not
            items = batch["$defs"][items["$ref"].split("/")[-1]]
        batch_item = items["properties"]["category"]
        assert batch_item["anyOf"][0]["enum"] == GAME_CATEGORIES and batch_item["default"] is None
        assert tools["list_sprites"]["properties"]["category"]["anyOf"][0]["enum"] == GAME_CATEGORIES
        assert "x-sprites-category" not in json.dumps(tools)

        made = await client.call_tool("generate_sprite", {"prompt": "old sage", "wait_seconds": 120})
        assert made.structured_content["asset_path"] == "sprites/hero/old-sage.png"
        with pytest.raises(ToolError, match=r"category: unknown category 'enemy'; allowed: hero, npc, vfx, weapon"):
            await client.call_tool("generate_sprite", {"prompt": "orc", "category": "enemy"})
        with pytest.raises(ToolError, match=r"category: unknown category 'enemy'"):
            await client.call_tool("list_sprites", {"category": "enemy"})
        listed = await client.call_tool("list_sprites", {"category": "npc"})
        assert [row["name"] for row in listed.structured_content["sprites"]] == ["villager"]

        # the list is read per listing: a category added to _defaults.yaml shows at once
        (settings.specs_dir / "_defaults.yaml").write_text(DEFAULTS.replace("weapon]", "weapon, portrait]"))
        tools = {t.name: t.input_schema for t in await client.list_tools()}
        assert tools["generate_sprite"]["properties"]["category"]["enum"] == [*GAME_CATEGORIES, "portrait"]
