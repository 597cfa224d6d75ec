"""Signals to real `sprites build` / `sprites dev` subprocesses: the GPU is freed, the run is marked ended, and
nothing is left running. SIGINT is reset to its default in the child and sent to its process group, as a
terminal's Ctrl-C is (a child of a non-interactive shell would otherwise ignore it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from tests.comfyui_server import FakeComfyServer
from tests.conftest import REPO, make_project, sprites_cmd

pytestmark = pytest.mark.slow

SPECS = {
    "comfy.yaml": (
        "defaults:\n  category: enemy\n  size: 16x16\n  generation: {backend: comfyui, steps: 200, render_scale: 8}\n"
        "sprites:\n  - name: ogre\n    prompt: pixel art ogre\n  - name: troll\n    prompt: pixel art troll\n"
        "  - name: orc\n    prompt: pixel art orc\n"
    )
}


def _reset_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_reset_sigint,
    )


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _env(dagster_home: Path, **extra: str) -> dict[str, str]:
    return {"DAGSTER_HOME": str(dagster_home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **extra}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_to_sprites_build_frees_the_gpu_and_cancels_the_run(
    tmp_path: Path, dagster_home: Path, sig: signal.Signals
) -> None:
    settings = make_project(tmp_path, SPECS, copy_samples=False)
    with FakeComfyServer(latency=600.0) as server:  # 3 s per sampler step: nothing finishes by itself
        proc = _start(sprites_cmd(settings, "build"), _env(dagster_home, SPRITES_COMFYUI_URL=server.url))
        try:
            _wait_for(lambda: bool(server.queue()[0]) and bool(server.queue()[1]), "one job running, one queued")
            (running,) = (item[1] for item in server.queue()[0])
            os.killpg(proc.pid, sig)
            out, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        assert proc.returncode == 128 + sig, out
        assert f"interrupted ({sig.name})" in out and "Traceback" not in out and "KeyboardInterrupt" not in out, out
        # the GPU is free: the queued jobs are gone, the running one was interrupted (at its next step)
        assert server.queue()[1] == []
        _wait_for(lambda: running in server.history(), "the running job to be interrupted", timeout=30)
        assert server.history()[running]["status"]["messages"][-1][0] == "execution_interrupted"
        assert server.executions() == [running]  # the queued ones never ran
    (run,) = DagsterInstance.get().get_runs()
    assert run.status == DagsterRunStatus.CANCELED, run.status
    assert f"Dagster run {run.run_id[:8]} is CANCELED" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    """Every process whose ancestry leads to ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_sigterm_to_sprites_dev_stops_dagster_dev_and_all_its_children(tmp_path: Path, dagster_home: Path) -> None:
    import httpx

    settings = make_project(tmp_path, {}, copy_samples=False)
    port = _free_port()
    proc = _start(sprites_cmd(settings, "dev", "--port", str(port)), _env(dagster_home, SPRITES_AUTOMATION="none"))
    try:

        def answers() -> bool:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                return httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(answers, "the Dagster webserver", timeout=240)
        children = _descendants(proc.pid)
        assert len(children) >= 2, children  # dagster dev, its webserver, daemon, code server ...
        os.kill(proc.pid, signal.SIGTERM)  # a service manager stops the command, not its group
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode == 128 + signal.SIGTERM, out
        _wait_for(lambda: not any(_alive(p) for p in children), "every child of dagster dev to exit", timeout=30)
    finally:
        for pid in _descendants(proc.pid) | {proc.pid}:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
