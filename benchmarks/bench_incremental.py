"""Incremental-build benchmark: the no-op rebuild and the rebuild of one edited spec, at N sprites.

    python benchmarks/bench_incremental.py                  # N = 100, 500, 2000
    python benchmarks/bench_incremental.py --sizes 500 --runs 5

Each N gets a fresh project (the same generated specs as bench_build.py). It is built once with the
stage functions and the real publish step, without Dagster (a full build through Dagster of 2000 sprites
takes minutes and is bench_build.py's subject); then the real `sprites build` command is timed as a user
runs it, as a subprocess, interpreter start-up included:

* no-op: nothing changed (the fast path); "hash inputs" is its floor, reading and hashing every input;
* one edited: one spec's prompt edited, so one sprite is regenerated, exported and published;
* bare Dagster: a fresh process materializing one trivial asset (what any Dagster build costs at least).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench_build import noop_decision, sprites, write_specs  # noqa: E402

BARE_DAGSTER = """
import dagster as dg
@dg.asset
def one() -> int:
    return 1
dg.materialize([one], instance=dg.DagsterInstance.ephemeral())
"""


def seed(project: Path) -> None:
    """Build every sprite with the stage functions and publish them: the state a finished build leaves."""
    from pipeline.core.generate import make_backend, resolve_requests
    from pipeline.core.specs import load_specs
    from pipeline.settings import Settings
    from pipeline.state import inputs
    from pipeline.state.cache import ContentCache
    from pipeline.state.fastpath import remember_if_current
    from pipeline.state.publish import publish_run, record_export
    from pipeline.state.stages import export_stage, generate_stage, pixelate_stage

    settings = Settings.for_project(project)
    snapshot = inputs.hash_tree(settings.specs_dir, settings.workflows_dir)
    spec_set = load_specs(settings.specs_dir)
    requests = resolve_requests(spec_set, settings)
    cache = ContentCache(settings.cache_dir)
    backend = make_backend("procedural", settings)
    run_id = uuid.uuid4().hex
    for loaded in spec_set:
        request = requests[loaded.name]
        raw = generate_stage(request, backend, cache)
        pixel = pixelate_stage(loaded.spec, raw, cache)
        out = export_stage(loaded.spec, loaded.file, request, raw, pixel, settings)
        record_export(settings, run_id, loaded.name, out)
    publish_run(settings, run_id, all_names=spec_set.specs)
    assert remember_if_current(settings, spec_set, requests, snapshot).current


def sprites_build(project: Path) -> tuple[float, str]:
    return sprites(project, "build")


def hash_floor(project: Path) -> float:
    from pipeline.state.inputs import hash_tree

    start = time.perf_counter()
    hash_tree(project / "sprite_specs", project / "comfy_workflows")
    return time.perf_counter() - start


def bare_dagster() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE_DAGSTER], check=True, capture_output=True)
    return time.perf_counter() - start


def bench(n: int, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"sprites-incr-{n}-") as tmp:
        project = Path(tmp)
        write_specs(project / "sprite_specs", n)
        shutil.copytree(REPO / "comfy_workflows", project / "comfy_workflows")
        (project / "dagster_home").mkdir()
        shutil.copy(REPO / "dagster_home" / "dagster.yaml", project / "dagster_home")
        seed(project)
        noop = []
        for _ in range(runs):
            seconds, line = sprites_build(project)
            assert line.startswith("0 built"), line
            noop.append(seconds)
        decision = min(noop_decision(project) for _ in range(5))
        spec = project / "sprite_specs" / "enemy" / "s00001.yaml"
        original = spec.read_text()
        one = []
        for i in range(runs):
            spec.write_text(original.replace("generated sprite", f"edited ({i}) sprite"))
            seconds, line = sprites_build(project)
            assert line.startswith("1 built"), line
            one.append(seconds)
        return {
            "n": n,
            "noop": statistics.median(noop),
            "hash": min(hash_floor(project) for _ in range(5)),
            "decision": decision,
            "one": statistics.median(one),
            "one_min": min(one),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure (median shown)")
    args = parser.parse_args()
    bare = statistics.median(bare_dagster() for _ in range(args.runs))
    rows = [bench(n, args.runs) for n in args.sizes]
    head = ("N", "no-op CLI", "hash inputs", "no-op decision", "ratio", "1 edited (median)", "(min)")
    print("{:>6} {:>10} {:>12} {:>15} {:>6} {:>18} {:>7}".format(*head))
    for r in rows:
        print(
            f"{int(r['n']):>6} {r['noop']:>9.2f}s {1000 * r['hash']:>10.1f}ms {1000 * r['decision']:>13.1f}ms "
            f"{r['decision'] / r['hash']:>5.1f}x {r['one']:>17.2f}s {r['one_min']:>6.2f}s"
        )
    print(f"bare Dagster (fresh process, one trivial asset materialized): {bare:.2f}s")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
