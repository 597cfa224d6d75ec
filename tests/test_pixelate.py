"""The pixel stage end to end: degraded fake-pixel renders -> recovered sprites, against known truth."""

from __future__ import annotations

import dataclasses
import io
import json
from functools import cache

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pipeline.core.generate.procedural import draw_sprite, render_frame
from pipeline.core.pixelate import NAMED_PALETTES, PixelParams, pixelate_frames
from pipeline.core.pixelate.color import hex_to_rgb
from pipeline.errors import PixelateError
from tests.pixel_fixtures import Degrade, Fixture, make_fixture, make_sprite, recovery, render

CANONICAL = ("pico-8", "db16", "db32", "endesga-32", "gameboy", "nes")


@cache
def fixture(kind: str, cells: int, scale: int, offset: tuple[int, int], palette: str, extra: str = "") -> Fixture:
    """A deterministic fixture; ``extra`` is 'key=value,...' Degrade overrides (hashable for the cache)."""
    overrides = {k: (None if v == "none" else float(v)) for k, v in (kv.split("=") for kv in extra.split(",") if kv)}
    if "jpeg" in overrides and overrides["jpeg"] is not None:
        overrides["jpeg"] = int(overrides["jpeg"])
    pal = hex_to_rgb(NAMED_PALETTES[palette])
    seed = sum(map(ord, f"{kind}{cells}{scale}{offset}{palette}{extra}"))
    rng = np.random.default_rng(seed)
    colours = pal[rng.choice(len(pal), min(len(pal), 8), replace=False)]
    degrade = Degrade(scale=scale, offset=offset, **overrides)  # type: ignore[arg-type]
    return make_fixture(f"{kind}-{scale}x", kind, (cells, cells), colours, degrade, seed)


def run(fx: Fixture, **kw: object) -> tuple[np.ndarray, object]:
    w, h = fx.size
    params = PixelParams(w, h, **{"background": "none" if fx.name.startswith("tile") else "auto", **kw})  # type: ignore[arg-type]
    result = pixelate_frames([fx.image()], params)
    return np.asarray(result.frames[0]), result


# kind, cells, scale, grid offset, palette, Degrade overrides, floor
FIXED = [
    pytest.param("creature", 32, 8, (0, 0), "pico-8", "", 0.99, id="8x-aligned-pico8"),
    pytest.param("item", 32, 8, (3, -2), "db32", "", 0.99, id="8x-offset-db32"),
    pytest.param("tile", 32, 8, (-3, 4), "db16", "", 0.99, id="8x-offset-tile-db16"),
    pytest.param("creature", 32, 16, (0, 0), "endesga-32", "", 0.99, id="16x-aligned-endesga32"),
    pytest.param("creature", 32, 16, (7, -5), "db16", "", 0.99, id="16x-offset-db16"),
    pytest.param("tile", 32, 16, (8, 8), "pico-8", "", 0.99, id="16x-half-cell-offset-tile"),
    pytest.param("creature", 32, 8, (-3, 2), "pico-8", "jpeg=50", 0.99, id="8x-offset-jpeg50"),
    pytest.param("item", 32, 16, (5, 3), "db16", "noise=12", 0.99, id="16x-noise12"),
    pytest.param("creature", 32, 8, (2, 3), "pico-8", "blur=2", 0.99, id="8x-blur-quarter-cell"),
    pytest.param("creature", 32, 16, (4, -6), "endesga-32", "drift=0.1", 0.99, id="16x-drift10"),
    pytest.param("item", 32, 8, (1, 1), "gameboy", "jitter=4", 0.98, id="8x-gameboy"),
    pytest.param("creature", 32, 16, (3, -3), "pico-8", "jpeg=none,blur=0,noise=0,jitter=0,drift=0", 1.0, id="clean"),
]


@pytest.mark.parametrize(("kind", "cells", "scale", "offset", "palette", "extra", "floor"), FIXED)
def test_fixed_palette_recovers_the_art(kind, cells, scale, offset, palette, extra, floor) -> None:
    fx = fixture(kind, cells, scale, offset, palette, extra)
    out, result = run(fx, palette=palette)
    assert recovery(fx.truth, out) >= floor
    assert result.metadata["scale"] == [scale, scale]


ADAPTIVE = [
    pytest.param("creature", 32, 8, (0, 0), "pico-8", "", 0.98, id="8x-aligned"),
    pytest.param("item", 32, 8, (3, -2), "db32", "", 0.98, id="8x-offset"),
    pytest.param("creature", 32, 16, (0, 0), "endesga-32", "", 0.98, id="16x-aligned"),
    pytest.param("tile", 32, 16, (-6, 5), "db16", "jpeg=60", 0.98, id="16x-offset-tile-jpeg60"),
]


@pytest.mark.parametrize(("kind", "cells", "scale", "offset", "palette", "extra", "floor"), ADAPTIVE)
def test_adaptive_palette_recovers_the_art_in_at_most_n_colours(
    kind, cells, scale, offset, palette, extra, floor
) -> None:
    fx = fixture(kind, cells, scale, offset, palette, extra)
    n = len(fx.colours)
    out, result = run(fx, palette=n)
    assert len(result.palette) <= n
    assert result.metadata["colours_used"] <= n
    assert recovery(fx.truth, out, hex_to_rgb(result.palette)) >= floor


@pytest.mark.parametrize("name", CANONICAL)
def test_output_colours_are_exactly_from_the_named_palette(name: str) -> None:
    fx = fixture("creature", 24, 8, (2, 5), "pico-8")
    out, result = run(fx, palette=name)
    opaque = out[out[..., 3] == 255][:, :3]
    allowed = {tuple(c) for c in hex_to_rgb(NAMED_PALETTES[name])}
    assert {tuple(c) for c in opaque} <= allowed
    assert result.palette == NAMED_PALETTES[name]
    assert set(result.metadata["colours"]) <= set(NAMED_PALETTES[name])


def test_explicit_hex_palette_is_used_as_given() -> None:
    fx = fixture("creature", 24, 8, (0, 0), "pico-8")
    palette = ("#000000", "#ff004d", "#29adff", "#fff1e8")
    out, result = run(fx, palette=palette)
    assert result.palette == palette
    assert {tuple(c) for c in out[out[..., 3] == 255][:, :3]} <= {tuple(c) for c in hex_to_rgb(palette)}
    assert result.metadata["palette_source"] == "explicit"


@pytest.mark.parametrize("palette", ["pico-8", 6])
def test_alpha_is_binary_and_transparent_pixels_are_clear(palette: str | int) -> None:
    fx = fixture("creature", 32, 16, (5, 1), "db16")
    out, _ = run(fx, palette=palette)
    assert set(np.unique(out[..., 3])) <= {0, 255}
    assert (out[out[..., 3] == 0][:, :3] == 0).all()
    assert (out[..., 3] == 255).sum() == (fx.truth[..., 3] == 255).sum()


def test_soft_alpha_of_an_rgba_render_becomes_binary() -> None:
    fx = fixture("creature", 24, 8, (0, 0), "pico-8", "jpeg=none")
    big = np.repeat(np.repeat(fx.truth, 8, axis=0), 8, axis=1)
    rgba = Image.fromarray(big, "RGBA").filter(ImageFilter.GaussianBlur(2))
    result = pixelate_frames([rgba], PixelParams(24, 24, palette="pico-8", background="none"))
    out = np.asarray(result.frames[0])
    assert set(np.unique(out[..., 3])) <= {0, 255}
    assert recovery(fx.truth, out) >= 0.99


def _bobbing_frames(n: int) -> tuple[list[np.ndarray], list[Image.Image]]:
    """A sprite bobbing up and down, each frame rendered with its own grid offset, noise and drift."""
    colours = hex_to_rgb(NAMED_PALETTES["db32"])[[1, 5, 9, 12, 17, 21, 27]]
    base = make_sprite("creature", 32, 32, colours, 5)
    truths = [np.roll(base, i % 2, axis=0) for i in range(n)]
    renders = [render(t, Degrade(scale=8, offset=(i, -i), drift=0.08), 50 + i) for i, t in enumerate(truths)]
    return truths, renders


def test_animation_frames_share_one_palette_and_map_colours_alike() -> None:
    truths, renders = _bobbing_frames(4)
    result = pixelate_frames(renders, PixelParams(32, 32, palette=7))
    palette = {tuple(c) for c in hex_to_rgb(result.palette)}
    assert len(palette) <= 7
    mappings = []
    for truth, frame in zip(truths, result.frames, strict=True):
        out = np.asarray(frame)
        assert {tuple(c) for c in out[out[..., 3] == 255][:, :3]} <= palette
        assert recovery(truth, out, hex_to_rgb(result.palette)) >= 0.98
        both = (truth[..., 3] == 255) & (out[..., 3] == 255)
        mapping = {}
        for colour in np.unique(truth[both][:, :3], axis=0):
            hit = out[both & (truth[..., :3] == colour).all(axis=2)][:, :3]
            values, counts = np.unique(hit, axis=0, return_counts=True)
            mapping[tuple(colour)] = tuple(values[counts.argmax()])
        mappings.append(mapping)
    assert all(m == mappings[0] for m in mappings)
    assert len(result.metadata["frames"]) == 4


def test_background_auto_removes_the_border_colour_but_not_enclosed_pixels() -> None:
    fx = fixture("creature", 32, 8, (0, 0), "pico-8")
    out, result = run(fx, palette="pico-8")
    assert result.metadata["background_colour"] is not None
    assert result.metadata["background_pixels"] == int((fx.truth[..., 3] == 0).sum())
    assert (out[..., 3] == 255).sum() == (fx.truth[..., 3] == 255).sum()


def test_background_auto_keeps_a_tile_whose_border_has_no_dominant_colour() -> None:
    fx = fixture("tile", 32, 8, (0, 0), "db16")
    out, result = run(fx, palette="db16", background="auto")
    assert result.metadata["background_colour"] is None
    assert (out[..., 3] == 255).all()


def test_key_colour_is_removed_everywhere_and_none_keeps_everything() -> None:
    fx = make_fixture(
        "k",
        "creature",
        (24, 24),
        hex_to_rgb(NAMED_PALETTES["pico-8"])[[0, 8, 12]],
        Degrade(8, background=(255, 0, 255)),
        3,
    )
    out, _ = run(fx, palette="pico-8", background="#ff00ff")
    assert recovery(fx.truth, out) >= 0.99
    kept, _ = run(fx, palette="pico-8", background="none")
    assert (kept[..., 3] == 255).all()


def test_orphan_pixels_are_removed_and_counted() -> None:
    fx = fixture("creature", 32, 8, (0, 0), "pico-8", "jpeg=none")
    img = np.asarray(fx.image()).copy()
    img[8:16, 8:16] = (255, 0, 77)  # one stray art pixel in the background, far from the sprite
    out, result = run(Fixture(fx.name, fx.truth, _png(img), fx.colours, fx.degrade), palette="pico-8")
    assert out[1, 1, 3] == 0
    assert result.metadata["orphans_removed"] == 1
    kept, result = run(Fixture(fx.name, fx.truth, _png(img), fx.colours, fx.degrade), palette="pico-8", cleanup=False)
    assert kept[1, 1, 3] == 255 and result.metadata["orphans_removed"] == 0


def test_outline_surrounds_the_sprite_in_a_palette_colour() -> None:
    fx = fixture("creature", 32, 8, (0, 0), "pico-8")
    out, result = run(fx, palette="pico-8", outline="#000001")  # not in the palette: snapped to black
    assert result.metadata["outline_colour"] == "#000000"
    ring = (out[..., 3] == 255) & (fx.truth[..., 3] == 0)
    assert ring.sum() == result.metadata["outline_pixels"] > 0
    assert (out[ring][:, :3] == 0).all()


def test_adaptive_palette_reserves_a_slot_for_the_outline() -> None:
    fx = fixture("creature", 32, 8, (0, 0), "db32")
    _, result = run(fx, palette=6, outline="#123456")
    assert len(result.palette) <= 6
    assert "#123456" in result.palette


def test_procedural_backend_renders_are_recovered_exactly() -> None:
    sprite = draw_sprite("enemy", "green slime", 32, 32, seed=7, frame=0, frames=1)  # RGBA
    render = render_frame(sprite, 8, seed=7)
    n = len(np.unique(sprite[sprite[..., 3] > 0][:, :3], axis=0))
    result = pixelate_frames([render], PixelParams(32, 32, palette=n))
    out = np.asarray(result.frames[0])
    assert (out[..., 3] > 0).tolist() == (sprite[..., 3] > 0).tolist()  # the background flood finds the outline
    assert recovery(sprite, out, hex_to_rgb(result.palette)) >= 0.99


def test_metadata_records_every_decision_and_is_json() -> None:
    fx = fixture("creature", 32, 16, (3, -2), "pico-8")
    _, result = run(fx, palette="pico-8", outline="#000000")
    meta = json.loads(json.dumps(result.metadata))
    assert meta["offset"] == pytest.approx([3, 14], abs=0.5)
    for key in (
        "size",
        "scale",
        "confidence",
        "palette_source",
        "palette_size",
        "colours_used",
        "colours",
        "background_colour",
        "orphans_removed",
        "outline_pixels",
        "dither",
        "drift_gain",
    ):
        assert key in meta
    assert meta["confidence"] >= 0.5


def test_render_at_logical_size_is_mapped_pixel_for_pixel() -> None:
    fx = fixture("creature", 16, 8, (0, 0), "pico-8", "jpeg=none,blur=0,noise=0,jitter=0,drift=0")
    small = Image.fromarray(np.where(fx.truth[..., 3:] > 0, fx.truth[..., :3], 200).astype(np.uint8), "RGB")
    result = pixelate_frames([small], PixelParams(16, 16, palette="pico-8"))
    assert result.metadata["scale"] == [1, 1]
    assert recovery(fx.truth, np.asarray(result.frames[0])) == 1.0


def test_cache_fields_cover_every_parameter() -> None:
    params = PixelParams(8, 8)
    assert set(params.cache_fields()) == {f.name for f in dataclasses.fields(PixelParams)}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (PixelParams(8, 8, palette="vapourwave"), "unknown palette"),
        (PixelParams(8, 8, palette=0), "adaptive palette"),
        (PixelParams(8, 8, dither="random"), "dither"),
        (PixelParams(8, 8, background="blue"), "background"),
        (PixelParams(8, 8, outline="#12345"), "outline"),
        (PixelParams(8, None), "both width and height"),
        (PixelParams(8, 8, fit="crop"), "fit 'crop': use one of exact, resample"),
        (PixelParams(64, 64), "smaller than the sprite"),
    ],
)
def test_bad_requests_say_what_to_fix(params: PixelParams, message: str) -> None:
    render = Image.new("RGB", (32, 32), (10, 20, 30))
    with pytest.raises(PixelateError, match=message):
        pixelate_frames([render], params)


def test_no_frames_is_an_error() -> None:
    with pytest.raises(PixelateError, match="no frames"):
        pixelate_frames([], PixelParams(8, 8))


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="PNG")
    return buf.getvalue()
