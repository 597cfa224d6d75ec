"""The embedded procedural backend: deterministic renders at the generation resolution."""

from __future__ import annotations

import io

from PIL import Image

from pipeline.core.generate import make_backend
from pipeline.core.specs.model import SpriteSpec
from pipeline.settings import Settings
from tests.conftest import REPO

SETTINGS = Settings.for_project(REPO)


def _spec(**kw: object) -> SpriteSpec:
    base: dict[str, object] = {"name": "orc", "category": "enemy", "prompt": "a green orc", "seed": 5}
    return SpriteSpec.model_validate({**base, **kw})


def test_same_spec_same_bytes_and_render_resolution() -> None:
    backend = make_backend("procedural", SETTINGS)
    spec = _spec(size="24x16", animation={"frames": 3, "method": "batch"}, generation={"render_scale": 8})
    request = backend.resolve(spec, SETTINGS)
    a = backend.generate(request).frames
    b = make_backend("procedural", SETTINGS).generate(backend.resolve(spec, SETTINGS)).frames
    assert a == b and len(a) == 3
    assert Image.open(io.BytesIO(a[0])).size == (192, 128)
    assert a[0] != a[1], "animation frames differ"


def test_key_tracks_generation_inputs_only() -> None:
    backend = make_backend("procedural", SETTINGS)
    key = backend.resolve(_spec(), SETTINGS).key
    assert backend.resolve(_spec(output={"path": "x/y.png"}), SETTINGS).key == key
    assert backend.resolve(_spec(palette="db16"), SETTINGS).key == key  # palette is the pixel stage's job
    assert backend.resolve(_spec(name="other"), SETTINGS).key == key  # the name is not an input
    assert backend.resolve(_spec(prompt="a red orc"), SETTINGS).key != key
    assert backend.resolve(_spec(seed=6), SETTINGS).key != key
    assert backend.resolve(_spec(size="16x16"), SETTINGS).key != key


def test_render_looks_like_a_diffusion_render_not_pixel_art() -> None:
    backend = make_backend("procedural", SETTINGS)
    frame = backend.generate(backend.resolve(_spec(), SETTINGS)).frames[0]
    image = Image.open(io.BytesIO(frame)).convert("RGB")
    # blur and noise: far more colours than any palette, so the pixel stage has real work to do
    assert len(image.getcolors(1 << 20) or []) > 1000
