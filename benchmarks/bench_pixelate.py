"""Benchmark: recovering true pixel art from fake-pixel renders, against peers, in one run.

    python benchmarks/bench_pixelate.py            # 6 sprites per case, best of 3 timings
    python benchmarks/bench_pixelate.py --quick    # 2 sprites per case, one timing

The set is generated here, deterministically: sprites drawn at logical size with colours from a
palette (PICO-8, DB32, Endesga 32 in turn), rendered at 1024x1024 by upscaling 8x or 16x with the
grid aligned or offset (up to half a cell, either way), then degraded: blur (s/8), noise (6),
per-cell shade jitter (+-6), brightness drift (5 %), JPEG (q85). Each method gets the PNG bytes,
the sprite size and scale, and the palette (fixed) or the number of colours the art uses (adaptive).

Metrics, over the sprite's pixels (the truth's opaque ones):
  exact %   fixed: output colour == true colour; adaptive: output colour == the output colour nearest
            (OKLab) to the true colour, so a palette of N colours is judged on its own terms
  dE        mean OKLab distance between output and true colour, x100 (palette error)
  colours   most colours any output used, and whether every output kept to what was asked
  ms        time per sprite, PNG decode included: median over sprites of the best of --repeat runs
Peers do not remove backgrounds, so in adaptive mode they get one more colour for it. A peer whose
output is smaller (it drops partial cells) is scored at its best alignment within one pixel.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere: the repo's own code

from benchmarks.pixel_families import FamilyRow, family_rows
from benchmarks.pixel_peers import FAMILY_METHODS, METHODS, Job, Method
from pipeline.core.pixelate.color import hex_to_rgb, nearest_palette_index, srgb_to_oklab
from pipeline.core.pixelate.palettes import NAMED_PALETTES
from tests.pixel_fixtures import Degrade, make_fixture

RENDER = 1024
PALETTES = ("pico-8", "db32", "endesga-32")
KINDS = ("creature", "item", "tile")
CASES = (("8x aligned", 8, False), ("8x offset", 8, True), ("16x aligned", 16, False), ("16x offset", 16, True))
MODES = ("fixed", "adaptive")
TARGET = {"fixed": 99.0, "adaptive": 98.0, "ms": 50.0}
FAMILY_TARGET = {"colour": 99.0, "alpha": 99.0, "ms": 60.0}


@dataclass
class Sprite:
    job: Job
    truth: np.ndarray


@dataclass
class Row:
    method: str
    case: str
    mode: str
    exact: float
    delta_e: float
    colours: int
    within: bool
    ms: float


def build_set(per_case: int) -> dict[tuple[str, str], list[Sprite]]:
    """The benchmark set: per (case, mode), ``per_case`` sprites rendered at 1024x1024."""
    out: dict[tuple[str, str], list[Sprite]] = {}
    for case, scale, offset in CASES:
        for mode in MODES:
            sprites = []
            for i in range(per_case):
                seed = 1000 * scale + 100 * offset + 10 * MODES.index(mode) + i
                rng = np.random.default_rng(seed)
                name = PALETTES[i % 3]
                kind = KINDS[(i + i // 3) % 3]
                pal = hex_to_rgb(NAMED_PALETTES[name])
                colours = pal[rng.choice(len(pal), int(rng.integers(5, 13)), replace=False)]
                shift = (0, 0)
                if offset:
                    shift = tuple(int(v) * int(rng.choice([-1, 1])) for v in rng.integers(1, scale // 2 + 1, 2))
                cells = RENDER // scale
                fx = make_fixture(f"{case}-{i}", kind, (cells, cells), colours, Degrade(scale, shift), seed)
                job = Job(
                    png=fx.png,
                    size=fx.size,
                    scale=scale,
                    palette=NAMED_PALETTES[name] if mode == "fixed" else None,
                    palette_name=name if mode == "fixed" else None,
                    colours=len(fx.colours),
                    background=kind != "tile",
                )
                sprites.append(Sprite(job, fx.truth))
            out[(case, mode)] = sprites
    return out


def _align(out: np.ndarray, shape: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Placements of ``out`` in a frame of ``shape``: (pixels, covered) for each shift within a pixel."""
    h, w = shape
    if out.shape[:2] == (h, w):
        return [(out, np.ones((h, w), dtype=bool))]
    placed = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            frame = np.zeros((h, w, out.shape[2]), dtype=np.uint8)
            covered = np.zeros((h, w), dtype=bool)
            ys, xs = slice(max(dy, 0), min(h, out.shape[0] + dy)), slice(max(dx, 0), min(w, out.shape[1] + dx))
            src = out[ys.start - dy : ys.stop - dy, xs.start - dx : xs.stop - dx]
            frame[ys, xs], covered[ys, xs] = src, True
            placed.append((frame, covered))
    return placed


def score(out: np.ndarray, sprite: Sprite) -> tuple[float, float, int, bool]:
    """(exact share, mean dE x100, colours used, kept to the ask) of one output over the sprite's pixels."""
    truth, job = sprite.truth, sprite.job
    mask = truth[..., 3] > 0
    opaque_out = out[..., 3] > 0 if out.shape[2] == 4 else np.ones(out.shape[:2], dtype=bool)
    used = np.unique(out[opaque_out][:, :3], axis=0)
    if job.palette is not None:
        within = {tuple(c) for c in used} <= {tuple(c) for c in hex_to_rgb(job.palette)}
        expected = truth[..., :3]
    else:
        within = len(used) <= job.colours + (0 if out.shape[2] == 4 or not job.background else 1)
        expected = used[nearest_palette_index(truth[..., :3], used)] if len(used) else truth[..., :3]
    best = (-1.0, 0.0)
    for frame, covered in _align(out, truth.shape[:2]):
        visible = covered & (frame[..., 3] > 0 if frame.shape[2] == 4 else True)
        hit = mask & visible & (frame[..., :3] == expected).all(axis=2)
        exact = float(hit.sum() / mask.sum())
        if exact > best[0]:
            both = mask & visible
            de = srgb_to_oklab(frame[..., :3][both]) - srgb_to_oklab(truth[..., :3][both])
            best = (exact, float(np.linalg.norm(de, axis=1).mean() * 100) if both.any() else 100.0)
    return best[0], best[1], len(used), within


def run_method(method: Method, sprites: list[Sprite], repeat: int) -> tuple[list[float], list[tuple]]:
    times, scores = [], []
    for sprite in sprites:
        best, out = float("inf"), None
        for _ in range(repeat):
            start = time.perf_counter()
            out = method.run(sprite.job)
            best = min(best, time.perf_counter() - start)
        times.append(best * 1000)
        scores.append(score(out, sprite))
    return times, scores


def decode_ms(sprites: list[Sprite], repeat: int) -> float:
    times = []
    for s in sprites:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            Image.open(io.BytesIO(s.job.png)).load()
            best = min(best, time.perf_counter() - start)
        times.append(best * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 sprites per case, one timing run")
    ap.add_argument("--sprites", type=int, help="sprites per case (default 6, quick 2)")
    ap.add_argument("--repeat", type=int, help="timing runs per sprite, best kept (default 3, quick 1)")
    ap.add_argument(
        "--methods", default="ours,pillow,unfake,unfake-auto,pixeloe,proper-pixel-art", help="comma-separated"
    )
    ap.add_argument("--cases", type=int, help="cases per family (default 6, quick 2)")
    ap.add_argument("--only", choices=("aligned", "families"), help="run one of the two tables")
    args = ap.parse_args(argv)
    status = 0
    if args.only != "aligned":
        cases = args.cases or (2 if args.quick else 6)
        status |= families_table(cases, args.repeat or (1 if args.quick else 3), args.methods.split(","))
    if args.only == "families":
        return status
    per_case = args.sprites or (2 if args.quick else 6)
    repeat = args.repeat or (1 if args.quick else 3)
    wanted = [m.strip() for m in args.methods.split(",")]

    print(f"# pixelate benchmark: {per_case} sprites x {len(CASES)} cases x {len(MODES)} modes, {RENDER}px renders")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.2f}; best of {repeat}")
    sets = build_set(per_case)
    every = [s for v in sets.values() for s in v]
    print(f"# PNG decode alone: {decode_ms(every, repeat):.1f} ms per render (median)\n")

    rows: list[Row] = []
    skipped: list[str] = []
    for method in (m for m in METHODS if m.name in wanted):
        if method.unavailable:
            skipped.append(f"{method.name}: {method.unavailable}")
            continue
        for (case, mode), sprites in sets.items():
            times, scores = run_method(method, sprites, repeat)
            rows.append(
                Row(
                    method.name,
                    case,
                    mode,
                    exact=100 * statistics.mean(s[0] for s in scores),
                    delta_e=statistics.mean(s[1] for s in scores),
                    colours=max(s[2] for s in scores),
                    within=all(s[3] for s in scores),
                    ms=statistics.median(times),
                )
            )
            print(f"  {method.name} {case} {mode}: {rows[-1].exact:.2f} %", file=sys.stderr)

    header = f"| {'method':11s} | {'case':11s} | {'mode':8s} | exact % |    dE | colours | ms/sprite |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        colours = f"{r.colours:3d} {'ok' if r.within else 'OVER'}"
        print(
            f"| {r.method:11s} | {r.case:11s} | {r.mode:8s} | {r.exact:7.2f} | {r.delta_e:5.2f} | {colours:7s} "
            f"| {r.ms:9.1f} |"
        )
    for line in skipped:
        name, why = line.split(": ", 1)
        print(f"| {name:11s} | {'(all)':11s} | {'':8s} | {why} |")
    print()
    for method in METHODS:
        print(f"# {method.name}: {method.note}")

    ours = [r for r in rows if r.method == "ours"]
    if ours:
        failed = [
            f"{r.case} {r.mode}: {what}"
            for r in ours
            for what, bad in (
                (f"exact {r.exact:.2f} < {TARGET[r.mode]}", r.exact < TARGET[r.mode]),
                (f"{r.ms:.1f} ms > {TARGET['ms']}", r.ms > TARGET["ms"]),
                ("more colours than asked", not r.within),
            )
            if bad
        ]
        verdict = "all targets met" if not failed else "MISSED: " + "; ".join(failed)
        print(f"\n# targets (>= 99 % fixed, >= 98 % adaptive, <= 50 ms, no extra colours): {verdict}")
        return status | (0 if not failed else 1)
    return status


def families_table(n: int, repeat: int, wanted: list[str]) -> int:
    """The case-family table (renders made like diffusion output); 1 when ours misses a target."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# case families: {n} cases each (half procedural, half Kenney CC0 art), fixed palette; load {load:.2f}")
    methods = [m for m in FAMILY_METHODS if m.name in wanted]
    rows, skipped = family_rows(methods, n, repeat)
    header = (
        f"| {'method':16s} | {'family':11s} | colour % | alpha % | right size | failed | ms/render | of which decode |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        print(
            f"| {r.method:16s} | {r.family:11s} | {r.colour:8.2f} | {r.alpha:7.2f} | {r.size_ok:4d} / {r.frames:<3d} "
            f"| {r.failed:6d} | {r.ms:9.1f} | {r.decode_ms:15.1f} |"
        )
    for line in skipped:
        name, why = line.split(": ", 1)
        print(f"| {name:16s} | {'(all)':11s} | {why} |")
    print()
    ours: list[FamilyRow] = [r for r in rows if r.method == "ours"]
    missed = [
        f"{r.family}: {what}"
        for r in ours
        for what, bad in (
            (f"colour {r.colour:.2f}", r.colour < FAMILY_TARGET["colour"]),
            (f"alpha {r.alpha:.2f}", r.alpha < FAMILY_TARGET["alpha"]),
            (f"size {r.size_ok}/{r.frames}", r.size_ok != r.frames),
            (f"{r.ms:.1f} ms", r.ms > FAMILY_TARGET["ms"]),
        )
        if bad
    ]
    verdict = "all targets met" if not missed else "MISSED: " + "; ".join(missed)
    print(f"# family targets (>= 99 % colour, >= 99 % alpha, right size, <= 60 ms incl. decode): {verdict}\n")
    return 0 if not missed or not ours else 1


if __name__ == "__main__":
    raise SystemExit(main())
