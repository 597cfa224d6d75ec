"""Scale-out benchmarks (docs/scaling.md): Dagster storage and Celery workers, against real servers on 127.0.0.1.

    python -m benchmarks.bench_scaling storage [--sprites 500]       # cold build: SQLite vs PostgreSQL
    python -m benchmarks.bench_scaling celery [--sprites 16 --latency 3]  # one vs two Celery workers

storage: the same generated project (benchmarks/bench_build.py's specs, embedded backend) built from
scratch by `sprites build` as a subprocess, once with the shipped dagster.yaml (SQLite under DAGSTER_HOME)
and once with dagster_home/examples/postgres (a PostgreSQL 15 started on a scratch data directory).

celery: N ComfyUI sprites in one run (`dagster asset materialize`, SPRITES_EXECUTOR=celery, Redis broker),
each worker with its own ComfyUI-protocol server taking a fixed time per image (a GPU box per worker);
one worker, then two. Throughput = sprites per second over the run, and over the step phase (first sprite
step start to last sprite step end, leaving out run start-up and the manifest step). Target: two workers
>= 1.8x one.

Start-up of the servers is not timed. The machine may be shared: figures are upper bounds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench_build import write_specs  # noqa: E402
from tests.automation_project import project_env  # noqa: E402
from tests.comfyui_server import FakeComfyServer  # noqa: E402
from tests.conftest import sprites_cmd  # noqa: E402
from tests.dagster_dev_harness import make_dagster_home  # noqa: E402
from tests.scaling_services import postgres, redis_server  # noqa: E402
from tests.test_scaling_celery import celery_env, celery_worker, comfy_project, materialize_cmd  # noqa: E402
from tests.test_scaling_postgres import EXAMPLE  # noqa: E402


def _build(settings: object, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        sprites_cmd(settings, "build"),  # type: ignore[arg-type]
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return wall


def storage(n: int) -> None:
    from pipeline.settings import Settings

    rows = []
    with tempfile.TemporaryDirectory() as tmp, postgres("bench") as pg:
        for kind in ("sqlite", "postgres"):
            root = Path(tmp) / kind
            write_specs(root / "sprite_specs", n)
            (root / "comfy_workflows").mkdir()
            settings = Settings.for_project(root)
            home = root / "dagster_home"
            home.mkdir()
            source = EXAMPLE if kind == "postgres" else REPO / "dagster_home" / "dagster.yaml"
            (home / "dagster.yaml").write_text(source.read_text())
            env = {**project_env(settings), "DAGSTER_HOME": str(home), "SPRITES_DAGSTER_URL": "off"}
            if kind == "postgres":
                env.update(pg.env)
            wall = _build(settings, env)
            rows.append((kind, wall))
            print(f"{kind}: {n} sprites cold in {wall:.1f} s", flush=True)
    print("\n| storage | N | cold build | per sprite |\n|---|---:|---:|---:|")
    for kind, wall in rows:
        print(f"| {kind} | {n} | {wall:.1f} s | {wall / n * 1000:.0f} ms |")


def _step_phase(home: Path) -> tuple[float, float]:
    """(run wall, sprite-step phase) of the one run in ``home``, from its event log."""
    from dagster import DagsterEventType, DagsterInstance

    os.environ["DAGSTER_HOME"] = str(home)
    with DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        logs = instance.all_logs(run.run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS})
        sprite = [e for e in logs if (e.step_key or "").startswith("sprite__")]
        first = min(e.timestamp for e in sprite if e.dagster_event_type == DagsterEventType.STEP_START)
        last = max(e.timestamp for e in sprite if e.dagster_event_type == DagsterEventType.STEP_SUCCESS)
        stats = instance.get_run_stats(run.run_id)
        assert stats.start_time is not None and stats.end_time is not None
        return stats.end_time - stats.start_time, last - first


def celery(n: int, latency: float) -> None:
    rows = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            names = [f"m{i:02d}" for i in range(n)]
            project = comfy_project(root / "game", names)
            home = make_dagster_home(root / "dagster_home", {"concurrency": {"pools": {"default_limit": workers}}})
            with contextlib.ExitStack() as stack:
                broker = stack.enter_context(redis_server(root / "redis"))
                gpus = [stack.enter_context(FakeComfyServer(latency=latency)) for _ in range(workers)]
                common = celery_env(project, home, broker)
                for i, gpu in enumerate(gpus, 1):
                    stack.enter_context(
                        celery_worker(f"w{i}", {**common, "SPRITES_COMFYUI_URL": gpu.url}, root / f"w{i}.log")
                    )
                start = time.perf_counter()
                result = subprocess.run(
                    materialize_cmd(names),
                    cwd=REPO,
                    env={**os.environ, "PYTHONPATH": str(REPO), **common, "SPRITES_COMFYUI_URL": gpus[0].url},
                    capture_output=True,
                    text=True,
                )
                wall = time.perf_counter() - start
                if result.returncode != 0:
                    raise SystemExit(f"run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
                renders = [len(g.executions()) for g in gpus]
            run_wall, phase = _step_phase(home)
            rows.append((workers, wall, run_wall, phase, renders))
            print(
                f"{workers} worker(s): {wall:.1f} s command, {phase:.1f} s sprite steps, renders {renders}", flush=True
            )
    print(f"\n{n} ComfyUI sprites, {latency:.1f} s per image, one server per worker\n")
    print("| workers | command wall | run wall | sprite-step phase | sprites/min (phase) | speed-up (phase) |")
    print("|---:|---:|---:|---:|---:|---:|")
    base = rows[0][3]
    for workers, wall, run_wall, phase, _ in rows:
        rate = n / phase * 60
        print(f"| {workers} | {wall:.1f} s | {run_wall:.1f} s | {phase:.1f} s | {rate:.1f} | {base / phase:.2f}x |")
    print(f"\nrun-wall speed-up: {rows[0][2] / rows[1][2]:.2f}x (target >= 1.8x on the step phase)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    st = sub.add_parser("storage")
    st.add_argument("--sprites", type=int, default=500)
    ce = sub.add_parser("celery")
    ce.add_argument("--sprites", type=int, default=16)
    ce.add_argument("--latency", type=float, default=3.0)
    args = parser.parse_args()
    if args.what == "storage":
        storage(args.sprites)
    else:
        celery(args.sprites, args.latency)


if __name__ == "__main__":
    main()
