"""Tiles: the whole cell, no outline, and seamless (every pattern repeats with the tile's width and height).

Grass, stone bricks, water, sand, dirt and wooden planks; an animated water tile ripples.
"""

from __future__ import annotations

import numpy as np

from pipeline.core.generate.art.look import Look, Part

__all__ = ["TILES", "tile_kind"]

_KINDS = (
    ("water", ("water", "ocean", "lake", "sea", "river", "lava")),
    ("grass", ("grass", "meadow", "lawn", "moss")),
    ("bricks", ("brick", "bricks", "wall", "stone", "cobble", "cobblestone", "castle")),
    ("sand", ("sand", "desert", "beach")),
    ("dirt", ("dirt", "soil", "mud", "earth", "path")),
    ("planks", ("wood", "wooden", "plank", "planks", "floor", "deck")),
)


def tile_kind(words: frozenset[str]) -> str:
    return next((kind for kind, names in _KINDS if words & set(names)), "bricks")


def _noise(look: Look, share: float) -> np.ndarray:
    return look.rng.random((look.canvas.h, look.canvas.w)) < share


def _wrap_points(look: Look, count: int) -> list[tuple[int, int]]:
    c = look.canvas
    return [(int(look.rng.integers(0, c.h)), int(look.rng.integers(0, c.w))) for _ in range(count)]


def grass(look: Look) -> None:
    c, m = look.canvas, look.m
    c.paint(np.ones((c.h, c.w), dtype=bool), m["ground"], tone=0)
    c.shade(_noise(look, 0.12), -1)
    for y, x in _wrap_points(look, max(3, c.w * c.h // 24)):
        blade = np.zeros((c.h, c.w), dtype=bool)
        blade[y % c.h, x % c.w] = blade[(y + 1) % c.h, x % c.w] = True
        c.shade(blade, 1)
        c.shade(_at(c.h, c.w, (y + 2) % c.h, x % c.w), -1)
    if look.has("flower", "flowers"):
        for y, x in _wrap_points(look, max(1, c.w * c.h // 120)):
            c.paint(_at(c.h, c.w, y, x), m["flower"], tone=1)


def _at(h: int, w: int, y: int, x: int) -> np.ndarray:
    mask = np.zeros((h, w), dtype=bool)
    mask[y % h, x % w] = True
    return mask


def bricks(look: Look) -> None:
    c, m, rng = look.canvas, look.m, look.rng
    rows = max(2, round(c.h / 5))
    bh = c.h / rows
    cols = max(1, round(c.w / 8))
    bw = c.w / cols
    y, x = c.y.astype(int), c.x.astype(int)
    row = (y / bh).astype(int)
    shift = (row % 2) * bw / 2
    col = (((x + shift) % c.w) / bw).astype(int)
    in_y = y - (row * bh).astype(int)
    in_x = ((x + shift) % c.w) - col * bw
    mortar = (in_y == 0) | (in_x < 1)
    c.paint(~mortar, m["stone"], tone=0)
    c.paint(mortar, m["mortar"], tone=-1)
    top = ~mortar & (in_y == 1)
    bottom = ~mortar & (((y + 1) % c.h == 0) | (in_y == np.ceil(bh).astype(int) - 1))
    c.shade(top, 1)
    c.shade(bottom, -1)
    dark = rng.random((rows, cols)) < 0.3
    c.shade(~mortar & ~top & ~bottom & dark[row % rows, col % cols], -1)
    c.shade(~mortar & _noise(look, 0.05), 1)


def water(look: Look) -> None:
    c, m, pose = look.canvas, look.m, look.pose
    c.paint(np.ones((c.h, c.w), dtype=bool), m["water"], tone=0)
    c.shade((c.y.astype(int) % 4 == 3), -1)
    drift = round(pose.phase * c.w)
    for y, x in _wrap_points(look, max(2, c.w * c.h // 40)):
        for dx in range(3):
            c.shade(_at(c.h, c.w, y, x + dx + drift), 1 if dx else 2)


def speckled(look: Look) -> None:
    c, m = look.canvas, look.m
    c.paint(np.ones((c.h, c.w), dtype=bool), m["ground"], tone=0)
    c.shade(_noise(look, 0.14), -1)
    c.shade(_noise(look, 0.08), 1)
    for y, x in _wrap_points(look, max(1, c.w * c.h // 64)):
        c.shade(_at(c.h, c.w, y, x) | _at(c.h, c.w, y, x + 1), -2)


def planks(look: Look) -> None:
    c, m = look.canvas, look.m
    rows = max(2, round(c.h / 4))
    y, x = c.y.astype(int), c.x.astype(int)
    row = (y * rows) // c.h
    seam = (y * rows) % c.h < rows
    c.paint(np.ones((c.h, c.w), dtype=bool), m["wood"], tone=0)
    c.shade(seam, -2)
    ends = (x + row * (c.w // 3)) % c.w == 0
    c.shade(ends & ~seam, -2)
    c.shade(~seam & _noise(look, 0.1), -1)
    c.shade(~seam & (((y * rows) % c.h) < 2 * rows) & ~ends, 1)


_DRAWERS = {"grass": grass, "bricks": bricks, "water": water, "sand": speckled, "dirt": speckled, "planks": planks}

_PARTS = {
    "grass": {"ground": Part((105, 0.6, 0.62), ("grass", "ground")), "flower": Part((55, 0.7, 1.0), ("flowers",))},
    "bricks": {"stone": Part((30, 0.1, 0.62), ("stone", "brick", "bricks", "wall")), "mortar": Part((30, 0.1, 0.4))},
    "water": {"water": Part((205, 0.7, 0.75), ("water", "ocean", "lake", "sea", "river", "lava"))},
    "sand": {"ground": Part((45, 0.42, 0.88), ("sand", "ground"))},
    "dirt": {"ground": Part((28, 0.5, 0.5), ("dirt", "ground", "soil", "mud"))},
    "planks": {"wood": Part((30, 0.55, 0.6), ("wood", "planks", "floor"))},
}
_MAIN = {"grass": "ground", "bricks": "stone", "water": "water", "sand": "ground", "dirt": "ground", "planks": "wood"}

#: kind -> (drawer, parts, main part)
TILES = {kind: (_DRAWERS[kind], _PARTS[kind], _MAIN[kind]) for kind in _DRAWERS}
