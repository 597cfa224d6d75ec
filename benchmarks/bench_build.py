"""Build benchmark: full build, no-op rebuild and one-changed-spec rebuild for N generated specs.

    python benchmarks/bench_build.py                 # N = 10, 100, 500
    python benchmarks/bench_build.py --sizes 100 500 2000   # the caching targets (issue 4)

Each N gets a fresh project in a temporary folder (its own Dagster home, cache and Bevy folder) and
runs the real `sprites build` command as a subprocess, as a user would. "hash inputs" is the floor a
no-op rebuild is compared against: reading and sha256-hashing every spec file and workflow template.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CATEGORIES = ["character", "enemy", "item", "tile", "ui", "effect", "prop"]
PALETTES = [
    "pico-8",
    "db16",
    "db32",
    "endesga-32",
    "gameboy",
    "nes",
    "{adaptive: 8}",
    '["#000000", "#ffffff", "#ff0000"]',
]


def write_specs(specs_dir: Path, n: int) -> None:
    specs_dir.mkdir(parents=True)
    shutil.copy(REPO / "sprite_specs" / "_defaults.yaml", specs_dir / "_defaults.yaml")
    for i in range(n):
        cat = CATEGORIES[i % len(CATEGORIES)]
        frames = 4 if i % 10 == 0 else 1
        (specs_dir / cat).mkdir(exist_ok=True)
        (specs_dir / cat / f"s{i:05d}.yaml").write_text(
            f"name: s{i:05d}\ncategory: {cat}\nprompt: generated sprite number {i}, a {cat}\n"
            f"size: {16 if i % 3 else 32}x{16 if i % 3 else 32}\nseed: {i}\n"
            f"palette: {PALETTES[i % len(PALETTES)]}\nanimation: {{frames: {frames}}}\n"
        )


def hash_inputs(project: Path) -> float:
    start = time.perf_counter()
    for folder in ("sprite_specs", "comfy_workflows"):
        for p in sorted((project / folder).rglob("*")):
            if p.is_file():
                hashlib.sha256(p.read_bytes()).hexdigest()
    return time.perf_counter() - start


def noop_decision(project: Path) -> float:
    """In-process time for `sprites build` to decide that nothing needs building (the fast path)."""
    from pipeline.settings import Settings
    from pipeline.state.inputs import noop_for

    settings = Settings.for_project(project)
    start = time.perf_counter()
    known = noop_for(settings)
    elapsed = time.perf_counter() - start
    assert known is not None, "fast path not taken"
    return elapsed


def sprites(project: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "DAGSTER_HOME": str(project / "dagster_home"), "SPRITES_PROJECT_DIR": str(project)}
    env.pop("SPRITES_ASSETS_DIR", None)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", "from pipeline.faces.cli import run; run()", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"sprites {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    last = [line for line in out.stdout.splitlines() if " built, " in line]
    return elapsed, (last[-1] if last else "")


def bench(n: int) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory(prefix=f"sprites-bench-{n}-") as tmp:
        project = Path(tmp)
        write_specs(project / "sprite_specs", n)
        shutil.copytree(REPO / "comfy_workflows", project / "comfy_workflows", dirs_exist_ok=True)
        (project / "dagster_home").mkdir()
        shutil.copy(REPO / "dagster_home" / "dagster.yaml", project / "dagster_home" / "dagster.yaml")
        full, _ = sprites(project, "build")
        noop, noop_line = sprites(project, "build")
        spec = project / "sprite_specs" / "enemy" / "s00001.yaml"
        spec.write_text(spec.read_text().replace("generated sprite", "edited sprite"))
        one, one_line = sprites(project, "build")
        sprites(project, "build")  # the no-op that follows a change records the fast-path fingerprint
        hashing = min(hash_inputs(project) for _ in range(5))
        decision = min(noop_decision(project) for _ in range(5))
        assert "0 built" in noop_line, noop_line
        assert one_line.startswith("1 built"), one_line
        return {"n": n, "full": full, "noop": noop, "one": one, "hash": hashing, "decision": decision}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500])
    args = parser.parse_args()
    rows = [bench(n) for n in args.sizes]
    header = ("N", "full build", "per sprite", "no-op CLI", "1 changed", "hash inputs", "no-op decision", "ratio")
    print("{:>6} {:>11} {:>11} {:>10} {:>10} {:>12} {:>15} {:>6}".format(*header))
    for r in rows:
        n, full, noop, one = int(r["n"]), float(r["full"]), float(r["noop"]), float(r["one"])
        hashing, decision = float(r["hash"]), float(r["decision"])
        print(
            f"{n:>6} {full:>10.2f}s {1000 * full / n:>9.1f}ms {noop:>9.2f}s {one:>9.2f}s "
            f"{1000 * hashing:>10.1f}ms {1000 * decision:>13.1f}ms {decision / hashing:>5.1f}x"
        )
    print("no-op CLI: wall clock of the `sprites build` process (interpreter start and imports included);")
    print("no-op decision: in-process time to conclude nothing is stale; ratio = decision / hash inputs.")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
