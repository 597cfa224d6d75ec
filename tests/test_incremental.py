"""Caching and incremental builds: what each spec edit invalidates, the lockfile, the no-op fast path."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.core.generate import GenerationRequest, make_backend
from pipeline.core.specs import LoadedSpec, load_specs
from pipeline.faces.cli import main
from pipeline.settings import Settings
from pipeline.state.cache import ContentCache
from pipeline.state.lockfile import read_lock
from pipeline.state.publish import publish
from pipeline.state.stages import export_stage, generate_stage, pixelate_stage
from pipeline.state.status import SpriteState, sprite_state
from tests.conftest import REPO, assert_bevy_folder_consistent, make_project, sprites_cmd

GOBLIN = "name: goblin\ncategory: enemy\nprompt: a green goblin\nseed: 3\n"


def _build_pure(settings: Settings) -> None:
    """Build every sprite with the stage functions directly (no Dagster): fast setup for plan tests."""
    backend = make_backend("procedural", settings)
    cache = ContentCache(settings.cache_dir)
    built = {}
    for loaded in load_specs(settings.specs_dir):
        req = backend.resolve(loaded.spec, settings)
        raw = generate_stage(req, backend, cache)
        px = pixelate_stage(loaded.spec, raw, cache)
        built[loaded.name] = export_stage(loaded.spec, loaded.file, req, raw, px, settings).locked
    publish(settings, built)


def _state(settings: Settings, loaded: LoadedSpec, request: GenerationRequest) -> SpriteState:
    lock = read_lock(settings)
    return sprite_state(settings, loaded, request, lock.sprites.get(loaded.name) if lock else None)


EDITS = [
    # (edit appended to the spec, expected status, fragment of the reason: which stage reruns first)
    ("", "up to date", ""),
    ("prompt: a red goblin\n", "stale", "generation inputs changed: prompt"),
    ("seed: 4\n", "stale", "generation inputs changed: seed"),
    ("size: 16x16\n", "stale", "generation inputs changed: size"),
    ("generation: {render_scale: 4}\n", "stale", "generation inputs changed: render_scale"),
    ("palette: db16\n", "stale", "pixel settings changed"),
    ("pixel: {outline: '#000000'}\n", "stale", "pixel settings changed"),
    ("pixel: {background: none}\n", "stale", "pixel settings changed"),
    ("output: {path: enemies/goblin.png}\n", "stale", "output path or manifest fields changed"),
    ("negative_prompt: blurry\n", "stale", "output path or manifest fields changed"),
    ("animation: {fps: 4}\n", "stale", "output path or manifest fields changed"),
    ("generation: {steps: 50, cfg: 3}\n", "up to date", ""),  # the procedural backend uses neither
]


@pytest.mark.parametrize(("edit", "status", "reason"), EDITS, ids=[e[0].split(":")[0] or "none" for e in EDITS])
def test_each_spec_edit_invalidates_exactly_its_stage(tmp_path: Path, edit: str, status: str, reason: str) -> None:
    settings = make_project(tmp_path, {"goblin.yaml": GOBLIN}, copy_samples=False)
    _build_pure(settings)
    text = GOBLIN.replace("prompt: a green goblin\n", "") if edit.startswith("prompt") else GOBLIN
    text = text.replace("seed: 3\n", "") if edit.startswith("seed") else text
    (settings.specs_dir / "goblin.yaml").write_text(text + edit)
    loaded = load_specs(settings.specs_dir).specs["goblin"]
    state = _state(settings, loaded, make_backend("procedural", settings).resolve(loaded.spec, settings))
    assert state.status == status
    assert reason in state.reason


def test_other_sprites_do_not_change_a_sprites_keys(tmp_path: Path) -> None:
    settings = make_project(
        tmp_path, {"goblin.yaml": GOBLIN, "orc.yaml": GOBLIN.replace("goblin", "orc")}, copy_samples=False
    )
    _build_pure(settings)
    (settings.specs_dir / "orc.yaml").write_text(GOBLIN.replace("goblin", "orc") + "palette: nes\n")
    spec_set = load_specs(settings.specs_dir)
    backend = make_backend("procedural", settings)
    goblin = spec_set.specs["goblin"]
    assert _state(settings, goblin, backend.resolve(goblin.spec, settings)).status == "up to date"


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--project-dir", str(settings.project_dir)])
    return result.exit_code, result.output


@pytest.mark.slow
def test_palette_edit_reuses_the_render_and_the_lock_tracks_it(project: Settings, dagster_home: Path) -> None:
    assert _cli(project, "build")[0] == 0
    lock = json.loads((project.project_dir / "sprites.lock").read_text())
    assert set(lock["sprites"]) == set(load_specs(project.specs_dir).specs)
    assert _cli(project, "check", "--locked") == (0, _cli(project, "check", "--locked")[1])

    goblin = project.specs_dir / "enemies/goblin.yaml"
    goblin.write_text(goblin.read_text() + "palette: db16\n")
    code, out = _cli(project, "check", "--locked")
    assert code == 1 and "goblin: stale: pixel settings changed" in out
    code, out = _cli(project, "build")
    assert code == 0 and "1 built, 13 up to date" in out
    row = next(line for line in out.splitlines() if "goblin" in line and "built" in line)
    assert row.split("│")[3].strip() == "hit" and row.split("│")[4].strip() == "miss", row  # raw hit, pixel miss
    assert _cli(project, "check", "--locked")[0] == 0

    (project.assets_dir / "sprites/item/gold-coin.png").write_bytes(b"edited by hand")
    code, out = _cli(project, "check", "--locked")
    assert code == 1 and "gold-coin: stale: sprites/item/gold-coin.png was modified in the Bevy folder" in out


@pytest.mark.slow
def test_no_op_build_takes_the_fast_path_without_parsing_specs(
    project: Settings, dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _cli(project, "build")[0] == 0
    assert "0 built, 14 up to date" in _cli(project, "build")[1]  # slow-path no-op saves the fingerprint

    def boom(*_: object) -> None:
        raise AssertionError("the fast path must not parse specs")

    monkeypatch.setattr("pipeline.faces.cli.commands.load_specs", boom)
    code, out = _cli(project, "build")
    assert code == 0 and "0 built, 14 up to date" in out
    goblin = project.specs_dir / "enemies/goblin.yaml"
    goblin.write_text(goblin.read_text())  # same bytes, new mtime: still a no-op
    assert "0 built, 14 up to date" in _cli(project, "build")[1]
    with pytest.raises(AssertionError, match="must not parse"):  # another backend: not the state it recorded
        CliRunner().invoke(
            main, ["build", "--backend", "image", "--project-dir", str(project.project_dir)], catch_exceptions=False
        )
    goblin.write_text(goblin.read_text() + "seed: 99\n")
    with pytest.raises(AssertionError, match="must not parse"):
        CliRunner().invoke(main, ["build", "--project-dir", str(project.project_dir)], catch_exceptions=False)


@pytest.mark.slow
def test_corrupt_cache_entry_is_regenerated(project: Settings, dagster_home: Path) -> None:
    assert _cli(project, "build", "goblin")[0] == 0
    png = (project.assets_dir / "sprites/enemy/goblin.png").read_bytes()
    for frame in (project.cache_dir / "generate").rglob("frame000.png"):
        frame.write_bytes(frame.read_bytes()[:100])  # truncate every cached render
    code, out = _cli(project, "build", "goblin", "--force")
    assert code == 0, out
    row = next(line for line in out.splitlines() if "goblin" in line and "built" in line)
    assert row.split("│")[3].strip() == "miss"
    assert (project.assets_dir / "sprites/enemy/goblin.png").read_bytes() == png


def _mcp_materialize(settings: Settings, names: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The MCP server's `materialize` tool, called in memory (in-process run against the same instance)."""
    import anyio
    from fastmcp import Client

    from tests.mcp_support import mcp_server

    app = mcp_server(settings)

    async def call() -> dict[str, object]:
        async with Client(app) as client:
            result = await client.call_tool("materialize", {"sprites": names, "wait_seconds": 600})
            return dict(result.structured_content or {})

    return anyio.run(call)


@pytest.mark.slow
def test_four_concurrent_builds_of_50_sprites_lose_nothing(
    tmp_path: Path, dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"c{i:02d}" for i in range(80)]
    specs = {f"gen/{n}.yaml": f"name: {n}\ncategory: item\nsize: 16x16\nprompt: concurrent sprite {n}\n" for n in names}
    settings = make_project(tmp_path, specs, copy_samples=False)
    selections = [names[i * 10 : i * 10 + 50] for i in range(4)]  # overlapping, together all 80
    procs = [
        subprocess.Popen(
            sprites_cmd(settings, "build", *sel), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for sel in selections
    ]
    mcp_result = _mcp_materialize(settings, names[25:45], monkeypatch)  # an agent's call, meanwhile
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert mcp_result["status"] in ("success", "nothing to do"), mcp_result
    assert assert_bevy_folder_consistent(settings) == 80  # no lost entry, no torn file
    code, out = _cli(settings, "build")
    assert code == 0 and "0 built, 80 up to date" in out, out  # lock, files and manifest agree
    assert _cli(settings, "check", "--locked")[0] == 0


def test_cache_gc_keeps_exactly_what_current_specs_reference(tmp_path: Path) -> None:
    settings = make_project(tmp_path, {"goblin.yaml": GOBLIN}, copy_samples=False)
    _build_pure(settings)
    cache = ContentCache(settings.cache_dir)
    assert _cli(settings, "cache", "gc")[1].startswith("removed 0 unreferenced")
    (settings.specs_dir / "goblin.yaml").write_text(GOBLIN + "palette: nes\n")
    spec = load_specs(settings.specs_dir).specs["goblin"].spec
    backend = make_backend("procedural", settings)
    current = pixelate_stage(spec, generate_stage(backend.resolve(spec, settings), backend, cache), cache).key
    code, out = _cli(settings, "cache", "gc")
    assert code == 0 and out.startswith("removed 1 unreferenced"), out  # the pico-8 sheet
    assert cache.keys("pixelate") == [current] and len(cache.keys("generate")) == 1
    (settings.specs_dir / "goblin.yaml").write_text(GOBLIN.replace("green", "blue"))
    code, out = _cli(settings, "cache", "gc")
    assert out.startswith("removed 2 unreferenced"), out  # the green render and its sheet
    assert cache.keys("generate") == [] and cache.keys("pixelate") == []
