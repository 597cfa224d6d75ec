"""Each ``animation.method`` against the ComfyUI-protocol test server on 127.0.0.1, end to end through
`sprites build`: what is submitted (jobs, sizes, batch, denoise, seed, uploads), what comes out, caching."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance
from PIL import Image

from pipeline.core.generate.comfyui import ComfyUIBackend
from pipeline.defs.asset_keys import sprite_keys
from pipeline.errors import GenerationCancelled
from pipeline.faces.cli import main
from pipeline.settings import Settings
from tests.comfyui_server import FakeComfyServer
from tests.comfyui_server.testing import fast_options, make_spec, settings_for
from tests.conftest import make_project

pytestmark = pytest.mark.slow

SPECS = {
    "walkers.yaml": (
        "defaults:\n  category: enemy\n  size: 16x16\n  seed: 4242\n"
        "  generation: {backend: comfyui, steps: 3, render_scale: 8}\n"
        "sprites:\n"
        "  - name: sheet-rat\n    prompt: pixel art rat, sprite sheet, 3 frames in a row\n"
        "    animation: {frames: 3, method: sheet}\n"
        "  - name: chain-rat\n    prompt: pixel art rat walking\n"
        "    animation: {frames: 3, method: img2img, denoise: 0.4}\n"
        "  - name: batch-rat\n    prompt: pixel art rat walking\n    animation: {frames: 3, method: batch}\n"
    )
}


def _cli(settings: Settings, *args: str, url: str = "") -> tuple[int, str]:
    result = CliRunner().invoke(
        main, [*args, "--project-dir", str(settings.project_dir)], env={"SPRITES_COMFYUI_URL": url}
    )
    return result.exit_code, result.output


def _jobs(server: FakeComfyServer) -> dict[str, list[dict[str, Any]]]:
    """Each sprite's executed graphs, in execution order (the filename prefix names the sprite)."""
    history = server.history()
    out: dict[str, list[dict[str, Any]]] = {}
    for prompt_id in server.executions():
        graph = history[prompt_id]["prompt"][2]
        prefix = next(n["inputs"]["filename_prefix"] for n in graph.values() if n["class_type"] == "SaveImage")
        sprite = prefix.removeprefix("sprites/")[: -len("-") - 13]  # sprites/<name>-<prompt id[:13]>
        out.setdefault(sprite, []).append({"graph": graph, "outputs": history[prompt_id]["outputs"]})
    return out


def _node(graph: dict[str, Any], cls: str) -> dict[str, Any]:
    (node,) = [n["inputs"] for n in graph.values() if n["class_type"] == cls]
    return node


def _output_bytes(server: FakeComfyServer, job: dict[str, Any]) -> bytes:
    (images,) = [o["images"] for o in job["outputs"].values() if "images" in o]
    (image,) = images
    return (server.root / "output" / image["subfolder"] / image["filename"]).read_bytes()


def _pixel_metadata(name: str) -> dict[str, Any]:
    record = DagsterInstance.get().get_latest_materialization_event(sprite_keys(name)[1])
    assert record is not None and record.asset_materialization is not None
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def test_each_method_submits_what_it_says(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path, SPECS, copy_samples=False)
    with FakeComfyServer(latency=0.02) as server:
        code, out = _cli(settings, "build", url=server.url)
        assert code == 0 and "3 built" in out, out
        jobs = _jobs(server)
        assert {k: len(v) for k, v in jobs.items()} == {"sheet-rat": 1, "chain-rat": 3, "batch-rat": 1}

        # sheet: one image holding the three frames side by side
        (sheet,) = jobs["sheet-rat"]
        assert _node(sheet["graph"], "EmptyLatentImage") == {"width": 384, "height": 128, "batch_size": 1}
        # batch: today's one job of three independent samples
        assert _node(jobs["batch-rat"][0]["graph"], "EmptyLatentImage")["batch_size"] == 3

        # img2img: frame 0 from the spec's workflow; each next frame from the previous one, uploaded, with
        # animation.denoise and the same seed
        chain = jobs["chain-rat"]
        first = chain[0]["graph"]
        assert _node(first, "KSampler")["denoise"] == 1.0 and _node(first, "EmptyLatentImage")["batch_size"] == 1
        for before, job in itertools.pairwise(chain):
            sampler = _node(job["graph"], "KSampler")
            assert (sampler["denoise"], sampler["seed"]) == (0.4, 4242)
            assert _node(job["graph"], "RepeatLatentBatch")["amount"] == 1
            uploaded = _node(job["graph"], "LoadImage")["image"]
            previous = _output_bytes(server, before)
            assert uploaded == f"sprites-frame-{hashlib.sha256(previous).hexdigest()[:16]}.png"
            assert (server.root / "input" / uploaded).read_bytes() == previous, "the previous frame, byte for byte"
            assert _node(job["graph"], "ImageScale")["width"] == 128  # back at the render size
        assert _node(first, "KSampler")["seed"] == 4242
        assert server.count("POST", "/upload/image") == 2

        for name in ("sheet-rat", "chain-rat", "batch-rat"):
            with Image.open(settings.assets_dir / f"sprites/enemy/{name}.png") as png:
                assert png.size == (48, 16)
            pixel = _pixel_metadata(name)
            assert pixel["frame_method"] == name.split("-")[0].replace("chain", "img2img")
        consistency = _pixel_metadata("sheet-rat")["consistency"]
        assert consistency["palette_identical"] and min(consistency["unchanged"]) > 0.6  # one sprite, stepping
        assert _pixel_metadata("sheet-rat")["sheet"]["alignment"] == "exact"

        code, out = _cli(settings, "build", url=server.url)
        assert "0 built, 3 up to date" in out and len(server.executions()) == 5, "never the same work twice"

        spec_file = settings.specs_dir / "walkers.yaml"
        spec_file.write_text(spec_file.read_text().replace("denoise: 0.4", "denoise: 0.6"))
        code, out = _cli(settings, "build", url=server.url)
        assert code == 0 and "1 built, 2 up to date" in out, out
        rebuilt = _jobs(server)["chain-rat"][3:]
        assert [_node(j["graph"], "KSampler")["denoise"] for j in rebuilt] == [1.0, 0.6, 0.6]
        assert len(server.executions()) == 8
    assert _cli(settings, "check", "--locked")[0] == 0


def test_img2img_without_an_img2img_template_names_the_field_and_the_fix(tmp_path: Path, dagster_home: Path) -> None:
    specs = {
        "smoke.yaml": "name: blob\ncategory: enemy\nprompt: ignored\nsize: 16x16\n"
        "generation: {backend: comfyui, workflow: smoke_no_models}\nanimation: {frames: 2, method: img2img}\n"
    }
    settings = make_project(tmp_path, specs, copy_samples=False)
    code, out = _cli(settings, "build", url="http://127.0.0.1:9")
    assert code != 0 and "Traceback" not in out
    assert "smoke.yaml" in out and "animation.workflow" in out and "smoke_no_models_img2img" in out, out
    (settings.specs_dir / "smoke.yaml").write_text(
        specs["smoke.yaml"].replace("method: img2img}", "method: img2img, workflow: smoke_no_models}")
    )
    code, out = _cli(settings, "build", url="http://127.0.0.1:9")
    assert code != 0 and "no LoadImage node" in out and "animation.workflow" in out, out


def test_the_json_schema_offers_the_methods() -> None:
    from tests.conftest import REPO

    schema = json.loads((REPO / "sprite_specs" / "sprite-spec.schema.json").read_text())
    animation = schema["$defs"]["Animation"]["properties"]
    assert animation["method"]["enum"] == ["sheet", "img2img", "batch"] and animation["method"]["default"] == "sheet"
    assert {"denoise", "workflow"} <= set(animation)


def test_cancelling_an_img2img_chain_withdraws_its_frame_in_flight_and_submits_no_more(tmp_path: Path) -> None:
    with FakeComfyServer(latency=2.0) as server:
        server.faults.node_seconds = {"VAEEncode": 3.0}  # only the img2img template encodes an image
        backend = ComfyUIBackend([server.url], fast_options(), project_dir=tmp_path)
        try:
            req = backend.resolve(make_spec("imp", frames=3, method="img2img", steps=20), settings_for(tmp_path))
            cancel = threading.Event()

            def progress(fraction: float, message: str) -> None:
                if message.startswith("frame 2/3"):  # frame 0 is in; frame 1 is queued or encoding
                    cancel.set()

            with pytest.raises(GenerationCancelled):
                backend.generate(req, progress=progress, cancel=cancel)
            deadline = time.monotonic() + 30
            while server.queue() != ([], []) and time.monotonic() < deadline:  # (an interrupt lands at a node edge)
                time.sleep(0.05)
            frame0, *rest = server.executions()
            history = server.history()
            assert history[frame0]["status"]["status_str"] == "success"
            assert len(rest) <= 1, "frame 2 is never submitted"
            for frame1 in rest:  # withdrawn from the queue before it ran, or interrupted while running
                assert history[frame1]["status"]["messages"][-1][0] == "execution_interrupted"
            assert server.queue() == ([], [])
        finally:
            backend.close()
