"""The artists' guide to candidates and its picture (docs/candidates.png, drawn by scripts/candidates_picture.py)."""

from __future__ import annotations

import importlib.util

import numpy as np
from PIL import Image

from tests.conftest import REPO


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("candidates_picture", REPO / "scripts" / "candidates_picture.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_picture_shows_what_the_pipeline_makes_of_the_candidates() -> None:
    fresh, boxes = _script().picture()
    committed = Image.open(REPO / "docs" / "candidates.png").convert("RGB")
    assert committed.size == fresh.size, "run `python scripts/candidates_picture.py`"
    assert len(boxes) == 8  # four candidates, each a render and its pixel art
    for name, box in boxes.items():  # the images themselves; the labels depend on Pillow's font
        want = np.asarray(fresh.convert("RGB").crop(box))
        assert np.array_equal(np.asarray(committed.crop(box)), want), f"{name} is stale in docs/candidates.png"
    pixel = [np.asarray(fresh.convert("RGB").crop(boxes[f"{i}-pixel"])) for i in range(4)]
    assert len({p.tobytes() for p in pixel}) == 4  # four seeds, four different sprites


def test_the_guide_and_the_readme_point_at_each_other() -> None:
    guide = (REPO / "docs" / "candidates.md").read_text()
    assert "](candidates.png)" in guide and "sprites pick slime 2" in guide
    readme = (REPO / "README.md").read_text()
    assert "docs/candidates.md" in readme and "`sprites pick NAME [INDEX] [--build]`" in readme
