"""Frames that belong together: sheet slicing on render-like sheets, consistency figures, and each
``animation.method`` end to end on the procedural backend (real Dagster, `sprites build`), caching included."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dagster import DagsterInstance
from PIL import Image

from pipeline.core.generate import make_backend
from pipeline.core.generate.art import draw
from pipeline.core.pixelate import PixelParams, frame_consistency, pixelate_sheet
from pipeline.core.pixelate.color import rgb_to_hex
from pipeline.core.pixelate.sheet import split_axis
from pipeline.core.specs.model import SpriteSpec
from pipeline.defs.asset_keys import sprite_keys
from pipeline.errors import PixelateError
from pipeline.faces.cli import main
from pipeline.settings import Settings
from tests.conftest import REPO, make_project
from tests.pixel_scenes import Scene, render_scene

SETTINGS = Settings.for_project(REPO)
PROMPT = "pixel art knight in silver armor with a blue cape, walking cycle"

# ---- splitting one axis of a sheet ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("occupancy", "parts", "runs", "gaps"),
    [
        ([0, 1, 1, 0, 0, 1, 1, 0], 2, [(1, 4), (4, 7)], 1),  # a gutter between two frames
        ([1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1], 2, [(0, 7), (7, 14)], 2),  # the gap inside a frame is passed
        ([1, 1, 1, 2, 1, 1, 1, 1], 2, [(0, 4), (4, 8)], 0),  # touching frames: cut at the emptiest line
        ([0, 0, 3, 3, 3, 0], 1, [(2, 5)], 0),  # one frame: its content
        ([1, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 1], 3, [(0, 4), (4, 8), (8, 13)], 4),  # unequal cells and gutters
    ],
)
def test_split_axis(occupancy: list[int], parts: int, runs: list[tuple[int, int]], gaps: int) -> None:
    assert split_axis(np.array(occupancy), parts) == (runs, gaps)


# ---- slicing a render-like sheet --------------------------------------------------------------------------


def _walk(size: int = 24, frames: int = 4, seed: int = 3) -> list[np.ndarray]:
    return [draw("character", PROMPT, size, size, seed, i, frames) for i in range(frames)]


def _sheet_art(frames: list[np.ndarray], gutters: list[int], drops: list[int], margin: int = 5) -> np.ndarray:
    """The frames side by side (cells), ``gutters`` apart, frame i ``drops[i]`` cells lower: as drawn by a model."""
    h, w = frames[0].shape[:2]
    width = 2 * margin + len(frames) * w + sum(gutters)
    art = np.zeros((2 * margin + h + max(drops), width, 4), np.uint8)
    x = margin
    for i, frame in enumerate(frames):
        region = art[margin + drops[i] : margin + drops[i] + h, x : x + w]
        region[frame[..., 3] > 0] = frame[frame[..., 3] > 0]  # over what is there (frames may overlap)
        x += w + (gutters[i] if i < len(gutters) else 0)
    return art


def _palette(frames: list[np.ndarray]) -> tuple[str, ...]:
    opaque = np.concatenate([f[f[..., 3] > 0][:, :3] for f in frames])
    return tuple(rgb_to_hex(np.unique(opaque, axis=0)))


def _content(frame: np.ndarray) -> np.ndarray:
    opaque = frame[..., 3] > 0
    rows, cols = np.flatnonzero(opaque.any(axis=1)), np.flatnonzero(opaque.any(axis=0))
    return frame[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _origin(frame: np.ndarray) -> tuple[int, int]:
    opaque = frame[..., 3] > 0
    return int(np.flatnonzero(opaque.any(axis=1))[0]), int(np.flatnonzero(opaque.any(axis=0))[0])


def _agreement(out: Image.Image, drawn: np.ndarray) -> tuple[float, float]:
    """(share of the silhouette, share of the colours) of the drawn frame's content that ``out`` holds, the two
    compared where their contents lie (any placement of the frame in its window)."""
    a, b = _content(np.asarray(out)), _content(drawn)
    assert a.shape == b.shape, f"content {a.shape[:2]}, drawn {b.shape[:2]}"
    silhouette = float(((a[..., 3] > 0) == (b[..., 3] > 0)).mean())
    opaque = b[..., 3] > 0
    return silhouette, float(np.all(a[opaque] == b[opaque], axis=-1).mean())


def _render(art: np.ndarray, pitch: float, **scene: object) -> Image.Image:
    h, w = art.shape[:2]
    canvas = (round(w * pitch + 2 * pitch), round(h * pitch + 2 * pitch))
    look = Scene(canvas=canvas, pitch=pitch, origin=(pitch, pitch), jpeg=None, **scene)  # type: ignore[arg-type]
    return Image.open(io.BytesIO(render_scene(art, look, seed=11)))


@pytest.mark.parametrize(
    ("look", "colours"),
    [
        ({"background": "gradient", "noise": 0.0, "jitter": 0.0, "brightness": 0.0}, 1.0),
        ({"background": "gradient", "noise": 5.0, "jitter": 5.0}, 0.93),  # close greys: noise swaps a few
        ({"background": "vignette", "noise": 4.0, "jitter": 2.0}, 0.96),
    ],
    ids=["clean", "noisy", "vignette"],
)
def test_a_render_like_sheet_with_unequal_cells_is_sliced_into_the_drawn_frames(
    look: dict[str, object], colours: float
) -> None:
    frames = _walk()
    art = _sheet_art(frames, gutters=[3, 8, 5], drops=[0, 1, 0, 2])  # uneven gutters, frames not on one line
    render = _render(art, 7.4, drift=(0.02, 0.0), **look)  # a non-integer pitch, drifting 2 % across
    result = pixelate_sheet(render, PixelParams(24, 24, palette=_palette(frames)), frames=4, columns=4)
    assert result.metadata["sheet"]["gaps"][0] >= 3
    for drawn, out in zip(frames, result.frames, strict=True):
        silhouette, colour = _agreement(out, drawn)
        assert silhouette >= 0.995 and colour >= colours, (silhouette, colour)


def test_frames_at_a_regular_pitch_keep_their_motion() -> None:
    frames = _walk(seed=8)
    art = _sheet_art(frames, gutters=[4, 4, 4], drops=[0, 1, 0, 1])  # a bob: every other frame a pixel lower
    render = _render(art, 8.0, background="offwhite", noise=0.0, jitter=0.0, brightness=0.0)
    result = pixelate_sheet(render, PixelParams(24, 24, palette=_palette(frames)), frames=4, columns=4)
    assert result.metadata["sheet"]["alignment"] == "pitch"
    outs = [np.asarray(f) for f in result.frames]
    moves = {tuple(np.subtract(_origin(o), _origin(d))) for d, o in zip(frames, outs, strict=True)}
    drops = [
        _origin(o)[0] - _origin(outs[0])[0] - (_origin(d)[0] - _origin(frames[0])[0])
        for d, o in zip(frames, outs, strict=True)
    ]
    assert drops == [0, 1, 0, 1], "the bob survives the slicing"
    assert len(moves) == 2  # two placements: the ones dropped by a pixel and the others


def test_a_sheet_in_two_rows_is_sliced_row_major() -> None:
    frames = _walk(size=16, seed=2)
    top, bottom = _sheet_art(frames[:2], [4], [0, 0]), _sheet_art(frames[2:], [4], [0, 0])
    art = np.concatenate([top, bottom[3:]], axis=0)
    render = _render(art, 6.0, background="flat", noise=2.0, jitter=0.0, brightness=0.0)
    result = pixelate_sheet(render, PixelParams(16, 16, palette=_palette(frames)), frames=4, columns=2)
    for drawn, out in zip(frames, result.frames, strict=True):
        silhouette, colour = _agreement(out, drawn)
        assert silhouette == 1.0 and colour >= 0.97, (silhouette, colour)


def test_a_render_with_fewer_frames_than_asked_is_refused_naming_the_frame() -> None:
    frames = _walk()
    render = _render(_sheet_art(frames, [4, 4, 4], [0, 0, 0, 0]), 8.0)
    params = PixelParams(24, 24, palette=_palette(frames))
    for frames_asked in (5, 8):
        with pytest.raises(PixelateError, match=r"shows 4 figure\(s\) in a row, fewer than the \d column") as info:
            pixelate_sheet(render, params, frames=frames_asked, columns=frames_asked)
        assert "animation.frames" in str(info.value)
    touching = _render(_sheet_art(frames, [4, -3, 4], [0, 0, 0, 0]), 8.0)  # two figures touch: one run
    with pytest.raises(
        PixelateError, match=r"sheet frames \d to \d would be cut out of \d+ pixels of touching content"
    ):
        pixelate_sheet(touching, params, frames=5, columns=5)
    cut = pixelate_sheet(touching, params, frames=4, columns=4).frames  # touching figures are cut apart...
    widths = [(_content(np.asarray(o)).shape[1], _content(d).shape[1]) for o, d in zip(cut, frames, strict=True)]
    assert all(abs(a - b) <= 1 for a, b in widths), widths  # ...at the emptiest line: right, or one line off
    assert sum(a for a, _ in widths) == sum(b for _, b in widths), "no frame shows its neighbour's pixels"
    with pytest.raises(PixelateError, match="larger than the 24x24 asked for") as info:
        pixelate_sheet(render, params, frames=3, columns=3)  # one "frame" holds two figures
    assert "more frames than animation.frames" in str(info.value)


def test_a_render_exactly_the_sheet_size_is_sliced_exactly() -> None:
    frames = _walk(size=16, seed=5)
    art = np.concatenate(frames, axis=1)
    render = _render(art, 8.0, noise=0.0, jitter=0.0, brightness=0.0)
    render = render.crop((8, 8, 8 + 64 * 8, 8 + 16 * 8))  # the canvas is the 64x16 cells of the sheet
    result = pixelate_sheet(render, PixelParams(16, 16, palette=_palette(frames)), frames=4, columns=4)
    assert result.metadata["sheet"]["alignment"] == "exact"
    assert all(np.array_equal(np.asarray(o), d) for o, d in zip(result.frames, frames, strict=True))


# ---- consistency figures ----------------------------------------------------------------------------------


def _frame(pixels: dict[tuple[int, int], tuple[int, int, int]]) -> np.ndarray:
    out = np.zeros((4, 4, 4), np.uint8)
    for (y, x), rgb in pixels.items():
        out[y, x] = (*rgb, 255)
    return out


RED, BLUE = (255, 0, 0), (0, 0, 255)


@pytest.mark.parametrize(
    ("frames", "unchanged", "identical", "overlap"),
    [
        ([_frame({(0, 0): RED, (1, 1): BLUE})] * 3, [1.0, 1.0], True, 1.0),
        ([_frame({(0, 0): RED, (1, 1): BLUE}), _frame({(0, 0): RED, (1, 2): BLUE})], [1 / 3], True, 1.0),
        ([_frame({(0, 0): RED}), _frame({(3, 3): BLUE})], [0.0], False, 0.0),
        ([_frame({(0, 0): RED, (0, 1): RED}), _frame({(0, 0): RED, (0, 1): BLUE})], [0.5], False, 0.5),
    ],
)
def test_frame_consistency(frames: list[np.ndarray], unchanged: list[float], identical: bool, overlap: float) -> None:
    c = frame_consistency(frames)
    assert c["unchanged"] == pytest.approx(unchanged, abs=1e-4)
    assert c["palette_identical"] is identical and c["palette_overlap"] == pytest.approx(overlap)


# ---- the procedural backend: each method ------------------------------------------------------------------


def _spec(method: str, denoise: float = 0.35, frames: int = 4) -> SpriteSpec:
    return SpriteSpec.model_validate(
        {
            "name": "walker",
            "category": "character",
            "prompt": PROMPT,
            "seed": 1001,
            "size": 24,
            "animation": {"frames": frames, "method": method, "denoise": denoise},
        }
    )


def test_procedural_methods_render_what_they_say() -> None:
    backend = make_backend("procedural", SETTINGS)
    sheet = backend.resolve(_spec("sheet"), SETTINGS)
    assert sheet.frames == 1 and sheet.width > 4 * 24 * 8, "one render holding the four frames, with gutters"
    assert backend.generate(sheet).frames == backend.generate(backend.resolve(_spec("sheet"), SETTINGS)).frames
    for method in ("img2img", "batch"):
        req = backend.resolve(_spec(method), SETTINGS)
        assert (req.frames, req.width, req.height) == (4, 192, 192)
    keys = {
        backend.resolve(_spec(m, d), SETTINGS).key
        for m, d in [("sheet", 0.35), ("img2img", 0.35), ("img2img", 0.6), ("batch", 0.35)]
    }
    assert len(keys) == 4, "the method and img2img's denoise are part of the generation key"
    assert backend.resolve(_spec("sheet", 0.9), SETTINGS).key == sheet.key, "denoise means nothing to a sheet"
    still = backend.resolve(_spec("img2img", frames=1), SETTINGS).key
    assert backend.resolve(_spec("batch", frames=1), SETTINGS).key == still, "a still sprite has no frame method"


def _consistency(method: str, denoise: float = 0.35) -> dict[str, object]:
    from pipeline.state.stages import pixelate_images

    backend = make_backend("procedural", SETTINGS)
    spec = _spec(method, denoise)
    raw = backend.generate(backend.resolve(spec, SETTINGS))
    return pixelate_images(spec, [Image.open(io.BytesIO(f)) for f in raw.frames]).metadata["consistency"]


def test_consistency_ranks_the_methods_as_they_behave() -> None:
    sheet, batch = _consistency("sheet"), _consistency("batch")
    low, high = _consistency("img2img", 0.2), _consistency("img2img", 0.9)
    assert sheet["palette_identical"] and not batch["palette_identical"]
    assert sheet["unchanged_mean"] > batch["unchanged_mean"] + 0.1  # type: ignore[operator]
    assert low["unchanged_mean"] > high["unchanged_mean"] + 0.2, "more denoise, more change"  # type: ignore[operator]
    assert low["palette_identical"] and not high["palette_identical"]


# ---- end to end through Dagster, with caching -------------------------------------------------------------

SPECS = {
    "walkers.yaml": (
        "defaults:\n  category: character\n  size: 24x24\n  seed: 1001\n"
        f"  prompt: {PROMPT}\n"
        "sprites:\n"
        "  - name: walk-sheet\n    animation: {frames: 4, method: sheet}\n"
        "  - name: walk-img2img\n    animation: {frames: 4, method: img2img, denoise: 0.3}\n"
        "  - name: walk-batch\n    animation: {frames: 4, method: batch}\n"
        "  - name: still\n"
    )
}


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--project-dir", str(settings.project_dir)])
    return result.exit_code, result.output


def _metadata(name: str, stage: int) -> dict[str, object]:
    record = DagsterInstance.get().get_latest_materialization_event(sprite_keys(name)[stage])
    assert record is not None and record.asset_materialization is not None
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


@pytest.mark.slow
def test_each_method_builds_and_a_method_change_rebuilds(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path, SPECS, copy_samples=False)
    code, out = _cli(settings, "build")
    assert code == 0 and "4 built" in out, out
    for name, renders in (("walk-sheet", 1), ("walk-img2img", 4), ("walk-batch", 4)):
        with Image.open(settings.assets_dir / f"sprites/character/{name}.png") as sheet:
            assert sheet.size == (96, 24)
        assert _metadata(name, 0)["frames"] == renders
        pixel = _metadata(name, 1)
        assert pixel["frame_method"] == name.removeprefix("walk-")
        assert set(pixel["consistency"]) >= {"unchanged", "palette_identical"}  # type: ignore[arg-type]
    assert _metadata("walk-sheet", 1)["sheet"]["alignment"] == "pitch"  # type: ignore[index]
    assert "consistency" not in _metadata("still", 1)
    assert "0 built, 4 up to date" in _cli(settings, "build")[1], "a no-op stays a no-op"

    spec_file = settings.specs_dir / "walkers.yaml"
    text = spec_file.read_text()
    # what a method does not use changes nothing: a sheet's denoise, a still sprite's method
    spec_file.write_text(
        text.replace("method: sheet}", "method: sheet, denoise: 0.8}").replace(
            "  - name: still\n", "  - name: still\n    animation: {method: img2img}\n"
        )
    )
    code, out = _cli(settings, "build")
    assert code == 0 and "0 built, 4 up to date" in out, out
    spec_file.write_text(text.replace("method: sheet}", "method: batch}").replace("denoise: 0.3", "denoise: 0.5"))
    code, out = _cli(settings, "list")
    assert out.count("stale") == 2, out
    code, out = _cli(settings, "build")
    assert code == 0 and "2 built, 2 up to date" in out, out
    raw = _metadata("walk-sheet", 0)
    assert raw["frames"] == 4 and raw["key"] == _metadata("walk-batch", 0)["key"], "now walk-batch's very render"
    assert _cli(settings, "check", "--locked")[0] == 0
