"""The pixel stage's parts: palettes, OKLab, adaptive quantization, dithering, drift, alpha operations."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipeline.core.pixelate import alpha
from pipeline.core.pixelate.color import hex_to_rgb, nearest_palette_index, oklab_to_srgb, srgb_to_oklab
from pipeline.core.pixelate.dither import map_to_palette
from pipeline.core.pixelate.drift import correct_drift
from pipeline.core.pixelate.palettes import NAMED_PALETTES, load_palette_file, normalize_hex, parse_palette_arg
from pipeline.core.pixelate.quantize import adaptive_palette

# --- palettes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "size", "first", "last"),
    [
        ("pico-8", 16, "#000000", "#ffccaa"),
        ("db16", 16, "#140c1c", "#deeed6"),
        ("db32", 32, "#000000", "#8a6f30"),
        ("endesga-32", 32, "#be4a2f", "#c28569"),
        ("gameboy", 4, "#0f380f", "#9bbc0f"),
        ("nes", 55, "#7c7c7c", "#f8d8f8"),
    ],
)
def test_named_palettes_are_exact(name: str, size: int, first: str, last: str) -> None:
    colours = NAMED_PALETTES[name]
    assert len(colours) == size == len(set(colours))
    assert (colours[0], colours[-1]) == (first, last)
    assert all(normalize_hex(c) == c for c in colours)


def test_palette_files_hex_and_gpl(tmp_path: Path) -> None:
    hex_file = tmp_path / "p.hex"
    hex_file.write_text("FF0000\n00ff00\n\n#0000FF\n", encoding="utf-8")
    gpl = tmp_path / "p.gpl"
    gpl.write_text("GIMP Palette\nName: t\nColumns: 2\n#\n255 0 0 red\n  0 255 0\tgreen\n", encoding="utf-8")
    assert load_palette_file(hex_file) == ("#ff0000", "#00ff00", "#0000ff")
    assert load_palette_file(gpl) == ("#ff0000", "#00ff00")
    assert parse_palette_arg(str(hex_file)) == ("#ff0000", "#00ff00", "#0000ff")


@pytest.mark.parametrize(
    ("arg", "expected"),
    [("pico-8", "pico-8"), ("PICO-8", "pico-8"), ("adaptive:16", 16), ("#ff0000, 00FF00", ("#ff0000", "#00ff00"))],
)
def test_palette_argument_forms(arg: str, expected: object) -> None:
    assert parse_palette_arg(arg) == expected


def test_unknown_palette_argument_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="pico-8"):
        parse_palette_arg("vapourwave")


# --- colour -----------------------------------------------------------------------------------


def test_oklab_known_values_and_round_trip() -> None:
    lab = srgb_to_oklab(np.array([[255, 255, 255], [0, 0, 0]], dtype=np.uint8))
    assert lab[0] == pytest.approx([1.0, 0.0, 0.0], abs=1e-3)
    assert lab[1] == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)
    rgb = np.random.default_rng(0).integers(0, 256, (2000, 3)).astype(np.uint8)
    assert (oklab_to_srgb(srgb_to_oklab(rgb)) == rgb).all()


def test_nearest_is_perceptual_not_rgb() -> None:
    # A clear mid green: in RGB distance it is nearer the mid grey; to the eye (and in OKLab) it is a green.
    palette = hex_to_rgb(["#808080", "#00ff00"])
    green = np.array([[86, 194, 100]], np.uint8)
    assert ((green.astype(int) - palette.astype(int)) ** 2).sum(axis=1).argmin() == 0
    assert nearest_palette_index(green, palette).tolist() == [1]


# --- adaptive palettes --------------------------------------------------------------------------


def _clouds(centres: list[tuple[int, int, int]], counts: list[int], spread: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pts = [np.clip(np.array(c) + rng.normal(0, spread, (n, 3)), 0, 255) for c, n in zip(centres, counts, strict=True)]
    return np.concatenate(pts).astype(np.uint8)


TRUE = [(20, 20, 30), (200, 40, 60), (40, 160, 80), (240, 220, 180), (90, 90, 200), (250, 250, 250)]


def test_adaptive_palette_finds_the_true_colours() -> None:
    pts = _clouds(TRUE, [3000, 1500, 1200, 800, 400, 30], spread=4)
    palette = adaptive_palette(pts, 6)
    assert len(palette) == 6
    for colour in TRUE:
        assert np.abs(palette.astype(int) - colour).sum(axis=1).min() <= 6


def test_adaptive_palette_never_splits_one_colour_to_fill_slots() -> None:
    pts = _clouds(TRUE[:3], [4000, 3000, 2000], spread=5)
    assert len(adaptive_palette(pts, 16)) == 3


def test_adaptive_palette_respects_the_limit_and_is_deterministic() -> None:
    pts = np.random.default_rng(3).integers(0, 256, (5000, 3)).astype(np.uint8)
    a, b = adaptive_palette(pts, 8), adaptive_palette(pts.copy(), 8)
    assert len(a) <= 8
    assert (a == b).all()
    assert len(adaptive_palette(pts[:0], 8)) == 0


# --- dithering --------------------------------------------------------------------------------


def _gradient_lab(w: int = 64, h: int = 16, lo: str = "#000000", hi: str = "#ffffff") -> np.ndarray:
    """A horizontal gradient from ``lo`` to ``hi``, interpolated in OKLab."""
    ends = srgb_to_oklab(hex_to_rgb([lo, hi]))
    t = np.linspace(0, 1, w)[:, None]
    row = ends[0] * (1 - t) + ends[1] * t
    return np.repeat(row[None, :, :], h, axis=0).astype(np.float32)


@pytest.mark.parametrize("mode", ["ordered", "floyd-steinberg"])
def test_dithering_tracks_a_gradient_better_than_nearest(mode: str) -> None:
    shades = NAMED_PALETTES["gameboy"]
    lab = _gradient_lab(lo=shades[0], hi=shades[-1])  # within the palette's range: every column is reachable
    pal = srgb_to_oklab(hex_to_rgb(shades))
    opaque = np.ones(lab.shape[:2], dtype=bool)

    def column_error(idx: np.ndarray) -> float:  # how far each column's average colour is from the gradient's
        return float(np.linalg.norm(pal[idx].mean(axis=0) - lab.mean(axis=0), axis=-1).mean())

    plain = map_to_palette(lab, opaque, pal, "none")
    dithered = map_to_palette(lab, opaque, pal, mode)
    assert dithered.min() >= 0 and dithered.max() < len(pal)
    assert column_error(dithered) < 0.75 * column_error(plain)


def test_error_diffusion_skips_transparent_cells() -> None:
    lab = _gradient_lab(16, 8)
    opaque = np.ones(lab.shape[:2], dtype=bool)
    opaque[:, 8:] = False
    pal = srgb_to_oklab(hex_to_rgb(["#000000", "#ffffff"]))
    alone = map_to_palette(lab[:, :8].copy(), opaque[:, :8].copy(), pal, "floyd-steinberg")
    half = map_to_palette(lab, opaque, pal, "floyd-steinberg")
    assert (half[:, :8] == alone).all()  # transparent cells neither take nor pass on any error
    assert (half[:, :8] != half[:, :8][0, 0]).any()  # and the left half is dithered


# --- drift ------------------------------------------------------------------------------------


def test_drift_correction_undoes_a_brightness_gradient() -> None:
    pal = hex_to_rgb(NAMED_PALETTES["endesga-32"])
    rng = np.random.default_rng(1)
    idx = rng.integers(0, len(pal), (48, 48))
    truth = pal[idx]
    xx = np.linspace(-0.5, 0.5, 48)[None, :, None]
    drifted = np.clip(truth * (1 + 0.16 * xx) + rng.normal(0, 2, truth.shape), 0, 255).astype(np.uint8)
    opaque = np.ones((48, 48), dtype=bool)
    before = (nearest_palette_index(drifted, pal) == idx).mean()
    corrected, gains = correct_drift(drifted, opaque, pal)
    after = (nearest_palette_index(corrected, pal) == idx).mean()
    assert gains is not None
    assert after > before and after >= 0.99


def test_drift_correction_leaves_clean_cells_alone() -> None:
    pal = hex_to_rgb(NAMED_PALETTES["pico-8"])
    cells = pal[np.random.default_rng(2).integers(0, 16, (32, 32))]
    corrected, gains = correct_drift(cells, np.ones((32, 32), dtype=bool), pal)
    assert gains is None and (corrected == cells).all()


# --- alpha ------------------------------------------------------------------------------------


def _bfs_from_border(allowed: np.ndarray) -> np.ndarray:
    h, w = allowed.shape
    seen = np.zeros_like(allowed)
    todo = deque((y, x) for y in range(h) for x in range(w) if (y in (0, h - 1) or x in (0, w - 1)) and allowed[y, x])
    for y, x in todo:
        seen[y, x] = True
    while todo:
        y, x = todo.popleft()
        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= ny < h and 0 <= nx < w and allowed[ny, nx] and not seen[ny, nx]:
                seen[ny, nx] = True
                todo.append((ny, nx))
    return seen


@settings(max_examples=150, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24))))
def test_flood_fill_matches_a_breadth_first_search(allowed: np.ndarray) -> None:
    assert (alpha.flood_from_border(allowed) == _bfs_from_border(allowed)).all()


def test_flood_fill_does_not_enter_an_enclosed_region_or_cross_a_spiral_wall() -> None:
    allowed = np.ones((9, 9), dtype=bool)
    allowed[2:7, 2] = allowed[2, 2:7] = allowed[6, 2:7] = allowed[2:5, 6] = False  # a wall with a gap
    allowed[4, 4] = True
    filled = alpha.flood_from_border(allowed)
    assert filled[4, 4]  # reached through the gap at the right
    closed = allowed.copy()
    closed[5, 6] = False
    assert not alpha.flood_from_border(closed)[4, 4]


def test_flood_fill_follows_a_drifting_background_but_stops_at_edges() -> None:
    lab = np.zeros((10, 10, 3), dtype=np.float32)
    lab[..., 0] = np.linspace(0.5, 0.8, 10)[None, :]  # a smooth drift in lightness
    lab[4:6, 4:6, 0] = 0.2  # a dark sprite
    mask = alpha.flood_from_border(np.ones((10, 10), dtype=bool), lab=lab, step=0.08)
    assert mask.sum() == 96 and not mask[4:6, 4:6].any()


def test_orphans_and_outline() -> None:
    opaque = np.zeros((7, 7), dtype=bool)
    opaque[1, 1] = True  # alone
    opaque[3:5, 3:5] = True  # a 2x2 block
    opaque[5, 5] = True  # touches the block diagonally: not an orphan
    assert np.argwhere(alpha.remove_orphans(opaque)).tolist() == [[1, 1]]
    ring = alpha.add_outline(opaque & ~alpha.remove_orphans(opaque))
    assert ring[2, 3] and ring[3, 2] and not ring[2, 2] and not ring[3, 3]


def test_background_field_needs_a_smooth_border_and_follows_a_gradient() -> None:
    from pipeline.core.pixelate.background import fit_background

    lab = srgb_to_oklab(np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8))
    everywhere = np.ones((16, 16), dtype=bool)
    assert fit_background(lab, everywhere, 0.08) is None  # a random border is no background
    lab[0, :] = lab[-1, :] = lab[:, 0] = lab[:, -1] = srgb_to_oklab(np.array([200, 200, 190], np.uint8))
    flat = fit_background(lab, everywhere, 0.08)
    assert flat is not None and flat.kind == "flat"
    assert oklab_to_srgb(flat.field[8, 8]).tolist() == pytest.approx([200, 200, 190], abs=1)
    # top-to-bottom gradient on the border (rows 40 levels apart): the field predicts the middle
    shade = np.linspace(230, 170, 16).astype(np.uint8)
    grad = np.repeat(np.repeat(shade[:, None, None], 16, axis=1), 3, axis=2)
    lab = srgb_to_oklab(np.where(np.pad(np.zeros((14, 14), bool), 1, constant_values=True)[..., None], grad, 0))
    found = fit_background(lab, everywhere, 0.08)
    assert found is not None and found.kind == "gradient"
    assert oklab_to_srgb(found.field[8, 8]).tolist() == pytest.approx(grad[8, 8].tolist(), abs=4)
