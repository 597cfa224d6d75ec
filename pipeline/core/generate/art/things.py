"""Objects: sword, potion, coin, gem, chest, crate, tree, heart, button, panel, fire, sparkle.

Animated objects bob a pixel (items), flicker (fire) or pulse (sparkles, buttons' symbols).
"""

from __future__ import annotations

import numpy as np

from pipeline.core.generate.art.canvas import INK
from pipeline.core.generate.art.look import Look, Part

__all__ = ["THINGS"]


def _bob(look: Look) -> float:
    return look.pose.bob * look.canvas.px_v


def sword(look: Look) -> None:
    c, m = look.canvas, look.m
    dv = _bob(look)
    hilt, tip = (0.3, 0.7 + dv), (0.93, 0.07 + dv)
    width = max(2.0, c.w / 10)
    c.paint(c.line(hilt, tip, width), m["blade"])
    c.shade(c.line((hilt[0] - 0.02, hilt[1] - 0.02), (tip[0] - 0.02, tip[1] - 0.02), 1.0) & (c.part > 0), 1)
    c.shade(c.line((0.36, 0.64 + dv), (0.9, 0.1 + dv), 0.9), 2)
    c.paint(c.line((0.14, 0.54 + dv), (0.46, 0.86 + dv), max(2.0, width * 0.8)), m["guard"])
    c.paint(c.line((0.3, 0.7 + dv), (0.12, 0.88 + dv), max(2.0, width * 0.7)), m["grip"])
    c.paint(c.ellipse(0.09, 0.91 + dv, 0.07, 0.07), m["guard"])


SWORD = {
    "blade": Part((212, 0.1, 0.8), ("blade", "sword", "steel")),
    "guard": Part((45, 0.7, 0.8), ("guard", "hilt", "pommel", "crossguard")),
    "grip": Part((25, 0.55, 0.45), ("grip", "handle", "leather")),
}


def potion(look: Look) -> None:
    c, m = look.canvas, look.m
    dv = _bob(look)
    body = c.ellipse(0.5, 0.66 + dv, 0.38, 0.31)
    c.paint(body, m["glass"])
    c.paint(body & (c.v > 0.52 + dv), m["liquid"])
    c.shade(body & (c.v > 0.52 + dv) & (c.v < 0.52 + dv + c.px_v * 1.2), 1)
    c.paint(c.rect(0.38, 0.16 + dv, 0.62, 0.4 + dv), m["glass"])
    c.paint(c.rect(0.34, 0.16 + dv, 0.66, 0.2 + dv), m["glass"], tone=1)  # lip
    c.paint(c.rect(0.4, 0.02 + dv, 0.6, 0.16 + dv), m["cork"])
    c.shade(c.ellipse(0.34, 0.6 + dv, 0.07, 0.1) & body, 2)


POTION = {
    "liquid": Part((0, 0.8, 0.8), ("liquid", "potion", "elixir")),
    "glass": Part((210, 0.18, 0.85), ("glass", "bottle", "flask", "vial")),
    "cork": Part((30, 0.55, 0.55), ("cork", "stopper")),
}


def coin(look: Look) -> None:
    c, m, pose = look.canvas, look.m, look.pose
    width = 0.44 * abs(np.cos(np.pi * pose.phase)) + 0.08 if pose.animated else 0.44  # a spinning coin
    face = c.ellipse(0.5, 0.5, width, 0.44)
    c.paint(face, m["metal"])
    c.shade(face & ~c.ellipse(0.5, 0.5, width * 0.74, 0.32), -1)
    c.shade(face & ~c.ellipse(0.5, 0.5, width * 0.74, 0.32) & (c.u + c.v < 0.8), 1)
    c.shade(c.rect(0.5 - width * 0.16, 0.34, 0.5 + width * 0.16, 0.66) & face, 1)  # the emblem
    c.shade(c.ellipse(0.5 - width * 0.45, 0.3, width * 0.12, 0.08) & face, 2)


COIN = {"metal": Part((45, 0.8, 0.9), ("coin", "metal"))}


def gem(look: Look) -> None:
    c, m = look.canvas, look.m
    dv = _bob(look)
    top, mid, bottom = 0.12 + dv, 0.38 + dv, 0.92 + dv
    outline = [(0.3, top), (0.7, top), (0.92, mid), (0.5, bottom), (0.08, mid)]
    c.paint(c.polygon(outline), m["gem"])
    c.shade(c.polygon([(0.3, top), (0.7, top), (0.62, mid), (0.38, mid)]), 1)
    c.shade(c.polygon([(0.5, bottom), (0.92, mid), (0.62, mid)]), -1)
    c.shade(c.polygon([(0.08, mid), (0.38, mid), (0.5, bottom)]), 0)
    c.shade(c.ellipse(0.4, top + 0.08, 0.06, 0.05), 2)


GEM = {"gem": Part((300, 0.6, 0.8), ("gem", "crystal", "jewel", "orb", "diamond", "ruby"))}


def chest(look: Look) -> None:
    c, m = look.canvas, look.m
    c.paint(c.rect(0.04, 0.44, 0.96, 0.94), m["wood"])
    c.paint(c.ellipse(0.5, 0.46, 0.46, 0.3) & (c.v <= 0.44), m["wood"])
    for v in (0.62, 0.78):
        c.shade(c.rect(0.04, v, 0.96, v + c.px_v * 0.9), -1)
    c.paint(c.rect(0.04, 0.42, 0.96, 0.46), INK)  # the lid's seam
    for u in (0.16, 0.84):
        band = c.rect(u - 0.05, 0.0, u + 0.05, 0.94) & (c.part > 0) & ~c.rect(0.0, 0.42, 1.0, 0.46)
        c.paint(band, m["band"])
    c.paint(c.rect(0.4, 0.36, 0.6, 0.58), m["lock"])
    c.paint(c.rect(0.48, 0.44, 0.52, 0.52), INK)


CHEST = {
    "wood": Part((28, 0.6, 0.58), ("wood", "chest", "box", "planks")),
    "band": Part((210, 0.12, 0.6), ("bands", "band", "straps", "trim")),
    "lock": Part((45, 0.8, 0.9), ("lock", "latch", "clasp")),
}


def crate(look: Look) -> None:
    c, m = look.canvas, look.m
    c.paint(c.rect(0.06, 0.08, 0.94, 0.94), m["wood"])
    c.paint(c.rect(0.06, 0.08, 0.94, 0.94) & ~c.rect(0.18, 0.2, 0.82, 0.82), m["frame"])
    c.paint(c.line((0.2, 0.8), (0.8, 0.22), 2.0), m["frame"])
    for v in (0.4, 0.6):
        c.shade(c.rect(0.18, v, 0.82, v + c.px_v * 0.9) & (c.part == m["wood"]), -1)


CRATE = {
    "wood": Part((32, 0.55, 0.62), ("wood", "crate", "box", "barrel")),
    "frame": Part((26, 0.6, 0.45), ("frame", "bands", "trim")),
}


def tree(look: Look) -> None:
    c, m, rng = look.canvas, look.m, look.rng
    c.paint(c.polygon([(0.42, 0.55), (0.58, 0.55), (0.62, 0.96), (0.38, 0.96)]), m["trunk"])
    leaves = c.ellipse(0.5, 0.36, 0.34, 0.26)
    for _ in range(4):
        cu, cv = 0.22 + 0.56 * rng.random(), 0.2 + 0.3 * rng.random()
        leaves |= c.ellipse(cu, cv, 0.16 + 0.06 * rng.random(), 0.14 + 0.05 * rng.random())
    c.paint(leaves & (c.v > 0.02), m["leaves"])
    c.shade(leaves & ~c.ellipse(0.46, 0.3, 0.34, 0.24), -1)
    c.shade(c.ellipse(0.38, 0.22, 0.14, 0.09) & leaves, 1)


TREE = {
    "leaves": Part((110, 0.65, 0.6), ("leaves", "tree", "canopy", "oak", "pine", "bush")),
    "trunk": Part((28, 0.6, 0.45), ("trunk", "bark", "wood")),
}


def heart(look: Look) -> None:
    c, m, pose = look.canvas, look.m, look.pose
    s = 1.0 + (0.06 if pose.animated and pose.beat % 2 else 0.0)  # a beating heart
    shape = c.ellipse(0.5 - 0.22 * s, 0.34, 0.25 * s, 0.24 * s) | c.ellipse(0.5 + 0.22 * s, 0.34, 0.25 * s, 0.24 * s)
    shape |= c.polygon([(0.5 - 0.46 * s, 0.42), (0.5 + 0.46 * s, 0.42), (0.5, 0.42 + 0.5 * s)])
    c.paint(shape, m["heart"])
    c.shade(c.ellipse(0.3, 0.3, 0.07, 0.06) & shape, 2)


HEART = {"heart": Part((355, 0.78, 0.85), ("heart", "life", "health"))}


def _rounded(look: Look, u0: float, v0: float, u1: float, v1: float, r_px: float) -> np.ndarray:
    c = look.canvas
    x0, x1 = u0 / c.px_u + r_px, u1 / c.px_u - r_px
    y0, y1 = v0 / c.px_v + r_px, v1 / c.px_v - r_px
    px, py = c.u / c.px_u, c.v / c.px_v
    dx = np.maximum(np.maximum(x0 - px, px - x1), 0)
    dy = np.maximum(np.maximum(y0 - py, py - y1), 0)
    return (np.hypot(dx, dy) <= r_px) & c.rect(u0, v0, u1, v1)


def button(look: Look) -> None:
    c, m = look.canvas, look.m
    face = _rounded(look, 0.0, 0.0, 1.0, 1.0, 2.0)
    c.paint(face, m["face"])
    c.shade(face & (c.v > 1 - 2.5 * c.px_v), -1)
    c.shade(face & (c.v < 2.5 * c.px_v), 1)
    pulse = c.px_v * (1 if look.pose.animated and look.pose.beat % 2 else 0)
    cu, hv = 0.52, 0.3 + pulse
    if look.has("close", "cancel", "exit"):
        a, b = (cu - hv * 0.6, cu + hv * 0.6)
        symbol = c.line((a, 0.22), (b, 0.78), 2) | c.line((a, 0.78), (b, 0.22), 2)
    elif look.has("pause"):
        symbol = c.rect(cu - 0.14, 0.24, cu - 0.05, 0.76) | c.rect(cu + 0.05, 0.24, cu + 0.14, 0.76)
    elif look.has("plus", "add", "new"):
        symbol = c.rect(cu - 0.14, 0.44, cu + 0.14, 0.56) | c.rect(cu - 0.04, 0.22, cu + 0.04, 0.78)
    else:  # play, start, ok, and any other button: a right-pointing triangle
        w = (0.64 + 2 * pulse) / c.px_v * c.px_u * 0.9  # about as wide as it is tall, in pixels
        symbol = c.polygon([(cu - w * 0.45, 0.18 - pulse), (cu + w * 0.55, 0.5), (cu - w * 0.45, 0.82 + pulse)])
    shadow = np.zeros_like(symbol)
    shadow[1:, 1:] = symbol[:-1, :-1]
    c.shade(shadow & face & ~symbol, -2)  # a drop shadow, lower right
    c.paint(symbol & face, m["symbol"], tone=1)


BUTTON = {
    "face": Part((0, 0.7, 0.75), ("button", "face")),
    "symbol": Part((45, 0.05, 0.96), ("symbol", "icon", "arrow", "triangle")),
}


def panel(look: Look) -> None:
    c, m = look.canvas, look.m
    outer = _rounded(look, 0.0, 0.0, 1.0, 1.0, 2.0)
    c.paint(outer, m["frame"])
    c.paint(_rounded(look, 2 * c.px_u, 2 * c.px_v, 1 - 2 * c.px_u, 1 - 2 * c.px_v, 1.0), m["inside"], tone=-1)


PANEL = {
    "frame": Part((35, 0.6, 0.7), ("frame", "border", "panel", "window")),
    "inside": Part((220, 0.35, 0.45), ("inside", "background")),
}


def fire(look: Look) -> None:
    c, m, rng, pose = look.canvas, look.m, look.rng, look.pose
    cu, cv = 0.5, 0.54
    du, dv = (c.u - cu) / 0.5, (c.v - cv) / 0.46
    r, angle = np.hypot(du, dv), np.arctan2(dv, du)
    tongues = int(rng.integers(5, 8))
    offset = rng.random() * 2 * np.pi
    turn = 2 * np.pi * pose.phase / tongues
    flicker = np.cos(tongues * (angle - offset - turn))
    up = np.clip(-np.sin(angle), 0, 1) * 0.18  # flames lick upward
    for part, size in (("outer", 0.7), ("middle", 0.48), ("core", 0.26)):
        edge = size * (1 + 0.22 * flicker + up) + 0.03 * pose.wave
        c.paint(r <= edge, m[part], tone=0)
    c.shade(c.ellipse(cu - 0.08, cv - 0.08, 0.08, 0.07) & (c.part == m["core"]), 2)


FIRE = {
    "outer": Part((6, 0.85, 0.82), ("flame", "flames", "outer")),
    "middle": Part((28, 0.9, 0.98), ("fire", "ball", "fireball", "explosion", "burst")),
    "core": Part((52, 0.55, 1.0), ("core", "center")),
}


def sparkle(look: Look) -> None:
    c, m, pose = look.canvas, look.m, look.pose
    s = 1.0 + (0.15 * pose.wave if pose.animated else 0.0)
    du, dv = np.abs(c.u - 0.5), np.abs(c.v - 0.5)
    star = (du / (0.48 * s) + dv / (0.1 * s) <= 1) | (du / (0.1 * s) + dv / (0.48 * s) <= 1)
    star |= du / (0.2 * s) + dv / (0.2 * s) <= 1
    c.paint(star, m["glow"])
    c.shade(du / (0.12 * s) + dv / (0.12 * s) <= 1, 2)


SPARKLE = {"glow": Part((280, 0.55, 0.95), ("spark", "sparkle", "magic", "star", "glow", "light"))}

#: subject -> (drawer, parts, main part)
THINGS = {
    "sword": (sword, SWORD, "blade"),
    "potion": (potion, POTION, "liquid"),
    "coin": (coin, COIN, "metal"),
    "gem": (gem, GEM, "gem"),
    "chest": (chest, CHEST, "wood"),
    "crate": (crate, CRATE, "wood"),
    "tree": (tree, TREE, "leaves"),
    "heart": (heart, HEART, "heart"),
    "button": (button, BUTTON, "face"),
    "panel": (panel, PANEL, "frame"),
    "fire": (fire, FIRE, "middle"),
    "sparkle": (sparkle, SPARKLE, "glow"),
}
