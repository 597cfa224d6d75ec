"""The case-family table of ``bench_pixelate.py``: renders made like diffusion output, every method in one run.

Per family (``tests/pixel_scenes.py``), ``n`` cases alternating procedural sprites and Kenney's CC0 tank
bodies, each method gets every frame's PNG bytes, the sprite size and the fixed palette; scored per frame:

  colour %  of the truth's opaque pixels, those the output has opaque and exactly the right colour
  alpha %   of all pixels, those whose opacity is right (a method without transparency: all opaque)
  size      outputs of exactly the asked size / all (a wrong-size output is scaled by NEAREST to score it)
  ms        per render, PNG decode included: median over frames (ours: best of --repeat runs; peers: one)
A method that raises on a case scores 0 on it and is counted in ``failed``.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from benchmarks.pixel_peers import FamilyJob, Method
from tests.pixel_scenes import FAMILIES, Case, make_case

__all__ = ["FamilyRow", "family_rows"]


@dataclass
class FamilyRow:
    method: str
    family: str
    colour: float
    alpha: float
    size_ok: int
    frames: int
    failed: int
    ms: float
    decode_ms: float  # of which PNG decode (best of the same repeats, median over frames)


def _score(out: np.ndarray, truth: np.ndarray) -> tuple[float, float, bool]:
    size_ok = out.shape[:2] == truth.shape[:2]
    if not size_ok:
        mode = "RGBA" if out.shape[2] == 4 else "RGB"
        out = np.asarray(Image.fromarray(out, mode).resize(truth.shape[1::-1], Image.Resampling.NEAREST))
    t_alpha = truth[..., 3] > 0
    o_alpha = out[..., 3] > 0 if out.shape[2] == 4 else np.ones(out.shape[:2], dtype=bool)
    colour = float(((out[..., :3] == truth[..., :3]).all(axis=2) & o_alpha)[t_alpha].mean())
    return colour, float((t_alpha == o_alpha).mean()), size_ok


def _decode_ms(png: bytes, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        Image.open(io.BytesIO(png)).load()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def family_rows(methods: list[Method], n: int, repeat: int) -> tuple[list[FamilyRow], list[str]]:
    """One row per (method, family); the names of methods that are unavailable, with why."""
    cases: dict[str, list[Case]] = {f: [make_case(f, i) for i in range(n)] for f in FAMILIES}
    rows, skipped = [], []
    for method in methods:
        if method.unavailable:
            skipped.append(f"{method.name}: {method.unavailable}")
            continue
        for family, items in cases.items():
            colours, alphas, times, decodes, size_ok, frames, failed = [], [], [], [], 0, 0, 0
            for case in items:
                for png, truth in zip(case.frames, case.truths, strict=True):
                    job = FamilyJob(png, case.size, case.palette, case.background)
                    frames += 1
                    best, out = float("inf"), None
                    try:
                        for _ in range(repeat if method.name == "ours" else 1):  # peers take seconds
                            start = time.perf_counter()
                            out = method.run(job)  # type: ignore[arg-type]
                            best = min(best, time.perf_counter() - start)
                    except Exception as exc:  # a peer failing on a case is a result, not a crash
                        print(f"  {method.name} {case.name}: {type(exc).__name__}: {exc}"[:300], file=sys.stderr)
                        failed += 1
                        colours.append(0.0)
                        alphas.append(0.0)
                        continue
                    assert out is not None
                    c, a, ok = _score(out, truth)
                    colours.append(c)
                    alphas.append(a)
                    size_ok += ok
                    times.append(best * 1000)
                    decodes.append(_decode_ms(png, repeat if method.name == "ours" else 1))
            rows.append(
                FamilyRow(
                    method.name,
                    family,
                    100 * statistics.mean(colours),
                    100 * statistics.mean(alphas),
                    size_ok,
                    frames,
                    failed,
                    statistics.median(times) if times else float("nan"),
                    statistics.median(decodes) if decodes else float("nan"),
                )
            )
            print(f"  {method.name} {family}: {rows[-1].colour:.2f} % colour", file=sys.stderr)
    return rows, skipped
