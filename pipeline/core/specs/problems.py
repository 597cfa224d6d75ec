"""Spec problems as the UI shows them: one item per bad spec file, named and described (no Dagster import)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from pipeline.errors import SpecProblem

__all__ = ["by_file", "file_slug", "problems_digest", "summary_line"]


def by_file(problems: Iterable[SpecProblem]) -> dict[str, list[SpecProblem]]:
    """Problems grouped by the spec file they point at, files sorted, problems in line order."""
    out: dict[str, list[SpecProblem]] = {}
    for p in problems:
        out.setdefault(p.file, []).append(p)
    return {f: sorted(ps, key=lambda p: (p.line or 0, p.sprite or "", p.field or "")) for f, ps in sorted(out.items())}


def file_slug(file: str) -> str:
    """An asset-key part for a spec file: ``enemies/goblin.yaml`` -> ``enemies__goblin_yaml``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", file.replace("/", "__")).strip("_") or "specs"


def summary_line(file: str, problems: list[SpecProblem]) -> str:
    """One line for the asset graph: the first problem, and how many more there are."""
    first = problems[0]
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"INVALID spec {first}{more}"


def problems_digest(problems: Iterable[SpecProblem]) -> str:
    """A short hash of the problems' text: tells a new set of problems from one already reported."""
    return hashlib.sha256("\n".join(str(p) for p in problems).encode()).hexdigest()[:16]
