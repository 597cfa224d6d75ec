"""``sprites pixelate IN OUT``: the stage on its own, driven through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pipeline.core.pixelate import NAMED_PALETTES
from pipeline.core.pixelate.color import hex_to_rgb
from pipeline.core.pixelate.window import content_box
from pipeline.faces.cli.pixelate_cmd import pixelate_cmd
from tests.pixel_fixtures import Degrade, make_fixture, recovery


@pytest.fixture
def render(tmp_path: Path) -> tuple[Path, np.ndarray]:
    colours = hex_to_rgb(NAMED_PALETTES["pico-8"])[[0, 2, 4, 8, 9, 10, 12]]
    fx = make_fixture("cli", "creature", (32, 32), colours, Degrade(16, (5, -3)), 11)
    path = tmp_path / "render.png"
    path.write_bytes(fx.png)
    return path, fx.truth


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(pixelate_cmd, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_pixelates_with_a_size_and_prints_what_it_found(render, tmp_path: Path) -> None:
    src, truth = render
    out = tmp_path / "out.png"
    code, text = invoke(src, out, "--size", "32x32", "--palette", "pico-8", "--remove-background")
    assert code == 0, text
    assert "16 px per pixel, offset (5, 13)" in text
    assert "confidence 0.9" in text
    assert "pico-8:" in text and "colours used" in text
    assert "orphan px" in text and " ms " in text
    assert recovery(truth, np.asarray(Image.open(out))) >= 0.99


def test_detects_the_size_when_absent(render, tmp_path: Path) -> None:
    src, truth = render
    out = tmp_path / "out.png"
    code, text = invoke(src, out, "--palette", "adaptive:7")
    assert code == 0, text
    box = content_box(truth[..., 3] > 0)
    assert box is not None
    assert "(size detected)" in text and f"size        {box[2]}x{box[3]}" in text
    image = np.asarray(Image.open(out))
    assert image.shape == (box[3], box[2], 4)  # the sprite's bounding box, not the canvas
    assert len(np.unique(image[image[..., 3] == 255][:, :3], axis=0)) <= 7


def test_palette_file_outline_and_json(render, tmp_path: Path) -> None:
    src, _ = render
    palette = tmp_path / "mine.hex"
    palette.write_text("\n".join(c[1:] for c in NAMED_PALETTES["db16"]), encoding="utf-8")
    out = tmp_path / "out.png"
    code, text = invoke(src, out, "--size", "32", "--palette", palette, "--outline", "#000000", "--json")
    assert code == 0, text
    meta = json.loads(text)
    assert meta["palette_source"] == "explicit"
    assert meta["palette"] == list(NAMED_PALETTES["db16"])
    assert meta["outline_colour"] == "#140c1c"  # black snapped to db16's darkest
    assert meta["scale"] == [16, 16] and meta["outline_pixels"] > 0


def test_keep_background_and_preview(render, tmp_path: Path) -> None:
    src, _ = render
    out = tmp_path / "tile.png"
    code, text = invoke(src, out, "--size", "32x32", "--keep-background", "--preview", "4", "--dither", "ordered")
    assert code == 0, text
    assert (np.asarray(Image.open(out))[..., 3] == 255).all()
    assert Image.open(tmp_path / "tile@4x.png").size == (128, 128)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--palette", "vapourwave"], "Invalid value for '--palette'"),
        (["--palette", "adaptive:0"], "use 1 to 256"),
        (["--size", "big"], "not a size like 64x64"),
        (["--outline", "black"], "is not a colour like #rrggbb"),
        (["--size", "20x20"], "larger than the 20x20 asked for"),
        (["--size", "20x20"], "pixel.fit: resample, or --fit resample"),
    ],
)
def test_errors_are_one_clear_line_without_traceback(render, tmp_path: Path, args: list[str], message: str) -> None:
    src, _ = render
    code, text = invoke(src, tmp_path / "out.png", *args)
    assert code != 0
    assert message in text
    assert "Traceback" not in text


def test_a_file_that_is_not_an_image(tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not a png", encoding="utf-8")
    code, text = invoke(bad, tmp_path / "out.png")
    assert code == 1 and "not a readable image" in text and "Traceback" not in text


def test_a_render_with_no_grid_fails_instead_of_writing_a_sprite(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(100, 140, (256, 256, 3)).astype(np.uint8)
    src = tmp_path / "noise.png"
    Image.fromarray(noise).save(src)
    code, text = invoke(src, tmp_path / "out.png")
    assert code == 1 and "no trustworthy pixel grid" in text and "--size" in text
    assert not (tmp_path / "out.png").exists()


def test_a_render_with_a_margin_prints_the_window_and_the_background_model(tmp_path: Path) -> None:
    from tests.pixel_fixtures import make_sprite
    from tests.pixel_scenes import Scene, render_scene

    art = make_sprite("creature", 32, 32, hex_to_rgb(NAMED_PALETTES["pico-8"])[[0, 1, 2, 4, 8, 9, 12]], 5)
    src = tmp_path / "render.png"
    src.write_bytes(render_scene(art, Scene(pitch=19.4, origin=(201.3, 180.8), background="gradient"), 5))
    out = tmp_path / "out.png"
    code, text = invoke(src, out, "--size", "40x40")
    assert code == 0, text
    assert "19.4 px per pixel" in text and "confidence" in text
    assert "window      40x40 cells at (" in text and "centred in it" in text
    assert "background  gradient #" in text and "(corners #" in text
    assert Image.open(out).size == (40, 40)
    code, text = invoke(src, out, "--size", "20x20", "--fit", "resample")
    assert code == 0, text
    assert "resampled to the size" in text and Image.open(out).size == (20, 20)
