"""ComfyUI renders at the template's native size (1024 px for SDXL) and the pixel stage makes the spec's size of it.

The test server draws 8 px fake pixels whatever the requested size, as a pixel-art LoRA does: a 1024 px render
holds a 128-cell sprite. Built through `sprites build` against it on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from pipeline.faces.cli import main
from tests.comfyui_server import FakeComfyServer
from tests.conftest import make_project

pytestmark = pytest.mark.slow

SPECS = {
    "comfy.yaml": (
        "defaults:\n  category: enemy\n  generation: {backend: comfyui, steps: 4}\nsprites:\n"
        "  - {name: big, prompt: pixel art big bat, size: 128x128}\n"
        "  - {name: small, prompt: pixel art small bat, size: 16x16, pixel: {fit: resample}}\n"
    )
}


def test_native_renders_become_the_spec_size(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path, SPECS, copy_samples=False)
    with FakeComfyServer(latency=0.01) as server:
        result = CliRunner().invoke(
            main, ["build", "--project-dir", str(settings.project_dir)], env={"SPRITES_COMFYUI_URL": server.url}
        )
        assert result.exit_code == 0, result.output
        assert len(server.executions()) == 2
    sizes = {Image.open(p).size for p in Path(settings.cache_dir).rglob("frame*.png")}
    assert sizes == {(1024, 1024)}  # both sprites rendered at SDXL's size, not size x 8
    manifest = json.loads((settings.assets_dir / "sprites/manifest.json").read_text())
    out = {e["name"]: Image.open(settings.assets_dir / e["path"]).size for e in manifest["sprites"]}
    assert out == {"big": (128, 128), "small": (16, 16)}


def test_a_native_render_larger_than_the_size_fails_naming_both_sizes(tmp_path: Path, dagster_home: Path) -> None:
    specs = {
        "one.yaml": "name: tiny\ncategory: enemy\nprompt: pixel art tiny bat\nsize: 16x16\n"
        "generation: {backend: comfyui, steps: 4}\n"
    }
    settings = make_project(tmp_path, specs, copy_samples=False)
    with FakeComfyServer(latency=0.01) as server:
        result = CliRunner().invoke(
            main, ["build", "--project-dir", str(settings.project_dir)], env={"SPRITES_COMFYUI_URL": server.url}
        )
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "tiny" in text and "larger than the 16x16 asked for" in text and "pixel.fit: resample" in text
    assert "Traceback" not in result.output
