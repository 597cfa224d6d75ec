"""Grid detection: scale and phase on aligned, offset and JPEG-blocked renders; refusing renders with no grid."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pipeline.core.pixelate import NAMED_PALETTES, PixelParams, detect_grid, pixelate_frames
from pipeline.core.pixelate.color import hex_to_rgb
from pipeline.core.pixelate.window import content_box
from pipeline.errors import PixelateError
from tests.pixel_fixtures import Degrade, make_fixture, make_sprite, recovery

PICO = hex_to_rgb(NAMED_PALETTES["pico-8"])


def _render(kind: str, scale: int, offset: tuple[int, int], jpeg: int | None, cells: int = 32) -> np.ndarray:
    fx = make_fixture("g", kind, (cells, cells), PICO[[0, 1, 2, 4, 8, 9, 12]], Degrade(scale, offset, jpeg=jpeg), 9)
    return np.asarray(fx.image())


def _phase_error(found: float, expected: float, period: float) -> float:
    d = (found - expected) % period
    return min(d, period - d)


GRIDS = [
    pytest.param("creature", 8, (0, 0), None, id="8x-aligned"),
    pytest.param("creature", 8, (3, -2), 85, id="8x-offset-jpeg85"),
    pytest.param("tile", 8, (-3, 4), 85, id="8x-offset-tile"),
    pytest.param("item", 8, (4, -3), 60, id="8x-offset-jpeg60"),
    pytest.param("creature", 16, (0, 0), 85, id="16x-aligned"),
    pytest.param("creature", 16, (5, -7), 85, id="16x-offset"),
    pytest.param("item", 16, (-6, 2), 60, id="16x-offset-jpeg60"),
    pytest.param("tile", 16, (8, 3), 85, id="16x-half-cell"),
    pytest.param("creature", 12, (2, 5), 85, id="12x-offset"),
]


@pytest.mark.parametrize(("kind", "scale", "offset", "jpeg"), GRIDS)
@pytest.mark.parametrize("size_known", [True, False], ids=["size-given", "size-detected"])
def test_scale_and_offset_are_found(kind, scale, offset, jpeg, size_known) -> None:
    img = _render(kind, scale, offset, jpeg)
    grid = detect_grid(img, (32, 32) if size_known else None)
    assert grid.x.period == pytest.approx(scale) and grid.y.period == pytest.approx(scale)
    assert _phase_error(grid.x.offset, offset[0], scale) <= 0.5
    assert _phase_error(grid.y.offset, offset[1], scale) <= 0.5
    assert (grid.x.count, grid.y.count) == (32, 32)
    assert grid.confidence >= 0.5


@pytest.mark.parametrize("quality", [30, 50])
def test_jpeg_blocks_do_not_pass_for_an_8px_grid_under_a_16px_one(quality: int) -> None:
    img = _render("creature", 16, (5, 3), quality)
    grid = detect_grid(img)
    assert grid.x.period == 16 and grid.y.period == 16
    assert _phase_error(grid.x.offset, 5, 16) <= 0.5 and _phase_error(grid.y.offset, 3, 16) <= 0.5


@pytest.mark.parametrize("quality", [30, 50])
def test_jpeg_blocks_do_not_pull_an_offset_8px_grid_to_phase_zero(quality: int) -> None:
    img = _render("creature", 8, (3, -3), quality)
    grid = detect_grid(img)
    assert grid.x.period == 8
    assert _phase_error(grid.x.offset, 3, 8) <= 0.5 and _phase_error(grid.y.offset, 5, 8) <= 0.5


def _jpeg(arr: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _noise(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(128 + rng.normal(0, 8, (512, 512, 3)), 0, 255).astype(np.uint8)


def _gradient() -> np.ndarray:
    yy, xx = np.mgrid[0:512, 0:512]
    return np.stack([xx / 2, yy / 2, (xx + yy) / 4], axis=-1).astype(np.uint8)


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(lambda: _jpeg(_noise(), 30), id="noise-jpeg30"),
        pytest.param(lambda: _jpeg(_noise(), 75), id="noise-jpeg75"),
        pytest.param(lambda: _jpeg(_gradient(), 40), id="gradient-jpeg40"),
        pytest.param(_gradient, id="gradient"),
        pytest.param(lambda: np.full((512, 512, 3), 90, np.uint8), id="blank"),
    ],
)
def test_renders_without_art_get_no_trusted_grid(image) -> None:
    arr = image()
    assert detect_grid(arr).confidence < 0.5
    assert detect_grid(arr, (64, 64)).confidence < 0.5
    with pytest.raises(PixelateError, match=r"no trustworthy pixel grid found \(confidence 0\.\d\d < 0\.5\)"):
        pixelate_frames([Image.fromarray(arr)], PixelParams(64, 64))


def test_a_blank_render_is_called_blank() -> None:
    with pytest.raises(PixelateError, match="one flat colour; a blank or failed generation"):
        pixelate_frames([Image.new("RGB", (256, 256), (0, 0, 255))], PixelParams(32, 32))


def test_a_size_smaller_than_the_sprite_is_refused_naming_both_sizes() -> None:
    img = _render("creature", 8, (0, 0), 85, cells=64)  # 64 art pixels drawn at 8 px: 512 px
    assert detect_grid(img, (64, 64)).confidence >= 0.5
    box = content_box(make_sprite("creature", 64, 64, PICO[[0, 1, 2, 4, 8, 9, 12]], 9)[..., 3] > 0)
    assert box is not None
    bw, bh = box[2], box[3]
    # 16 px per pixel is what 512 / 32 implies: twice the true pitch, never accepted
    with pytest.raises(PixelateError, match=rf"sprite in the render is {bw}x{bh} pixels \(8 render px") as info:
        pixelate_frames([Image.fromarray(img)], PixelParams(32, 32))
    assert "larger than the 32x32 asked for" in str(info.value)
    assert "the size implies 16 px per pixel, 2 times the pitch" in str(info.value)
    assert f"set the sprite size to {bw}x{bh}" in str(info.value) and "pixel.fit: resample" in str(info.value)


def test_non_integer_scale_is_detected_and_recovered() -> None:
    truth = make_sprite("creature", 48, 48, PICO[[0, 2, 4, 8, 9, 12]], 3)
    art = np.where(truth[..., 3:] > 0, truth[..., :3], np.uint8(225)).astype(np.uint8)
    big = Image.fromarray(art).resize((1000, 1000), Image.Resampling.NEAREST).filter(ImageFilter.GaussianBlur(2))
    noisy = np.clip(np.asarray(big) + np.random.default_rng(1).normal(0, 5, (1000, 1000, 3)), 0, 255).astype(np.uint8)
    free = detect_grid(noisy)
    assert free.x.period == pytest.approx(1000 / 48, abs=0.05)
    assert (free.x.count, free.y.count) == (48, 48)
    out = np.asarray(pixelate_frames([Image.fromarray(noisy)], PixelParams(48, 48)).frames[0])
    assert recovery(truth, out) >= 0.99
    # without a size: the sprite's own bounding box
    box = content_box(truth[..., 3] > 0)
    assert box is not None
    x, y, w, h = box
    out = np.asarray(pixelate_frames([Image.fromarray(noisy)], PixelParams(None, None)).frames[0])
    assert out.shape[:2] == (h, w)
    assert recovery(truth[y : y + h, x : x + w], out) >= 0.99


@pytest.mark.parametrize(("scale", "blur"), [(8, 1.0), (8, 2.0), (16, 2.0), (16, 4.0)])
def test_edge_blur_is_measured(scale: int, blur: float) -> None:
    fx = make_fixture("b", "creature", (32, 32), PICO[[0, 1, 2, 8, 9]], Degrade(scale, (3, -3), blur=blur), 40)
    grid = detect_grid(np.asarray(fx.image()), (32, 32))
    assert grid.x.blur == pytest.approx(blur, abs=0.1 + 0.25 * blur)  # JPEG softens a little too
    assert grid.y.blur == pytest.approx(blur, abs=0.1 + 0.25 * blur)


def test_describe_is_json_ready_and_reports_phase_in_range() -> None:
    grid = detect_grid(_render("creature", 16, (0, 0), 85))
    info = grid.describe()
    assert info["scale"] == [16, 16]
    assert info["offset"] == pytest.approx([0, 0], abs=0.05)  # an aligned grid reads 0, not 15.99
    assert info["cells"] == [32, 32]
    assert 0.5 <= info["confidence"] <= 1.0
