"""End to end through Dagster: `sprites build` with backend comfyui against a ComfyUI-protocol server on
127.0.0.1, and `--offline` listing the renders it would need a server for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance

from pipeline.defs.asset_keys import sprite_key
from pipeline.faces.cli import main
from pipeline.settings import Settings
from tests.comfyui_server import FakeComfyServer
from tests.conftest import make_project

pytestmark = pytest.mark.slow

SPECS = {
    "comfy.yaml": (
        "defaults:\n  category: enemy\n  size: 16x16\n  generation: {backend: comfyui, steps: 4, render_scale: 8}\n"
        "sprites:\n  - name: bat\n    prompt: pixel art bat\n  - name: rat\n    prompt: pixel art rat\n"
        "    animation: {frames: 2, method: batch}\n"
    )
}


def _cli(settings: Settings, *args: str, url: str | None = None) -> tuple[int, str]:
    env = {"SPRITES_COMFYUI_URL": url} if url else {"SPRITES_COMFYUI_URL": ""}
    result = CliRunner().invoke(main, [*args, "--project-dir", str(settings.project_dir)], env=env)
    return result.exit_code, result.output


def test_build_generates_on_the_comfyui_server(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path, SPECS, copy_samples=False)
    with FakeComfyServer(latency=0.05) as server:
        code, out = _cli(settings, "build", url=server.url)
        assert code == 0, out
        assert "2 built, 0 up to date" in out
        assert len(server.executions()) == 2  # one job per sprite: the 2 rat frames are one batch
        code, out = _cli(settings, "build", url=server.url)
        assert "0 built, 2 up to date" in out and len(server.executions()) == 2  # never the same work twice
    manifest = json.loads((settings.assets_dir / "sprites/manifest.json").read_text())
    assert {(e["name"], e["backend"], e["workflow"], e["frames"]) for e in manifest["sprites"]} == {
        ("bat", "comfyui", "sdxl_pixel_art", 1),
        ("rat", "comfyui", "sdxl_pixel_art", 2),
    }
    record = DagsterInstance.get().get_latest_materialization_event(sprite_key("rat", "raw"))
    assert record is not None
    metadata = record.asset_materialization.metadata  # type: ignore[union-attr]
    assert metadata["backend"].value == "comfyui" and metadata["server_server"].value == server.url
    # a wiped Bevy folder rebuilds offline from the cache: no server needed
    for png in settings.assets_dir.rglob("*.png"):
        png.unlink()
    code, out = _cli(settings, "build", "--offline")
    assert code == 0 and "2 built" in out, out


def test_offline_build_lists_every_missing_render_up_front(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path, SPECS, copy_samples=False)
    code, out = _cli(settings, "build", "--offline")
    assert code == 1
    assert "--offline: 2 render(s) are not in the cache" in out
    assert "bat (comfyui render" in out and "rat (comfyui render" in out
    assert not (settings.assets_dir / "sprites").exists()


def test_unreachable_server_fails_naming_sprite_and_server(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path, {"comfy.yaml": SPECS["comfy.yaml"].split("  - name: rat")[0]}, copy_samples=False)
    code, out = _cli(settings, "build", url="http://127.0.0.1:9")
    assert code == 1
    assert "bat:" in out and "127.0.0.1:9" in out and "Traceback" not in out


def test_concurrent_builds_never_send_the_same_render_twice(tmp_path: Path, dagster_home: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    names = [f"m{i}" for i in range(10)]
    specs = {
        f"{n}.yaml": f"name: {n}\ncategory: enemy\nsize: 16x16\nprompt: pixel art monster {n}\n"
        "generation: {backend: comfyui, steps: 4, render_scale: 8}\n"
        for n in names
    }
    settings = make_project(tmp_path, specs, copy_samples=False)
    selections = [names[0:6], names[2:8], names[4:10], names[0:10:2]]
    with FakeComfyServer(latency=0.2) as server:
        env = {"SPRITES_COMFYUI_URL": server.url, "DAGSTER_HOME": str(dagster_home), "PATH": "/usr/bin:/bin"}
        cmd = [
            sys.executable,
            "-c",
            "from pipeline.faces.cli import run; run()",
            "build",
            "--project-dir",
            str(settings.project_dir),
        ]
        procs = [
            subprocess.Popen(
                [*cmd, *sel], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for sel in selections
        ]
        outputs = [p.communicate(timeout=300)[0] for p in procs]
        assert all(p.returncode == 0 for p in procs), outputs
        assert len(server.executions()) == len(names), outputs  # each render produced exactly once
    manifest = json.loads((settings.assets_dir / "sprites/manifest.json").read_text())
    assert sorted(e["name"] for e in manifest["sprites"]) == names


def test_generation_progress_reaches_the_caller(tmp_path: Path, dagster_home: Path) -> None:
    from pipeline.defs.launch import BuildEvent, run_sprites

    settings = make_project(tmp_path, {"comfy.yaml": SPECS["comfy.yaml"].split("  - name: rat")[0]}, copy_samples=False)
    events: list[BuildEvent] = []
    with FakeComfyServer(latency=0.3) as server:
        outcome = run_sprites(
            settings.model_copy(update={"comfyui_urls": (server.url,)}), ["bat"], on_event=events.append
        )
    assert outcome.success and outcome.sprites["bat"].status == "built"
    progress = [e.message for e in events if e.kind == "progress" and e.sprite == "bat"]
    assert any("%" in m and server.url in m for m in progress), progress  # per-node progress, naming the server
    assert events[-1].kind == "sprite_done"


def test_the_smoke_template_builds_a_real_sprite_on_a_server_without_models(tmp_path: Path, dagster_home: Path) -> None:
    """`smoke_no_models` uses core nodes only: the render has a grid and a figure, so the pixel stage keeps it."""
    from PIL import Image

    specs = {
        "smoke.yaml": (
            "defaults:\n  category: enemy\n  generation: {backend: comfyui, workflow: smoke_no_models}\n"
            "sprites:\n  - {name: blob, prompt: ignored, size: 16x16}\n"
            "  - {name: walker, prompt: ignored, size: 32x32, animation: {frames: 2, method: batch}}\n"
        )
    }
    settings = make_project(tmp_path, specs, copy_samples=False)
    with FakeComfyServer(models={"checkpoints": [], "loras": []}) as server:  # no models at all
        code, out = _cli(settings, "build", url=server.url)
    assert code == 0 and "2 built" in out, out
    for name, size in (("blob", (16, 16)), ("walker", (32, 64))):
        with Image.open(settings.assets_dir / f"sprites/enemy/{name}.png") as im:
            sheet = im.convert("RGBA")
        assert sheet.size in (size, size[::-1])
        opaque = sum(1 for value in sheet.getchannel("A").tobytes() if value > 0)
        assert 0.15 * sheet.width * sheet.height < opaque < 0.6 * sheet.width * sheet.height  # a figure, no box
