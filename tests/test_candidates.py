"""Candidates end to end through Dagster with the `sprites` command: render N seeds, pick one from the CLI,
the spec file changes to the chosen seed, the next build renders nothing, the lock records the choice.
On the procedural backend and against the ComfyUI-protocol server on 127.0.0.1."""

from __future__ import annotations

import difflib
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from pipeline.faces.cli import main
from pipeline.settings import Settings
from pipeline.state.cache import ContentCache
from tests.comfyui_server import FakeComfyServer
from tests.conftest import make_project

pytestmark = pytest.mark.slow

GOBLIN = """\
# yaml-language-server: $schema=sprite-spec.schema.json
name: goblin
category: enemy
size: 16x16
seed: 500
prompt: "pixel art green goblin with a rusty dagger"   # what to draw
candidates: 3   # render three seeds, pick one
"""
BAT = """\
name: bat
category: enemy
size: 16x16
prompt: "pixel art purple bat"
candidates:
  count: 2
  publish: none   # nothing ships until someone picks
"""
SLIME = "name: slime\ncategory: enemy\nsize: 16x16\nprompt: green slime\n"


def _cli(settings: Settings, *args: str, url: str | None = None) -> tuple[int, str]:
    env = {"SPRITES_COMFYUI_URL": url or ""}
    result = CliRunner().invoke(main, [*args, "--project-dir", str(settings.project_dir)], env=env)
    return result.exit_code, result.output


def _lock(settings: Settings) -> dict:
    return json.loads((settings.project_dir / "sprites.lock").read_text())["sprites"]


def _manifest(settings: Settings) -> dict[str, dict]:
    data = json.loads((settings.assets_dir / "sprites/manifest.json").read_text())
    return {e["name"]: e for e in data["sprites"]}


def _renders(settings: Settings) -> set[str]:
    return set(ContentCache(settings.cache_dir).keys("generate"))


def test_render_pick_from_the_cli_rebuild_without_rendering(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path / "game", {"goblin.yaml": GOBLIN, "slime.yaml": SLIME}, copy_samples=False)
    code, out = _cli(settings, "build")
    assert code == 0 and "2 built" in out, out
    renders = _renders(settings)
    assert len(renders) == 4  # three goblin candidates, each under its own key, and the slime
    locked = _lock(settings)
    assert locked["goblin"]["candidates"] == {"seeds": [500, 501, 502], "picked": None}
    assert "candidates" not in locked["slime"]  # sprites without candidates: their lock entries as before
    assert _manifest(settings)["goblin"]["seed"] == 500  # publish: first (the default) ships candidate 0

    code, out = _cli(settings, "pick", "goblin")
    assert code == 0, out
    previews = [Path(p) for p in out.split() if p.endswith(".png")]
    assert [p.name for p in previews] == [
        f"{i}-seed{500 + i}{kind}.png" for i in range(3) for kind in ("", "-pixel")
    ], out
    cache = ContentCache(settings.cache_dir)
    stored = {next(iter(cache.get("generate", k).files.values())) for k in renders}  # type: ignore[union-attr]
    assert all(p.read_bytes() in stored for p in previews[::2])  # the renders, as cached
    assert len({p.read_bytes() for p in previews[::2]}) == 3
    for pixel in previews[1::2]:  # and the pixel art each becomes: 16x16, the sprite's size
        with Image.open(pixel) as image:
            assert image.size == (16, 16)

    before = (settings.specs_dir / "goblin.yaml").read_text()
    code, out = _cli(settings, "pick", "goblin", "2")
    assert code == 0 and "candidates.picked: 502" in out, out
    after = (settings.specs_dir / "goblin.yaml").read_text()
    changed = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert changed == [
        "- candidates: 3   # render three seeds, pick one",
        "+ candidates: {count: 3, picked: 502}   # render three seeds, pick one",
    ]

    code, out = _cli(settings, "build")
    assert code == 0 and "1 built, 1 up to date" in out, out
    assert _renders(settings) == renders  # picking rendered nothing: candidate 2 was in the cache
    assert _lock(settings)["goblin"]["candidates"] == {"seeds": [500, 501, 502], "picked": 502}
    assert _lock(settings)["goblin"]["entry"]["seed"] == _manifest(settings)["goblin"]["seed"] == 502
    code, out = _cli(settings, "build")
    assert code == 0 and "0 built, 2 up to date" in out, out
    code, out = _cli(settings, "check", "--locked")
    assert code == 0, out

    # what ships is exactly what the chosen seed draws: a plain spec with seed 502 builds the same PNG
    plain = make_project(tmp_path / "plain", {"goblin.yaml": GOBLIN.replace("seed: 500", "seed: 502").split("cand")[0]},
                         copy_samples=False)  # fmt: skip
    assert _cli(plain, "build")[0] == 0
    png = "sprites/enemy/goblin.png"
    assert (settings.assets_dir / png).read_bytes() == (plain.assets_dir / png).read_bytes()

    # picking candidate 0 again changes only the record, and again renders nothing
    code, out = _cli(settings, "pick", "goblin", "0", "--build")
    assert code == 0 and "1 built" in out, out
    assert _renders(settings) == renders and _lock(settings)["goblin"]["candidates"]["picked"] == 500


def test_pick_errors_name_the_spec_file_and_field(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path / "game", {"goblin.yaml": GOBLIN, "slime.yaml": SLIME}, copy_samples=False)
    spec = settings.specs_dir / "goblin.yaml"
    code, out = _cli(settings, "pick", "goblin", "3")
    assert code == 1 and "Traceback" not in out
    # the line is that of `candidates:` in the file (line 7; the sprite starts on line 2)
    assert "error: goblin.yaml:7: sprite 'goblin': field 'candidates.picked': there is no candidate 3" in out
    assert "it has 3 (0 to 2" in out
    code, out = _cli(settings, "pick", "slime", "0")
    assert code == 1 and "slime.yaml:1: sprite 'slime': field 'candidates': has no candidates" in out, out
    code, out = _cli(settings, "pick", "slime")
    assert code == 1 and "has no candidates" in out, out
    code, out = _cli(settings, "pick", "orc", "0")
    assert code == 1 and "no sprite named 'orc'; sprites with candidates: goblin" in out, out
    os.chmod(spec, 0o444)
    code, out = _cli(settings, "pick", "goblin", "1")
    assert code == 1 and "field 'candidates.picked'" in out and "read-only (mode 444)" in out, out
    assert "set `picked: 501` under candidates yourself" in out
    assert spec.read_text() == GOBLIN and stat.S_IMODE(spec.stat().st_mode) == 0o444
    os.chmod(spec, 0o644)
    code, out = _cli(settings, "pick", "goblin", "1")
    assert code == 0 and stat.S_IMODE(spec.stat().st_mode) == 0o644  # the file keeps its mode


def test_publish_none_ships_nothing_until_a_pick(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path / "game", {"bat.yaml": BAT, "slime.yaml": SLIME}, copy_samples=False)
    code, out = _cli(settings, "build")
    assert code == 0 and "1 built, 0 up to date, 1 awaiting a pick (`sprites pick NAME`)" in out, out
    assert len(_renders(settings)) == 3  # both bat candidates are rendered, for a person to pick from
    assert set(_manifest(settings)) == {"slime"} and "bat" not in _lock(settings)
    assert not (settings.assets_dir / "sprites/enemy/bat.png").exists()
    code, out = _cli(settings, "check", "--locked")
    assert code == 1 and "bat: missing: awaiting a pick among its 2 candidates" in out, out
    code, out = _cli(settings, "pick", "bat", "1", "--build")
    assert code == 0 and "1 built" in out, out
    bat = _lock(settings)["bat"]
    assert bat["candidates"]["picked"] == bat["candidates"]["seeds"][1] == _manifest(settings)["bat"]["seed"]
    assert len(_renders(settings)) == 3
    with Image.open(settings.assets_dir / "sprites/enemy/bat.png") as image:
        assert image.size == (16, 16)
    assert _cli(settings, "check", "--locked")[0] == 0


COMFY = """\
name: ghost
category: enemy
size: 16x16
seed: 7
prompt: pixel art ghost
generation: {backend: comfyui, steps: 4, render_scale: 8}
candidates: 4
"""


def test_candidates_on_the_comfyui_server_each_rendered_once(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path / "game", {"ghost.yaml": COMFY}, copy_samples=False)
    with FakeComfyServer(latency=0.05) as server:
        code, out = _cli(settings, "build", url=server.url)
        assert code == 0 and "1 built" in out, out
        assert len(server.executions()) == 4  # one job per candidate seed
        code, out = _cli(settings, "build", url=server.url)
        assert "0 built, 1 up to date" in out and len(server.executions()) == 4
        code, out = _cli(settings, "pick", "ghost", "3", url=server.url)
        assert code == 0 and "candidates.picked: 10" in out, out
        code, out = _cli(settings, "build", url=server.url)
        assert code == 0 and "1 built" in out, out
        assert len(server.executions()) == 4  # the pick was a cache hit: no job sent to the server
        code, out = _cli(settings, "build", url=server.url)
        assert "0 built, 1 up to date" in out and len(server.executions()) == 4
    assert _lock(settings)["ghost"]["candidates"] == {"seeds": [7, 8, 9, 10], "picked": 10}
    assert _manifest(settings)["ghost"]["seed"] == 10
    assert _cli(settings, "check", "--locked")[0] == 0
    # `cache gc` keeps every candidate while the spec has `candidates` (changing the pick stays instant)
    assert _cli(settings, "cache", "gc")[0] == 0 and len(_renders(settings)) == 4
    # and offline, from the cache alone
    (settings.assets_dir / "sprites/enemy/ghost.png").unlink()
    code, out = _cli(settings, "build", "--offline")
    assert code == 0 and "1 built" in out, out


def test_offline_lists_the_candidate_renders_it_lacks_up_front(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path / "game", {"ghost.yaml": COMFY}, copy_samples=False)
    code, out = _cli(settings, "build", "--offline")
    assert code == 1 and "--offline: 4 render(s) are not in the cache" in out, out
    assert out.count("ghost (comfyui candidate render") == 3 and "ghost (comfyui render" in out
