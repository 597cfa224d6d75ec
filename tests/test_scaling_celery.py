"""Steps on Celery workers (SPRITES_EXECUTOR=celery): a real Redis broker and two real worker processes, each
with its own ComfyUI-protocol server (a GPU box per worker), started here on 127.0.0.1. One run of
ComfyUI sprites is spread over both workers, every render made once, and the Bevy folder is complete."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance

from pipeline.defs.asset_keys import sprite_selection
from pipeline.defs.executors import executor_definition
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from tests.automation_project import project_env
from tests.comfyui_server import FakeComfyServer
from tests.conftest import REPO, assert_bevy_folder_consistent
from tests.dagster_dev_harness import make_dagster_home, wait_for
from tests.scaling_services import redis_server, stop

NAMES = [f"m{i}" for i in range(6)]


def comfy_project(root: Path, names: list[str]) -> Settings:
    specs = root / "sprite_specs"
    specs.mkdir(parents=True)
    (specs / "gpu.yaml").write_text(
        "defaults:\n  category: enemy\n  size: 16x16\n  generation: {backend: comfyui, steps: 4, render_scale: 8}\n"
        "sprites:\n" + "".join(f"  - name: {n}\n    prompt: pixel art monster {n}\n" for n in names)
    )
    (root / "comfy_workflows").symlink_to(REPO / "comfy_workflows")
    return Settings.for_project(root)


@contextlib.contextmanager
def celery_worker(name: str, env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """One worker as docs/scaling.md starts it: queue `dagster`, prefetch 1, one step at a time, a fresh child
    process per task (so each step loads the current specs)."""
    out = open(log, "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pipeline.defs.celery_app", "worker", "-Q", "dagster",
         "--prefetch-multiplier=1", "--concurrency=1", "--max-tasks-per-child=1", "-n", f"{name}@%h",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), **env}, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out.close()
    try:
        wait_for(f"celery worker {name} to be ready", lambda: _ready(proc, log), 90)
        yield proc
    finally:
        stop(proc, timeout=30)


def _ready(proc: subprocess.Popen[bytes], log: Path) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"celery worker exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
    return " ready." in log.read_text(errors="replace")


def materialize_cmd(names: list[str]) -> list[str]:
    """`dagster asset materialize` on the code location: a run that uses the location's executor.

    Selected by sprite name (``key:"goblin/*"``), as the README shows."""
    selection = ",".join(sprite_selection(n) for n in names) + ",bevy/manifest"
    module = ["-m", "pipeline.definitions"]
    return [sys.executable, "-m", "dagster", "asset", "materialize", *module, "--select", selection]


def workers_of_steps(instance: DagsterInstance, run_id: str) -> dict[str, str]:
    """step key -> the Celery worker that executed it (dagster-celery's engine event names it)."""
    out = {}
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        assert event is not None
        metadata = event.engine_event_data.metadata if event.engine_event_data else {}
        if "Celery worker" in metadata and event.step_key:
            out[event.step_key] = str(metadata["Celery worker"].value)
    return out


def celery_env(project: Settings, home: Path, broker: str) -> dict[str, str]:
    """The environment shared by the run's launcher and the workers: this project, steps on Celery."""
    return {
        **project_env(project),
        "DAGSTER_HOME": str(home),
        "SPRITES_AUTOMATION": "none",
        "SPRITES_DAGSTER_URL": "off",
        "SPRITES_EXECUTOR": "celery",
        "SPRITES_CELERY_BROKER": broker,
    }


@pytest.mark.slow
def test_sprite_steps_are_spread_over_two_celery_workers(tmp_path: Path) -> None:
    project = comfy_project(tmp_path / "game", NAMES)
    home = make_dagster_home(tmp_path / "dagster_home", {"concurrency": {"pools": {"default_limit": 2}}})
    with (
        redis_server(tmp_path / "redis") as broker,
        FakeComfyServer(latency=0.3) as gpu1,
        FakeComfyServer(latency=0.3) as gpu2,
    ):
        common = celery_env(project, home, broker)
        with (
            celery_worker("w1", {**common, "SPRITES_COMFYUI_URL": gpu1.url}, tmp_path / "w1.log"),
            celery_worker("w2", {**common, "SPRITES_COMFYUI_URL": gpu2.url}, tmp_path / "w2.log"),
        ):
            result = subprocess.run(
                materialize_cmd(NAMES),
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO), **common, "SPRITES_COMFYUI_URL": gpu1.url},
                capture_output=True,
                text=True,
                timeout=400,
            )
            logs = "\n".join((tmp_path / f"w{i}.log").read_text()[-3000:] for i in (1, 2))
            assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:] + logs
        renders = {1: len(gpu1.executions()), 2: len(gpu2.executions())}
    os.environ["DAGSTER_HOME"] = str(home)
    instance = DagsterInstance.get()
    [run] = instance.get_runs()
    assert run.is_success
    workers = workers_of_steps(instance, run.run_id)
    sprite_steps = {k: w for k, w in workers.items() if k.startswith("sprite__")}
    assert sorted(sprite_steps) == sorted(f"sprite__{n}" for n in NAMES)
    assert {w.split("@")[0] for w in sprite_steps.values()} == {"w1", "w2"}, sprite_steps  # both did sprite steps
    # every render made exactly once, each on the GPU box of the worker that ran its step
    assert sum(renders.values()) == len(NAMES) and all(renders.values()), renders
    by_worker = {w: sum(1 for v in sprite_steps.values() if v.startswith(f"{w}@")) for w in ("w1", "w2")}
    assert by_worker == {"w1": renders[1], "w2": renders[2]}, (by_worker, renders)
    manifest = json.loads((project.assets_dir / "sprites/manifest.json").read_text())
    assert sorted(e["name"] for e in manifest["sprites"]) == NAMES
    assert assert_bevy_folder_consistent(project) == len(NAMES)


def test_the_executor_is_chosen_by_environment_and_checked() -> None:
    assert Settings.from_env({}).executor == "in_process"
    assert executor_definition(Settings.from_env({})).name == "in_process"
    celery = Settings.from_env({"SPRITES_EXECUTOR": "celery", "SPRITES_CELERY_BROKER": "redis://h:6379/0"})
    definition = executor_definition(celery)
    assert definition.name == "celery" and celery.per_step_processes
    config = celery.celery_config()
    assert (config["broker"], config["backend"]) == ("redis://h:6379/0", "redis://h:6379/0")
    assert config["config_source"]["task_acks_late"] is True  # a worker reserves only the step it runs
    with pytest.raises(ConfigError, match="SPRITES_CELERY_BROKER"):
        Settings.from_env({"SPRITES_EXECUTOR": "celery"})
    with pytest.raises(ConfigError, match="SPRITES_EXECUTOR"):
        Settings.from_env({"SPRITES_EXECUTOR": "kubernetes"})
