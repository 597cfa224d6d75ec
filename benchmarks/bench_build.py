"""Build benchmark: full build, no-op rebuild and one-changed-spec rebuild for N generated specs.

    python benchmarks/bench_build.py                 # N = 10, 100, 500
    python benchmarks/bench_build.py --sizes 100 500 2000

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


def sprites(project: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "DAGSTER_HOME": str(project / "dagster_home"), "SPRITES_PROJECT_DIR": str(project)}
    env.pop("SPRITES_ASSETS_DIR", None)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", "from pipeline.cli import main; main()", *args],
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
        hashing = min(hash_inputs(project) for _ in range(3))
        assert "0 built" in noop_line, noop_line
        assert one_line.startswith("1 built"), one_line
        return {"n": n, "full": full, "noop": noop, "one": one, "hash": hashing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500])
    args = parser.parse_args()
    rows = [bench(n) for n in args.sizes]
    print(
        f"{'N':>6} {'full build':>11} {'per sprite':>11} {'no-op':>8} {'1 changed':>10} "
        f"{'hash inputs':>12} {'no-op/hash':>11}"
    )
    for r in rows:
        n, full, noop, one, hashing = (r["n"], r["full"], r["noop"], r["one"], r["hash"])
        print(
            f"{n:>6} {full:>10.2f}s {1000 * full / n:>9.1f}ms {noop:>7.2f}s {one:>9.2f}s "
            f"{1000 * hashing:>10.1f}ms {noop / hashing:>10.0f}x"
        )
    print(
        "(wall clock of `sprites build` subprocesses incl. interpreter start; machine:"
        f" {os.cpu_count()} cores, Python {sys.version.split()[0]})"
    )


if __name__ == "__main__":
    main()
