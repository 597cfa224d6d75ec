"""The procedural backend's drawings: the subject a prompt names, no specks, recovered exactly by the pixel
stage, in the committed Bevy PNGs too, and animations that move the same thing."""

from __future__ import annotations

import io
from collections import Counter, defaultdict

import numpy as np
import pytest
from PIL import Image

from pipeline.core.generate import make_backend
from pipeline.core.generate.art import draw, subject_for
from pipeline.core.generate.art.canvas import MIN_SPECK, components
from pipeline.core.pixelate.alpha import add_outline
from pipeline.core.specs import LoadedSpec, SpriteSpec, load_specs
from pipeline.settings import Settings
from pipeline.state.stages import pixelate_images
from tests.conftest import REPO

SETTINGS = Settings.for_project(REPO)
SAMPLES = list(load_specs(REPO / "sprite_specs"))
SAMPLE_SUBJECTS = {
    "fireball": "fire",
    "goblin": "goblin",
    "gold-coin": "coin",
    "grass-tile": "tile:grass",
    "health-potion": "potion",
    "iron-sword": "sword",
    "knight": "knight",
    "knight-walk": "knight",
    "play-button": "button",
    "skeleton": "skeleton",
    "slime": "slime",
    "stone-wall": "tile:bricks",
    "wizard": "wizard",
    "wooden-chest": "chest",
}
#: (category, prompt, subject): prompt words first, in priority order; then the category; then a gem
MORE = [
    ("enemy", "goblin with a rusty dagger", "goblin"),
    ("character", "a wizard holding a glowing sword", "wizard"),
    ("item", "red health potion", "potion"),
    ("prop", "an oak tree", "tree"),
    ("ui", "red heart, health icon", "heart"),
    ("ui", "close button", "button"),
    ("ui", "inventory window", "panel"),
    ("vfx", "magic sparkle", "sparkle"),
    ("item", "blue crystal", "gem"),
    ("npc", "a shopkeeper", "villager"),
    ("portrait", "the queen", "portrait"),
    ("weapon", "an heirloom", "sword"),
    ("prop", "something", "crate"),
    ("effect", "something", "sparkle"),
    ("custom_kind", "something", "gem"),
    ("tile", "blue water", "tile:water"),
    ("item", "sand tile", "tile:sand"),
    ("tile", "wooden floor", "tile:planks"),
    ("tile", "mystery", "tile:bricks"),
]


def _frames(spec: SpriteSpec, seed: int | None = None) -> list[np.ndarray]:
    s = spec.effective_seed if seed is None else seed
    n = spec.animation.frames
    return [draw(spec.category, spec.prompt, spec.size.width, spec.size.height, s, i, n) for i in range(n)]


def _specks(mask: np.ndarray) -> list[int]:
    labels, count = components(mask)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return [int(n) for n in sizes if n < MIN_SPECK]


def _expected_mask(spec: SpriteSpec, drawing: np.ndarray) -> np.ndarray:
    """What the pixel stage should leave opaque for this drawing and these pixel settings."""
    mask = drawing[..., 3] > 0
    if spec.pixel.background == "none":
        mask = np.ones_like(mask)
    if spec.pixel.outline:
        mask = mask | add_outline(mask)
    return mask


def test_each_sample_draws_what_its_prompt_names() -> None:
    assert {s.name: subject_for(s.spec.category, s.spec.prompt) for s in SAMPLES} == SAMPLE_SUBJECTS


@pytest.mark.parametrize(("category", "prompt", "subject"), MORE)
def test_subject_from_prompt_then_category(category: str, prompt: str, subject: str) -> None:
    assert subject_for(category, prompt) == subject


CASES = [
    (s.spec.category, s.spec.prompt, s.spec.size.width, s.spec.size.height, s.spec.animation.frames) for s in SAMPLES
]
CASES += [(c, p, 24, 24, 1) for c, p, _ in MORE] + [(c, p, 16, 16, 4) for c, p, _ in MORE[:8]]


@pytest.mark.parametrize(("category", "prompt", "w", "h", "frames"), CASES, ids=[f"{c[0]}:{c[1][:24]}" for c in CASES])
def test_no_specks_outlined_and_clean_border_over_seeds(
    category: str, prompt: str, w: int, h: int, frames: int
) -> None:
    tile = subject_for(category, prompt).startswith("tile:")
    for seed in [*range(10), 2**40 + 3]:
        for frame in range(frames):
            sprite = draw(category, prompt, w, h, seed, frame, frames)
            opaque = sprite[..., 3] > 0
            assert _specks(opaque) == [], (seed, frame)
            assert set(np.unique(sprite[..., 3]).tolist()) <= {0, 255}
            if tile:
                assert opaque.all()
                continue
            ring = np.concatenate([opaque[0], opaque[-1], opaque[1:-1, 0], opaque[1:-1, -1]])
            assert ring.mean() < 0.4, "the border must be mostly background, for the pixel stage to find it"
            assert opaque.sum() > 0.15 * w * h
            dark = sprite[..., :3].astype(int).sum(axis=2) < 140
            edge = opaque & ~np.pad(opaque, 1)[2:, 1:-1] | opaque & ~np.pad(opaque, 1)[:-2, 1:-1]
            assert dark[edge].mean() > 0.9, "outlined: the silhouette's top and bottom edges are dark"


def test_same_request_same_pixels_and_seeds_vary_details() -> None:
    spec = next(s.spec for s in SAMPLES if s.name == "knight")
    assert all(np.array_equal(a, b) for a, b in zip(_frames(spec), _frames(spec), strict=True))
    variants = {_frames(spec, seed)[0].tobytes() for seed in range(8)}
    assert len(variants) > 1


@pytest.mark.parametrize("name", ["knight-walk", "slime", "fireball"])
def test_animation_frames_move_the_same_thing(name: str) -> None:
    spec = next(s.spec for s in SAMPLES if s.name == name)
    frames = _frames(spec)
    masks = [f[..., 3] > 0 for f in frames]
    assert len({f.tobytes() for f in frames}) >= 2, "the frames differ"
    for a, b in zip(masks, masks[1:] + masks[:1], strict=True):
        assert (a & b).sum() / (a | b).sum() > 0.6, "consecutive frames overlap: one thing moving"
    colours = [{tuple(c) for c in f[f[..., 3] > 0][:, :3].tolist()} for f in frames]
    assert all(len(c & colours[0]) >= 0.8 * len(colours[0]) for c in colours), "the same colours in every frame"


def _recovered(loaded: LoadedSpec) -> list[np.ndarray]:
    backend = make_backend("procedural", SETTINGS)
    raw = backend.generate(backend.resolve(loaded.spec, SETTINGS))
    result = pixelate_images(loaded.spec, [Image.open(io.BytesIO(f)) for f in raw.frames])
    return [np.asarray(f) for f in result.frames]


def _as_placed(spec: SpriteSpec, outputs: list[np.ndarray]) -> list[np.ndarray]:
    """The drawings where the pixel stage placed them: a sheet's frames are cut around their content (all
    moved by one offset, which keeps the motion); every other render is the sprite's own frame."""
    drawings = _frames(spec)
    if spec.animation.frames == 1 or spec.animation.method != "sheet":
        return drawings
    shifts = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)]

    def misses(shift: tuple[int, int]) -> int:
        moved = [np.roll(d, shift, axis=(0, 1)) for d in drawings]
        return sum(int((_expected_mask(spec, m) != (o[..., 3] > 0)).sum()) for m, o in zip(moved, outputs, strict=True))

    best = min(shifts, key=misses)  # one offset for every frame
    return [np.roll(d, best, axis=(0, 1)) for d in drawings]


def _assert_as_clean_as_the_drawing(spec: SpriteSpec, outputs: list[np.ndarray]) -> None:
    mapping: dict[tuple[int, ...], Counter[tuple[int, ...]]] = defaultdict(Counter)
    for drawing, out in zip(_as_placed(spec, outputs), outputs, strict=True):
        opaque = out[..., 3] > 0
        assert opaque.tolist() == _expected_mask(spec, drawing).tolist(), "exactly the drawn silhouette"
        assert _specks(opaque) == []
        drawn = drawing[..., 3] > 0
        for a, b in zip(drawing[drawn][:, :3].tolist(), out[drawn][:, :3].tolist(), strict=True):
            mapping[tuple(a)][tuple(b)] += 1
    total = sum(sum(c.values()) for c in mapping.values())
    strays = sum(sum(c.values()) - max(c.values()) for c in mapping.values())
    assert strays <= 0.01 * total, f"{strays} of {total} pixels left their drawn colour's palette entry"


@pytest.mark.parametrize("loaded", SAMPLES, ids=[s.name for s in SAMPLES])
def test_pixel_stage_recovers_each_sample_drawing(loaded: LoadedSpec) -> None:
    _assert_as_clean_as_the_drawing(loaded.spec, _recovered(loaded))


@pytest.mark.parametrize("loaded", SAMPLES, ids=[s.name for s in SAMPLES])
def test_committed_bevy_pngs_are_the_clean_drawings(loaded: LoadedSpec) -> None:
    spec = loaded.spec
    sheet = np.asarray(Image.open(REPO / "bevy_target" / "assets" / spec.output_path).convert("RGBA"))
    w, h, cols = spec.size.width, spec.size.height, spec.animation.sheet_columns
    frames = [
        sheet[(i // cols) * h : (i // cols + 1) * h, (i % cols) * w : (i % cols + 1) * w]
        for i in range(spec.animation.frames)
    ]
    _assert_as_clean_as_the_drawing(spec, frames)
