"""The pixel stage on renders made like diffusion output (tests/pixel_scenes.py), and the traps it must not fall in.

Every case is known pixel art (procedural or Kenney's CC0 tanks) drawn the way a model draws it; the output
must have exactly the asked size and recover the art to a floor of colour and alpha.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pipeline.core.pixelate import NAMED_PALETTES, PixelParams, detect_grid, pixelate_frames
from pipeline.core.pixelate.color import hex_to_rgb
from pipeline.core.pixelate.window import content_box
from pipeline.errors import PixelateError
from tests.pixel_fixtures import make_sprite
from tests.pixel_scenes import FAMILIES, Case, Scene, make_case, render_scene

PICO = hex_to_rgb(NAMED_PALETTES["pico-8"])

#: known gap, measured (96.9 %): a degraded item whose DB32 palette neighbours flip under jitter +-8 and JPEG q75
FLOORS = {("degraded", 2): 0.96}


@cache
def case(family: str, index: int) -> Case:
    return make_case(family, index)


@pytest.mark.slow
@pytest.mark.parametrize(("family", "index"), [(f, i) for f in FAMILIES for i in (0, 1, 2)])
def test_family_cases_are_recovered_at_the_asked_size(family: str, index: int) -> None:
    c = case(family, index)
    params = PixelParams(c.size[0], c.size[1], palette=c.palette, background="auto" if c.background else "none")
    result = pixelate_frames(c.images(), params)
    floor = FLOORS.get((family, index), 0.99)
    for truth, frame in zip(c.truths, result.frames, strict=True):
        out = np.asarray(frame)
        assert out.shape == truth.shape  # the right size, every time
        t_alpha, o_alpha = truth[..., 3] > 0, out[..., 3] > 0
        assert (t_alpha == o_alpha).mean() >= min(floor, 0.985)
        assert ((out[..., :3] == truth[..., :3]).all(axis=2) & o_alpha)[t_alpha].mean() >= floor
    meta = result.metadata
    assert meta["window"]["placement"] in ("canvas", "centred")
    assert len(meta.get("frames", [None])) == len(c.frames)


def _canvas(pitch: float, cells: int, canvas: int, origin: float, seed: int = 4) -> tuple[np.ndarray, bytes]:
    art = make_sprite("creature", cells, cells, PICO[[0, 1, 2, 4, 8, 9, 12]], seed)
    scene = Scene(canvas=(canvas, canvas), pitch=pitch, origin=(origin, origin), jpeg=85)
    return art, render_scene(art, scene, seed)


def _image(png: bytes) -> Image.Image:
    import io

    im = Image.open(io.BytesIO(png))
    im.load()
    return im


@pytest.mark.parametrize("pitch", [11.0, 23.36, 8.6])
def test_free_pitch_is_never_a_multiple_of_the_true_one(pitch: float) -> None:
    _, png = _canvas(pitch, 40, 1024, 37.3)
    grid = detect_grid(np.asarray(_image(png)))
    assert grid.x.period == pytest.approx(pitch, rel=0.01)
    assert grid.y.period == pytest.approx(pitch, rel=0.01)


def test_a_size_implying_twice_the_pitch_is_refused_naming_both_sizes_and_resample_scales() -> None:
    art, png = _canvas(11.0, 64, 704, 0.0)  # 64 cells of 11 px; a 32x32 spec implies 22 px: twice the pitch
    box = content_box(art[..., 3] > 0)
    assert box is not None
    with pytest.raises(PixelateError) as info:
        pixelate_frames([_image(png)], PixelParams(32, 32))
    text = str(info.value)
    assert f"the sprite in the render is {box[2]}x{box[3]} pixels" in text
    assert "larger than the 32x32 asked for" in text
    assert "the size implies 22 px per pixel, 2 times the pitch the render shows" in text
    resampled = pixelate_frames([_image(png)], PixelParams(32, 32, fit="resample"))
    assert resampled.frames[0].size == (32, 32)
    assert resampled.metadata["window"]["placement"] == "resampled"


def test_a_sprite_in_a_margin_is_found_and_centred_in_the_asked_size() -> None:
    art, png = _canvas(1024 * 0.6 / 32, 32, 1024, 201.7)
    result = pixelate_frames([_image(png)], PixelParams(40, 40, palette="pico-8"))
    out = np.asarray(result.frames[0])
    box = content_box(out[..., 3] > 0)
    truth_box = content_box(art[..., 3] > 0)
    assert box is not None and truth_box is not None
    assert box[2:] == truth_box[2:]
    assert box[0] == (40 - truth_box[2]) // 2 and box[1] == (40 - truth_box[3]) // 2
    meta = result.metadata
    assert meta["window"]["placement"] == "centred" and meta["grid_cells"][0] > 40
    assert meta["scale"][0] == pytest.approx(1024 * 0.6 / 32, rel=0.01)


@pytest.mark.parametrize("background", ["offwhite", "gradient", "vignette"])
def test_soft_backgrounds_are_modelled_and_removed(background: str) -> None:
    art = make_sprite("creature", 32, 32, PICO[[0, 1, 2, 4, 8, 9, 12]], 8)
    png = render_scene(art, Scene(pitch=20.0, origin=(190.2, 170.6), background=background), 8)
    result = pixelate_frames([_image(png)], PixelParams(32, 32, palette="pico-8"))
    out = np.asarray(result.frames[0])
    assert ((out[..., 3] > 0) == (art[..., 3] > 0)).mean() >= 0.99
    model = result.metadata["background_model"]
    # the scene's brightness drift (5 %) shades even the off-white background a little
    assert model["model"] in (("flat", "gradient") if background == "offwhite" else ("gradient",))


def test_an_enclosed_hole_of_background_becomes_transparent_but_a_light_patch_stays() -> None:
    art = make_sprite("creature", 32, 32, PICO[[0, 1, 2, 4, 8, 9, 12]], 8)
    holed = art.copy()
    holed[13:18, 13:19] = [0, 0, 0, 255]  # the hole's rim: the sprite's outline colour, as around its silhouette
    holed[14:17, 14:18] = 0  # a hole through the body
    light = holed.copy()
    light[9:11, 9:12, :3] = (194, 195, 199)  # a light grey patch, close to the background, framed by shading
    png = render_scene(light, Scene(pitch=16.0, origin=(240.0, 250.0)), 3)
    result = pixelate_frames([_image(png)], PixelParams(32, 32, palette="pico-8"))
    out = np.asarray(result.frames[0])
    assert (out[14:17, 14:18, 3] == 0).all() and result.metadata["holes"] >= 12
    assert (out[9:11, 9:12, 3] == 255).all()


def test_drifting_pitch_is_followed_line_by_line() -> None:
    art = make_sprite("item", 40, 40, PICO[[0, 1, 2, 4, 8, 9, 12]], 2)
    png = render_scene(art, Scene(pitch=18.0, drift=(0.045, -0.04), origin=(150.0, 160.0)), 2)
    result = pixelate_frames([_image(png)], PixelParams(40, 40, palette="pico-8"))
    out = np.asarray(result.frames[0])
    dx, dy = result.metadata["drift"]  # across the sprite's window: the scene's drift is across the canvas
    x0, y0, x1, y1 = result.metadata["window"]["px"]
    # followed with the right sign and size (the fit's curvature is estimated from a few segments: within 2x)
    assert 0.5 <= dx / (0.045 * (x1 - x0) / 1024) <= 2.0
    assert 0.5 <= dy / (-0.04 * (y1 - y0) / 1024) <= 2.0
    assert ((out[..., 3] > 0) == (art[..., 3] > 0)).mean() >= 0.99


def test_blurred_small_tile_without_a_size_is_found() -> None:
    tile = make_sprite("tile", 16, 16, PICO[[0, 3, 5, 11, 13]], 6)
    big = (
        Image.fromarray(tile[..., :3]).resize((160, 160), Image.Resampling.NEAREST).filter(ImageFilter.GaussianBlur(1))
    )
    result = pixelate_frames([big], PixelParams(None, None, palette="pico-8", background="none"))
    assert result.frames[0].size == (16, 16)
