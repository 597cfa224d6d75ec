"""Figures, front view: knight, wizard, goblin, skeleton, villager, slime and a portrait bust.

Each drawer paints on ``look.canvas`` in box units (0..1 inside a 1 px margin). Animated figures step
(legs lift in turn, the body sinks a pixel between steps) or, for a slime, squash and stretch.
"""

from __future__ import annotations

import numpy as np

from pipeline.core.generate.art.canvas import INK
from pipeline.core.generate.art.look import Look, Part

__all__ = ["FIGURES"]

SKIN = Part((25, 0.38, 0.92), ("skin", "face"))


def _legs(look: Look, u_in: float, u_out: float, top: float, bottom: float, leg: int, boot: int | None) -> None:
    """Two legs; when animated, one leg lifts a pixel on beat 0, the other on beat 2."""
    c, pose = look.canvas, look.pose
    for side, lifted in ((0, pose.animated and pose.beat == 0), (1, pose.animated and pose.beat == 2)):
        u0, u1 = (u_out, u_in) if side == 0 else (1 - u_in, 1 - u_out)
        lift = c.px_v * ((2 if c.h >= 24 else 1) if lifted else 0)
        c.paint(c.rect(u0, top, u1, bottom - lift), leg)
        if boot is not None:
            c.paint(c.rect(u0 - c.px_u * 0.5, bottom - lift - 0.09, u1 + c.px_u * 0.5, bottom - lift), boot)


def _arms(look: Look, u_in: float, u_out: float, top: float, bottom: float, arm: int, hand: int) -> None:
    """Two arms swinging against the legs when animated."""
    c, pose = look.canvas, look.pose
    for side in (0, 1):
        swing = (1 if (pose.beat == 0) == (side == 1) else -1) if pose.animated and pose.beat % 2 == 0 else 0
        u0, u1 = (u_out, u_in) if side == 0 else (1 - u_in, 1 - u_out)
        dv = swing * c.px_v
        c.paint(c.rect(u0, top, u1, bottom + dv), arm)
        c.paint(c.rect(u0, bottom + dv - 0.06, u1, bottom + dv), hand)


def knight(look: Look) -> None:
    c, m, rng = look.canvas, look.m, look.rng
    dv = look.pose.bob * c.px_v
    shield = bool(rng.integers(0, 2)) or look.has("shield")
    plume = look.has("plume") or bool(rng.integers(0, 3))
    cape = c.polygon([(0.26, 0.36 + dv), (0.74, 0.36 + dv), (0.88, 0.9), (0.12, 0.9)])
    c.paint(cape, m["cape"])
    _legs(look, 0.46, 0.34, 0.64 + dv, 0.97, m["armor"], m["boot"])
    c.paint(c.rect(0.3, 0.36 + dv, 0.7, 0.66 + dv), m["armor"])
    c.paint(c.rect(0.3, 0.6 + dv, 0.7, 0.65 + dv), m["belt"])
    c.shade(c.rect(0.46, 0.4 + dv, 0.54, 0.56 + dv), 1)  # breastplate ridge
    _arms(look, 0.3, 0.19, 0.38 + dv, 0.62 + dv, m["armor"], m["boot"])
    head = c.ellipse(0.5, 0.22 + dv, 0.2, 0.17) | c.rect(0.3, 0.22 + dv, 0.7, 0.36 + dv)
    c.paint(head, m["armor"])
    c.paint(c.rect(0.34, 0.24 + dv, 0.66, 0.24 + dv + c.px_v * 0.9), INK)  # visor slit
    if plume:
        c.paint(c.ellipse(0.5, 0.05 + dv, 0.07, 0.08) | c.rect(0.46, 0.02 + dv, 0.54, 0.1 + dv), m["cape"])
    if shield:
        c.paint(c.ellipse(0.2, 0.56 + dv, 0.15, 0.17) & c.rect(0.0, 0.4 + dv, 0.4, 0.76 + dv), m["cape"])
        c.shade(c.rect(0.17, 0.46 + dv, 0.23, 0.68 + dv), 1)
        c.shade(c.rect(0.1, 0.54 + dv, 0.3, 0.58 + dv), 1)
    else:
        c.paint(c.rect(0.84, 0.14 + dv, 0.84 + c.px_u * 1.6, 0.56 + dv), m["blade"])
        c.paint(c.rect(0.76, 0.54 + dv, 0.98, 0.58 + dv), m["belt"])


KNIGHT = {
    "armor": Part((215, 0.12, 0.78), ("armor", "armour", "helmet", "plate")),
    "cape": Part((222, 0.7, 0.72), ("cape", "cloak", "plume", "shield")),
    "boot": Part((25, 0.45, 0.42), ("boots", "gloves")),
    "belt": Part((30, 0.6, 0.5), ("belt", "leather")),
    "blade": Part((210, 0.08, 0.9), ("sword", "blade")),
}


def wizard(look: Look) -> None:
    c, m = look.canvas, look.m
    dv = look.pose.bob * c.px_v
    robe = c.polygon([(0.34, 0.4 + dv), (0.66, 0.4 + dv), (0.8, 0.97), (0.2, 0.97)])
    c.paint(robe, m["robe"])
    c.shade(c.rect(0.2, 0.93, 0.8, 0.97), -1)
    c.paint(c.rect(0.47, 0.42 + dv, 0.53, 0.95), m["trim"])  # robe seam
    for side in (0, 1):
        sleeve = [(0.34, 0.42 + dv), (0.24, 0.64 + dv), (0.34, 0.66 + dv), (0.4, 0.5 + dv)]
        c.paint(c.polygon(sleeve if side == 0 else [(1 - u, v) for u, v in sleeve]), m["robe"])
    c.paint(c.ellipse(0.5, 0.33 + dv, 0.11, 0.1), m["skin"])
    c.paint(c.polygon([(0.38, 0.36 + dv), (0.62, 0.36 + dv), (0.5, 0.64 + dv)]), m["beard"])
    c.paint(c.rect(0.43, 0.31 + dv, 0.45, 0.33 + dv) | c.rect(0.55, 0.31 + dv, 0.57, 0.33 + dv), INK)
    c.paint(c.ellipse(0.5, 0.25 + dv, 0.25, 0.045), m["hat"])  # brim
    tilt = 0.06 if look.rng.integers(0, 2) else -0.06
    c.paint(c.polygon([(0.33, 0.25 + dv), (0.67, 0.25 + dv), (0.5 + tilt, 0.0 + dv)]), m["hat"])
    c.paint(c.rect(0.34, 0.2 + dv, 0.66, 0.23 + dv) & c.polygon([(0.3, 0.25), (0.7, 0.25), (0.5, 0)]), m["trim"])
    c.paint(c.rect(0.22, 0.6 + dv, 0.28, 0.66 + dv) | c.rect(0.72, 0.6 + dv, 0.78, 0.66 + dv), m["skin"])
    c.paint(c.line((0.82, 0.16 + dv), (0.82, 0.98), 1.6), m["staff"])
    glow = 0.07 + 0.015 * look.pose.wave
    c.paint(c.ellipse(0.82, 0.12 + dv, glow, glow * c.px_v / c.px_u), m["orb"])
    c.shade(c.ellipse(0.8, 0.1 + dv, 0.025, 0.025), 2)


WIZARD = {
    "robe": Part((270, 0.55, 0.6), ("robe", "robes", "cloak", "gown")),
    "hat": Part((270, 0.6, 0.5), ("hat",)),
    "trim": Part((48, 0.75, 0.9), ("trim", "stars")),
    "skin": SKIN,
    "beard": Part((40, 0.06, 0.92), ("beard",)),
    "staff": Part((28, 0.55, 0.5), ("staff", "wand")),
    "orb": Part((185, 0.5, 1.0), ("orb", "crystal", "glowing")),
}


def goblin(look: Look) -> None:
    c, m, rng = look.canvas, look.m, look.rng
    dv = look.pose.bob * c.px_v
    _legs(look, 0.46, 0.36, 0.74 + dv, 0.97, m["skin"], m["cloth"])
    c.paint(c.polygon([(0.32, 0.5 + dv), (0.68, 0.5 + dv), (0.72, 0.8 + dv), (0.28, 0.8 + dv)]), m["cloth"])
    c.paint(c.rect(0.28, 0.72 + dv, 0.72, 0.76 + dv), m["belt"])
    _arms(look, 0.32, 0.22, 0.52 + dv, 0.74 + dv, m["skin"], m["skin"])
    ear = [(0.3, 0.28 + dv), (0.04, 0.2 + dv), (0.3, 0.42 + dv)]
    c.paint(c.mirror(c.polygon(ear)), m["skin"])
    c.paint(c.ellipse(0.5, 0.33 + dv, 0.23, 0.2), m["skin"])
    eye_v = 0.3 + dv
    c.paint(c.mirror(c.rect(0.37, eye_v, 0.45, eye_v + 0.07)), m["eye"], tone=1)
    c.paint(c.mirror(c.rect(0.41, eye_v + 0.02, 0.45, eye_v + 0.07)), INK)
    c.paint(c.rect(0.4, 0.43 + dv, 0.6, 0.45 + dv), INK)  # grin
    c.paint(c.mirror(c.rect(0.42, 0.43 + dv, 0.45, 0.47 + dv)), m["tooth"], tone=1)
    side = 1 if rng.integers(0, 2) else -1
    hand_u = 0.27 if side < 0 else 0.73
    tip = (hand_u + side * 0.24, 0.48 + dv)
    c.paint(c.line((hand_u, 0.72 + dv), tip, 2.0), m["blade"])
    c.paint(c.line((hand_u - 0.06, 0.72 + dv), (hand_u + 0.06, 0.72 + dv), 1.5), m["belt"])


GOBLIN = {
    "skin": Part((100, 0.62, 0.66), ("skin", "goblin", "orc")),
    "cloth": Part((28, 0.5, 0.48), ("tunic", "rags", "loincloth", "clothes")),
    "belt": Part((20, 0.4, 0.32), ("belt",)),
    "eye": Part((55, 0.85, 1.0), ("eyes", "eye")),
    "tooth": Part((50, 0.1, 0.95), ("teeth", "fangs")),
    "blade": Part((20, 0.45, 0.6), ("dagger", "knife", "blade", "sword")),
}


def skeleton(look: Look) -> None:
    c, m = look.canvas, look.m
    dv = look.pose.bob * c.px_v
    bone, w = m["bone"], 2.0 if c.w >= 24 else 1.5
    for side in (0, 1):
        f = (lambda u: u) if side == 0 else (lambda u: 1 - u)
        lift = c.px_v * 1.5 if look.pose.animated and look.pose.beat == 2 * side else 0
        c.paint(c.line((f(0.44), 0.68 + dv), (f(0.4), 0.94 - lift), w), bone)
        foot_in, foot_out = sorted((f(0.34), f(0.44)))
        c.paint(c.rect(foot_in, 0.92 - lift, foot_out, 0.96 - lift), bone)
        c.paint(c.line((f(0.36), 0.42 + dv), (f(0.26), 0.66 + dv), w), bone)
    c.paint(c.rect(0.47, 0.4 + dv, 0.53, 0.7 + dv), bone)  # spine
    for i in range(3):
        v = 0.43 + i * 0.07 + dv
        c.paint(c.rect(0.35, v, 0.65, v + 0.035), bone)
    c.paint(c.rect(0.38, 0.64 + dv, 0.62, 0.7 + dv), bone)  # pelvis
    c.paint(c.ellipse(0.5, 0.24 + dv, 0.18, 0.16) | c.rect(0.38, 0.28 + dv, 0.62, 0.38 + dv), bone)
    c.paint(c.mirror(c.ellipse(0.42, 0.26 + dv, 0.045, 0.05)), INK)
    c.paint(c.rect(0.49, 0.32 + dv, 0.51, 0.34 + dv), INK)
    c.paint(c.rect(0.4, 0.36 + dv, 0.6, 0.37 + dv) & (np.arange(c.w)[None, :] % 2 == 0), INK)  # teeth
    c.paint(c.ellipse(0.78, 0.56 + dv, 0.16, 0.18), m["shield"])
    c.paint(c.ellipse(0.78, 0.56 + dv, 0.05, 0.055), m["boss"])
    c.shade(c.ellipse(0.74, 0.5 + dv, 0.07, 0.07) & ~c.ellipse(0.78, 0.56 + dv, 0.06, 0.065), 1)


SKELETON = {
    "bone": Part((45, 0.12, 0.9), ("bones", "skull", "skeleton")),
    "shield": Part((30, 0.5, 0.55), ("shield",)),
    "boss": Part((210, 0.1, 0.75), ("boss", "rim")),
}


def villager(look: Look) -> None:
    c, m = look.canvas, look.m
    dv = look.pose.bob * c.px_v
    _legs(look, 0.47, 0.36, 0.66 + dv, 0.97, m["pants"], m["boot"])
    c.paint(c.polygon([(0.32, 0.38 + dv), (0.68, 0.38 + dv), (0.7, 0.7 + dv), (0.3, 0.7 + dv)]), m["tunic"])
    c.paint(c.rect(0.3, 0.6 + dv, 0.7, 0.64 + dv), m["boot"])
    _arms(look, 0.32, 0.22, 0.4 + dv, 0.64 + dv, m["tunic"], m["skin"])
    c.paint(c.ellipse(0.5, 0.24 + dv, 0.17, 0.16), m["skin"])
    c.paint(c.ellipse(0.5, 0.15 + dv, 0.19, 0.1) | c.mirror(c.rect(0.31, 0.12 + dv, 0.36, 0.28 + dv)), m["hair"])
    c.paint(c.mirror(c.rect(0.42, 0.24 + dv, 0.44, 0.27 + dv)), INK)


VILLAGER = {
    "tunic": Part((140, 0.5, 0.6), ("tunic", "shirt", "dress", "coat", "clothes")),
    "pants": Part((30, 0.45, 0.45), ("pants", "trousers", "skirt")),
    "boot": Part((25, 0.5, 0.32), ("boots", "shoes", "belt")),
    "skin": SKIN,
    "hair": Part((25, 0.6, 0.42), ("hair",)),
}


def slime(look: Look) -> None:
    c, m, pose = look.canvas, look.m, look.pose
    squash = (0.0, 0.12, 0.0, -0.1)[pose.beat] if pose.animated else 0.0
    ru, rv = 0.42 * (1 + squash), 0.36 * (1 - squash)
    ground = 0.96
    body = c.ellipse(0.5, ground - rv * 0.8, ru, rv) & (c.v <= ground)
    body |= c.ellipse(0.5, ground - rv * 0.8 - rv * 0.75, 0.08 * (1 - squash), 0.12)  # the drip on top
    c.paint(body, m["slime"])
    c.shade(body & ~c.ellipse(0.5, ground - rv * 0.8 - 0.03, ru * 0.88, rv * 0.92), -1)
    c.shade(c.ellipse(0.34, ground - rv * 1.15, ru * 0.16, rv * 0.16) & body, 2)
    eye_v = ground - rv * 0.85
    gap = 0.11 + 0.04 * look.rng.random()
    for side in (-1, 1):
        eye = c.ellipse(0.5 + side * gap, eye_v, 0.045, 0.075) & body
        c.paint(eye, INK)
        c.paint(eye & (c.v < eye_v - 0.02) & (c.u < 0.5 + side * gap), m["shine"], tone=2)
    c.paint(c.rect(0.46, eye_v + 0.08, 0.54, eye_v + 0.1) & body, INK)


SLIME = {
    "slime": Part((205, 0.65, 0.85), ("slime", "blob", "jelly", "ooze")),
    "shine": Part((0, 0.0, 1.0), ()),
}


def portrait(look: Look) -> None:
    c, m = look.canvas, look.m
    c.paint(c.ellipse(0.5, 1.05, 0.46, 0.3) & (c.v < 0.99), m["tunic"])
    c.paint(c.rect(0.42, 0.66, 0.58, 0.8), m["skin"])
    c.paint(c.ellipse(0.5, 0.44, 0.28, 0.32), m["skin"])
    c.paint(c.ellipse(0.5, 0.24, 0.32, 0.2) | c.mirror(c.rect(0.2, 0.22, 0.27, 0.56)), m["hair"])
    c.paint(c.mirror(c.rect(0.35, 0.44, 0.42, 0.5)), m["eye"], tone=1)
    c.paint(c.mirror(c.rect(0.38, 0.44, 0.42, 0.5)), INK)
    c.paint(c.rect(0.43, 0.62, 0.57, 0.64), INK)
    c.shade(c.ellipse(0.62, 0.5, 0.12, 0.2) & c.ellipse(0.5, 0.44, 0.28, 0.32), -1)


PORTRAIT = {
    "tunic": Part((210, 0.5, 0.6), ("tunic", "shirt", "dress", "coat", "armor")),
    "skin": SKIN,
    "hair": Part((30, 0.6, 0.4), ("hair",)),
    "eye": Part((0, 0.0, 1.0), ()),
}

#: subject -> (drawer, parts, main part)
FIGURES = {
    "knight": (knight, KNIGHT, "armor"),
    "wizard": (wizard, WIZARD, "robe"),
    "goblin": (goblin, GOBLIN, "skin"),
    "skeleton": (skeleton, SKELETON, "bone"),
    "villager": (villager, VILLAGER, "tunic"),
    "slime": (slime, SLIME, "slime"),
    "portrait": (portrait, PORTRAIT, "tunic"),
}
