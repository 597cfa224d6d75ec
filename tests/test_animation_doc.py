"""docs/animation.md's pictures and table are what scripts/animation_figures.py makes of the real pipeline."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import numpy as np
from PIL import Image

from tests.conftest import REPO

DOCS = REPO / "docs"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("animation_figures", REPO / "scripts" / "animation_figures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_guide_shows_what_the_pipeline_makes() -> None:
    figures = _script()
    text = (DOCS / "animation.md").read_text()
    assert figures.table() in text, "run `python scripts/animation_figures.py --table` and paste it"
    fresh, boxes = figures.methods_picture()
    committed = Image.open(DOCS / "animation-methods.png").convert("RGB")
    assert committed.size == fresh.size, "run `python scripts/animation_figures.py`"
    for label, box in boxes.items():  # the frames themselves; labels depend on Pillow's font
        want = np.asarray(fresh.convert("RGB").crop(box))
        assert np.array_equal(np.asarray(committed.crop(box)), want), f"{label} is stale in animation-methods.png"
    sheet, cells = figures.sheet_picture()
    assert len(cells) == 4
    assert np.array_equal(
        np.asarray(Image.open(DOCS / "animation-sheet.png").convert("RGB")), np.asarray(sheet.convert("RGB"))
    )
    for name in ("animation-methods.png", "animation-sheet.png"):
        assert f"]({name})" in text
