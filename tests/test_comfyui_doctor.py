"""``sprites doctor`` (the click command on its own) against test servers."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.faces.cli.doctor_cmd import doctor_cmd
from tests.comfyui_server import FakeComfyServer
from tests.comfyui_server.testing import WORKFLOWS

SPECS = {
    "goblin.yaml": "name: goblin\ncategory: enemy\nprompt: pixel art goblin\n",
    "slime.yaml": (
        "name: slime\ncategory: enemy\nprompt: pixel art slime\n"
        "generation: {checkpoint: pixel_art_diffusion_xl.safetensors, loras: [{name: 64x_pixel.safetensors}]}\n"
    ),
    "coin.yaml": "name: coin\ncategory: item\nprompt: a coin\ngeneration: {backend: procedural}\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    specs = tmp_path / "sprite_specs"
    specs.mkdir()
    (specs / "_defaults.yaml").write_text(
        "defaults:\n  generation:\n    backend: comfyui\n    loras: [{name: pixel-art-xl.safetensors, strength: 0.9}]\n"
    )
    for name, text in SPECS.items():
        (specs / name).write_text(text)
    shutil.copytree(WORKFLOWS, tmp_path / "comfy_workflows")
    return tmp_path


@pytest.fixture
def servers() -> Iterator[tuple[FakeComfyServer, FakeComfyServer]]:
    with (
        FakeComfyServer() as full,
        FakeComfyServer(
            models={"checkpoints": ["sd_xl_base_1.0.safetensors"], "loras": ["pixel-art-xl.safetensors"]}
        ) as part,
    ):
        yield full, part


def _doctor(project: Path, urls: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        doctor_cmd, ["--project-dir", str(project), "--comfyui-url", urls, *args], catch_exceptions=False
    )
    return result.exit_code, result.output


def test_doctor_prints_what_is_missing_where(project: Path, servers: tuple[FakeComfyServer, FakeComfyServer]) -> None:
    full, part = servers
    code, out = _doctor(project, f"{full.url},{part.url}")
    assert code == 0, out
    assert "Sprites checked: 2" in out and "sdxl_pixel_art: goblin, slime" in out  # coin is procedural
    assert f"OK    {full.url}  ComfyUI 0.3.64" in out
    assert f"{full.url}: has every node class and model for 2 sprite(s)" in out
    assert f"{part.url}: missing 2 thing(s):" in out
    assert "checkpoint 'pixel_art_diffusion_xl.safetensors' (node 4: CheckpointLoaderSimple.ckpt_name)" in out
    assert "LoRA '64x_pixel.safetensors' (node 10: LoraLoader.lora_name)" in out and "<- needed by slime" in out
    assert "READY" in out
    assert full.count("POST", "/prompt") == part.count("POST", "/prompt") == 0
    strict, _ = _doctor(project, f"{full.url},{part.url}", "--strict")
    assert strict == 1


def test_doctor_fails_when_a_sprite_can_run_nowhere(
    project: Path, servers: tuple[FakeComfyServer, FakeComfyServer]
) -> None:
    _, part = servers
    code, out = _doctor(project, part.url)
    assert code == 1
    assert "NOT READY: 1 sprite(s) can run on no server: slime" in out


def test_doctor_reports_unreachable_servers_and_binding_problems(
    project: Path, servers: tuple[FakeComfyServer, FakeComfyServer]
) -> None:
    full, _ = servers
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    (project / "sprite_specs" / "hero.yaml").write_text(
        "name: hero\ncategory: character\nprompt: a hero\ngeneration: {workflow: sdxl_pixel_art_img2img}\n"
    )
    code, out = _doctor(project, f"{full.url},{dead}", "--timeout", "0.5")
    assert code == 1
    assert f"DOWN  {dead}  UNREACHABLE" in out
    assert "sprite_specs/hero.yaml" in out and "sdxl_pixel_art_img2img.json" in out and "init_image" in out
    assert "NOT READY: fix the binding problems" in out


def test_doctor_without_servers_explains_the_setting(project: Path) -> None:
    code, out = _doctor(project, "", "coin", "--all-specs")
    assert "none configured" in out and "SPRITES_COMFYUI_URL" in out
    assert code == 1  # coin needs a server once checked as a comfyui sprite


def test_doctor_checks_value_ranges_and_names_node_ids(
    project: Path, servers: tuple[FakeComfyServer, FakeComfyServer]
) -> None:
    """Numbers outside an input's range would be refused by ComfyUI only after queueing: doctor says so first,
    naming the node; so does a node class the server lacks."""
    full, _ = servers
    graph = json.loads((project / "comfy_workflows" / "sdxl_pixel_art.json").read_text())
    graph["20"] = {"class_type": "ImageQuantize", "inputs": {"image": ["8", 0], "colors": 300, "dither": "none"}}
    graph["9"]["inputs"]["images"] = ["20", 0]
    (project / "comfy_workflows" / "quantized.json").write_text(json.dumps(graph))
    graph["8"]["class_type"] = "FancyDecode"
    (project / "comfy_workflows" / "custom.json").write_text(json.dumps(graph))
    for name in ("quantized", "custom"):
        (project / "sprite_specs" / f"{name}.yaml").write_text(
            f"name: {name}\ncategory: enemy\nprompt: pixel art {name}\ngeneration: {{workflow: {name}}}\n"
        )
    code, out = _doctor(project, full.url)
    assert code == 1, out
    assert "value 300 for node 20: ImageQuantize.colors  <- needed by custom, quantized" in out
    assert "the server accepts: min 1, max 256" in out
    assert "node class 'FancyDecode' (node 8: FancyDecode; install the custom node)  <- needed by custom" in out
    assert "NOT READY: 2 sprite(s) can run on no server: custom, quantized" in out
    assert full.count("POST", "/prompt") == 0
