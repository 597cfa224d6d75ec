"""Deadlines and what the build reports: a timed-out job is interrupted on the server even when the run ends at
once, a lone unreachable server keeps its job (nothing "moves to another server"), an interrupt waits for the
next node boundary as on a real server, and the summary says which of two sprites sharing a render made it."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.core.generate.comfyui import ComfyUIBackend
from pipeline.errors import GenerationCancelled, GenerationError
from pipeline.faces.cli import main
from tests.comfyui_server import FakeComfyServer
from tests.comfyui_server.testing import fast_options, make_spec, settings_for
from tests.conftest import make_project

pytestmark = pytest.mark.slow


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_a_timed_out_job_is_interrupted_even_when_the_backend_closes_right_away(tmp_path: Path) -> None:
    with FakeComfyServer(latency=600.0) as server:
        backend = ComfyUIBackend((server.url,), fast_options(job_timeout=1.0), project_dir=tmp_path)
        req = backend.resolve(make_spec("slowpoke", steps=100), settings_for(tmp_path))
        try:
            with pytest.raises(GenerationError, match="still running after 1s, so it was interrupted"):
                backend.generate(req)
        finally:
            backend.close()  # what the end of a Dagster run does, at once
        (running,) = server.executions()
        assert server.count("POST", "/interrupt") >= 1  # told before the failure was reported
        _wait_for(lambda: running in server.history(), "the interrupt to take effect at the next sampler step")
        assert server.history()[running]["status"]["messages"][-1][0] == "execution_interrupted"
        assert server.queue() == ([], [])


def test_a_lone_server_that_stops_answering_keeps_its_job(tmp_path: Path) -> None:
    with FakeComfyServer(latency=2.0) as server:
        backend = ComfyUIBackend((server.url,), fast_options(failover_after=0.5), project_dir=tmp_path)
        req = backend.resolve(make_spec("golem", steps=10), settings_for(tmp_path))
        messages: list[str] = []
        backend.prepare([req])
        _wait_for(lambda: bool(server.queue()[0]), "the job to run")
        # HTTP answers 500 and the socket says nothing for a while (so the job is polled); the queue lives on
        server.faults.http_errors, server.faults.silent_ws = 10**9, True

        def recover() -> None:
            server.faults.http_errors, server.faults.silent_ws = 0, False

        threading.Timer(1.5, recover).start()
        try:
            result = backend.generate(req, progress=lambda f, m: messages.append(m))
        finally:
            backend.close()
        assert result.info["attempts"] == 1 and len(server.executions()) == 1
        assert not any("another server" in m or "resubmitting" in m for m in messages), messages


def test_an_interrupt_takes_effect_only_at_the_next_node_boundary(tmp_path: Path) -> None:
    """A node deaf to interrupts (a real node checks only before it starts): cancel waits out ``cancel_grace``,
    and the job is still reported interrupted on the server, at the node after the slow one."""
    with FakeComfyServer() as server:
        server.faults.node_seconds = {"VAEDecode": 3.0}
        backend = ComfyUIBackend((server.url,), fast_options(cancel_grace=0.5), project_dir=tmp_path)
        req = backend.resolve(make_spec("ogre"), settings_for(tmp_path))
        cancel = threading.Event()

        def progress(fraction: float, message: str) -> None:
            if message.startswith("VAEDecode"):
                cancel.set()

        try:
            with pytest.raises(GenerationCancelled):
                backend.generate(req, progress=progress, cancel=cancel)
            (pid,) = server.executions()
            assert pid not in server.history()  # grace over, the slow node still runs: nothing pretended
            _wait_for(lambda: pid in server.history(), "the slow node to finish")
        finally:
            backend.close()
        interrupted = server.history()[pid]["status"]["messages"][-1]
        assert interrupted[0] == "execution_interrupted" and interrupted[1]["node_type"] == "SaveImage"


SHARED = {
    "twins.yaml": (
        "defaults:\n  category: enemy\n  size: 16x16\n  seed: 7\n  prompt: pixel art twin\n"
        "  generation: {backend: comfyui, steps: 4, render_scale: 8}\n"
        "sprites:\n  - name: castor\n  - name: pollux\n"
    ),
    # its step runs first and prepares every render; its own, 4 frames, renders after the twins' one, so the
    # twins' render is already in the cache when castor's step looks
    "zoo.yaml": "name: aardvark\ncategory: enemy\nsize: 16x16\nprompt: pixel art aardvark\n"
    "generation: {backend: comfyui, steps: 4, render_scale: 8}\nanimation: {frames: 4, method: batch}\n",
}


def test_the_summary_says_which_of_two_sprites_sharing_a_render_generated_it(
    tmp_path: Path, dagster_home: Path
) -> None:
    settings = make_project(tmp_path, SHARED, copy_samples=False)
    with FakeComfyServer(latency=0.3) as server:
        env = {"SPRITES_COMFYUI_URL": server.url, "COLUMNS": "200"}
        result = CliRunner().invoke(main, ["build", "--project-dir", str(settings.project_dir)], env=env)
        assert result.exit_code == 0, result.output
        assert len(server.executions()) == 2  # one render for both twins
    rows = {m[0]: m[1] for m in re.findall(r"(castor|pollux)\s*│\s*built\s*│\s*(hit|miss)", result.output)}
    assert sorted(rows.values()) == ["hit", "miss"], result.output
