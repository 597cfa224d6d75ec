"""The README's gallery (docs/gallery.png) is what scripts/gallery.py makes of the committed Bevy assets."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
from PIL import Image

from tests.conftest import REPO


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gallery", REPO / "scripts" / "gallery.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_gallery_shows_every_built_sprite_as_built() -> None:
    gallery = _script()
    fresh, strips = gallery.gallery(REPO / "bevy_target" / "assets", 1280, gallery.TITLE)
    committed = Image.open(REPO / "docs" / "gallery.png").convert("RGB")
    manifest = json.loads((REPO / "bevy_target/assets/sprites/manifest.json").read_text())
    assert set(strips) == {e["name"] for e in manifest["sprites"]}
    assert committed.size == fresh.size, "run `python scripts/gallery.py` after rebuilding the samples"
    for name, box in strips.items():  # the sprites themselves; labels depend on Pillow's font
        want = np.asarray(fresh.convert("RGB").crop(box))
        assert np.array_equal(np.asarray(committed.crop(box)), want), f"{name} is stale in docs/gallery.png"
    # nearest-neighbour: each sprite pixel is a solid block in the gallery
    knight = np.asarray(fresh.convert("RGB").crop(strips["knight"]))
    assert np.array_equal(knight[::3, ::3].repeat(3, 0).repeat(3, 1), knight)
    assert "docs/gallery.png" in (REPO / "README.md").read_text()
