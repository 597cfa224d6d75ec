"""Bounded inputs: nothing a spec or a server says reads files outside the project or exhausts memory.

Specs: ``generation.init_image`` is contained in the project and size-limited, the same for every backend.
Servers (over real sockets): a huge or endless /view body, a PNG that declares huge dimensions and a WebSocket
that never stops talking are refused or survived; a whole `sprites build` facing them stays under 300 MB RSS.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from pipeline.core.generate.comfyui import ComfyUIBackend
from pipeline.core.generate.image import MAX_INPUT_IMAGE_BYTES
from pipeline.errors import GenerationError, ServerError
from pipeline.faces.cli import main
from tests.comfyui_server import FakeComfyServer
from tests.comfyui_server.hostile import bomb_png
from tests.comfyui_server.testing import fast_options, make_spec, settings_for
from tests.conftest import REPO, make_project, sprites_cmd

pytestmark = pytest.mark.slow

IMG2IMG = "generation: {backend: comfyui, workflow: sdxl_pixel_art_img2img, denoise: 0.5, init_image: %s}"
IMAGE = "generation: {backend: image, init_image: %s}"


def _spec(generation: str) -> dict[str, str]:
    return {"hero.yaml": f"name: hero\ncategory: character\nsize: 16x16\nprompt: pixel art hero\n{generation}\n"}


@pytest.fixture
def server() -> Iterator[FakeComfyServer]:
    with FakeComfyServer(latency=0.02) as s:
        yield s


def _hostile_files(root: Path) -> dict[str, str]:
    """init_image values that must be refused, and the words the refusal must contain."""
    (root / "big.png").write_bytes(b"")
    os.truncate(root / "big.png", MAX_INPUT_IMAGE_BYTES + 1)  # sparse: no disk used
    (root / "bomb.png").write_bytes(bomb_png(12000, 12000))
    os.symlink("/dev/zero", root / "zero.png")
    os.mkfifo(root / "pipe.png")
    return {
        "/etc/passwd": "is absolute",
        "../outside.png": "must not contain '..'",
        "zero.png": "symlink",
        "pipe.png": "is not a regular file",
        "big.png": "at most 32 MiB",
        "bomb.png": "declares 12000x12000 pixels",
    }


@pytest.mark.parametrize("template", [IMG2IMG, IMAGE], ids=["comfyui", "image"])
def test_init_image_stays_inside_the_project_and_is_bounded(
    tmp_path: Path, server: FakeComfyServer, template: str
) -> None:
    settings = make_project(tmp_path, {}, copy_samples=False)
    for value, words in _hostile_files(tmp_path).items():
        (settings.specs_dir / "hero.yaml").write_text(_spec(template % value)["hero.yaml"])
        env = {"SPRITES_COMFYUI_URL": server.url}
        result = CliRunner().invoke(main, ["check", "--project-dir", str(settings.project_dir)], env=env)
        assert result.exit_code == 2, (value, result.output)
        assert "hero.yaml:1: sprite 'hero': field 'generation.init_image'" in result.output, result.output
        assert words in result.output and "Traceback" not in result.output, (value, result.output)
    assert server.count("POST", "/upload/image") == 0


def _generate(server: FakeComfyServer, tmp_path: Path) -> None:
    backend = ComfyUIBackend((server.url,), fast_options(), project_dir=tmp_path)
    try:
        (req,) = [backend.resolve(make_spec("imp", size=16), settings_for(tmp_path))]
        backend.generate(req)
    finally:
        backend.close()


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_huge_download_is_refused_by_its_declared_or_actual_length(
    server: FakeComfyServer, tmp_path: Path, declared: bool
) -> None:
    server.faults.huge_view_bytes, server.faults.view_declared_length = 2**30, declared
    words = "declares 1073741824 bytes" if declared else "download stopped"
    with pytest.raises(ServerError, match=words) as info:
        _generate(server, tmp_path)
    assert server.url in str(info.value) and "an image of the requested size can take" in str(info.value)


def test_a_png_declaring_huge_dimensions_is_refused_before_decoding(server: FakeComfyServer, tmp_path: Path) -> None:
    server.faults.bomb_dimensions = (12000, 12000)
    with pytest.raises(GenerationError, match=r"rendered 12000x12000, more than the 67108864 pixels"):
        _generate(server, tmp_path)


def test_an_endless_websocket_is_dropped_and_the_job_followed_by_polling(
    server: FakeComfyServer, tmp_path: Path
) -> None:
    server.faults.endless_ws_bytes = 32 * 2**20  # more than the client takes in one message
    backend = ComfyUIBackend((server.url,), fast_options(), project_dir=tmp_path)
    try:
        (req,) = [backend.resolve(make_spec("imp", size=16), settings_for(tmp_path))]
        result = backend.generate(req)
    finally:
        backend.close()
    assert len(result.frames) == 1 and result.info["prompt_id"] in server.history()
    assert server.count("GET", "/queue") >= 1  # followed by polling while the socket was useless


#: runs a command and reports its peak RSS: a small parent, so the child's figure is the build's own (Linux keeps
#: the peak of the pre-exec copy of the parent, which for a pytest parent can be hundreds of MB)
_MEASURE = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


def _peak_rss_of_build(tmp_path: Path, dagster_home: Path, server: FakeComfyServer) -> tuple[int, int, str]:
    """Run `sprites build` in a subprocess; its exit status, its peak RSS in bytes and its output."""
    spec = _spec("generation: {backend: comfyui, steps: 4, render_scale: 8}")
    settings = make_project(tmp_path, spec, copy_samples=False)
    env = {
        "SPRITES_COMFYUI_URL": server.url,
        "DAGSTER_HOME": str(dagster_home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    cmd = [sys.executable, "-c", _MEASURE, *sprites_cmd(settings, "build")]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    peak = re.search(r"PEAK_RSS_KB (\d+)", out)
    assert peak is not None, out
    return done.returncode, int(peak.group(1)) * 1024, out


@pytest.mark.parametrize(
    "fault",
    [
        {"huge_view_bytes": 2**30},
        {"huge_view_bytes": 2**30, "view_declared_length": False},
        {"bomb_dimensions": (12000, 12000)},
        {"endless_ws_bytes": 32 * 2**20},
    ],
    ids=["huge-body", "huge-chunked-body", "huge-dimensions", "endless-websocket"],
)
def test_a_build_facing_a_hostile_server_stays_under_300_mb(
    tmp_path: Path, dagster_home: Path, server: FakeComfyServer, fault: dict[str, object]
) -> None:
    for name, value in fault.items():
        setattr(server.faults, name, value)
    code, peak, out = _peak_rss_of_build(tmp_path, dagster_home, server)
    assert peak < 300 * 2**20, f"peak RSS {peak / 2**20:.0f} MiB\n{out}"
    if "endless_ws_bytes" in fault:
        assert code == 0 and "1 built" in out, out
    else:
        assert code == 1 and "hero:" in out and "Traceback" not in out, out


def test_a_spec_image_of_the_right_size_still_builds(tmp_path: Path, server: FakeComfyServer) -> None:
    """The limits refuse only what they must: an ordinary init image uploads and renders."""
    Image.new("RGB", (16, 16), (200, 40, 40)).save(tmp_path / "ref.png")
    backend = ComfyUIBackend((server.url,), fast_options(), project_dir=tmp_path)
    try:
        spec = make_spec("hero", workflow="sdxl_pixel_art_img2img", init_image="ref.png", denoise=0.5)
        result = backend.generate(backend.resolve(spec, settings_for(tmp_path)))
    finally:
        backend.close()
    assert len(result.frames) == 1 and server.count("POST", "/upload/image") == 1
