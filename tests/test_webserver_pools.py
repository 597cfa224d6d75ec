"""Several ComfyUI runs launched at once through a real `dagster dev`: the run queue starts them, and the
`comfyui` pool (dagster.yaml) lets only as many generation steps run at once as it allows, across runs
that are separate processes sharing nothing in memory."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.settings import Settings
from tests.automation_project import project_env
from tests.comfyui_server import FakeComfyServer
from tests.dagster_dev_harness import dagster_dev, make_dagster_home, wait_for
from tests.test_webserver import TERMINAL, keys_for, launch, run_info

pytestmark = pytest.mark.slow

STEPS = """
query Steps($id: ID!) {
  runOrError(runId: $id) { ... on Run { status stepStats { stepKey status startTime endTime } } }
}
"""


def _project(root: Path) -> Settings:
    specs = root / "sprite_specs"
    specs.mkdir(parents=True)
    (specs / "gpu.yaml").write_text(
        "defaults:\n  category: enemy\n  size: 16x16\n"
        "  generation: {backend: comfyui, steps: 4, render_scale: 8}\nsprites:\n"
        + "".join(f"  - name: g{i}\n    prompt: pixel art monster {i}\n" for i in range(3))
    )
    (root / "comfy_workflows").symlink_to(Path(__file__).resolve().parent.parent / "comfy_workflows")
    return Settings.for_project(root)


def test_the_comfyui_pool_limits_generation_steps_across_queued_runs(tmp_path: Path) -> None:
    project = _project(tmp_path / "game")
    home = make_dagster_home(
        tmp_path / "dagster_home",
        {"run_queue": {"dequeue_interval_seconds": 1}, "concurrency": {"pools": {"default_limit": 1}}},
    )
    with FakeComfyServer(latency=1.5) as comfy:

        def env(url: str) -> dict[str, str]:
            return {
                **project_env(project),
                "DAGSTER_HOME": str(home),
                "SPRITES_AUTOMATION": "none",
                "SPRITES_DAGSTER_URL": url,
                "SPRITES_COMFYUI_URL": comfy.url,
            }

        with dagster_dev(env, home / "dagster-dev.log") as dev:
            runs = [launch(dev, keys_for(f"g{i}", manifest=False)) for i in range(3)]
            all_launched = time.time()
            infos = [
                wait_for(f"run {r}", lambda r=r: (i := run_info(dev, r))["status"] in TERMINAL and i, 240) for r in runs
            ]
            assert [i["status"] for i in infos] == ["SUCCESS"] * 3, dev.log()
            steps: list[dict[str, Any]] = [
                s
                for r in runs
                for s in dev.graphql(STEPS, {"id": r})["runOrError"]["stepStats"]
                if s["stepKey"].startswith("sprite__")
            ]
        assert len(comfy.executions()) == 3
    assert len(steps) == 3 and all(s["status"] == "SUCCESS" for s in steps)
    spans = sorted((s["startTime"], s["endTime"]) for s in steps)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, f"two generation steps ran at once despite the pool limit of 1: {spans}"
    # all three were in the queue together (launched before the first one finished): whether the queue
    # holds a run back for the pool or the run waits at its step, no two generation steps overlapped
    assert all_launched < min(i["endTime"] for i in infos)
