"""Colours of the procedural sprites: material ramps, and colour words read from the prompt.

A *ramp* is five shades of one material, deep shadow to highlight, with the hue shifted toward blue in
the shadows and toward yellow in the lights (as pixel artists shade). A prompt's colour words recolour
the parts they qualify: in "a knight in silver armor with a blue cape", ``silver`` goes to the armour
and ``blue`` to the cape; a colour word next to no part name goes to the subject's main material.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass

__all__ = ["COLOUR_WORDS", "Ramp", "colour_words", "hsv_rgb", "ramp"]

RGB = tuple[int, int, int]

#: word -> (hue degrees, saturation, value) of the base shade
COLOUR_WORDS: dict[str, tuple[float, float, float]] = {
    "red": (354, 0.82, 0.88),
    "crimson": (350, 0.8, 0.7),
    "blood": (355, 0.85, 0.6),
    "orange": (28, 0.85, 0.92),
    "yellow": (52, 0.8, 0.95),
    "gold": (45, 0.8, 0.9),
    "golden": (45, 0.8, 0.9),
    "green": (115, 0.65, 0.7),
    "lime": (90, 0.75, 0.85),
    "emerald": (145, 0.7, 0.65),
    "teal": (175, 0.6, 0.65),
    "cyan": (185, 0.6, 0.85),
    "ice": (195, 0.35, 0.95),
    "blue": (218, 0.7, 0.8),
    "navy": (225, 0.7, 0.5),
    "purple": (275, 0.6, 0.65),
    "violet": (285, 0.55, 0.75),
    "magenta": (310, 0.7, 0.8),
    "pink": (330, 0.45, 0.95),
    "brown": (28, 0.55, 0.5),
    "wooden": (30, 0.55, 0.55),
    "wood": (30, 0.55, 0.55),
    "rusty": (20, 0.6, 0.55),
    "black": (240, 0.2, 0.25),
    "white": (45, 0.05, 0.95),
    "grey": (220, 0.08, 0.6),
    "gray": (220, 0.08, 0.6),
    "stone": (30, 0.08, 0.6),
    "silver": (215, 0.1, 0.82),
    "iron": (210, 0.12, 0.62),
    "steel": (212, 0.12, 0.72),
    "bone": (45, 0.18, 0.9),
}


@dataclass(frozen=True)
class Ramp:
    """Five shades of one material: index 0 deep shadow, 1 shadow, 2 base, 3 light, 4 highlight."""

    shades: tuple[RGB, RGB, RGB, RGB, RGB]

    def __getitem__(self, tone: int) -> RGB:
        return self.shades[max(0, min(4, tone + 2))]


def hsv_rgb(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb((h % 360) / 360, max(0.0, min(1.0, s)), max(0.0, min(1.0, v)))
    return (round(r * 255), round(g * 255), round(b * 255))


def _toward(h: float, target: float, amount: float) -> float:
    d = ((target - h + 180) % 360) - 180
    return h + max(-abs(amount), min(abs(amount), d))


def ramp(hue: float, sat: float, val: float) -> Ramp:
    """The ramp of a material whose base shade is HSV (hue in degrees, sat and val 0..1)."""
    grey = sat < 0.2
    shift = 0 if grey else 14
    return Ramp(
        (
            hsv_rgb(_toward(hue, 245, shift * 2), sat * 1.05 + (0.08 if grey else 0.1), val * 0.42),
            hsv_rgb(_toward(hue, 245, shift), sat * 1.05 + 0.05, val * 0.68),
            hsv_rgb(hue, sat, val),
            hsv_rgb(_toward(hue, 55, shift), sat * 0.85, min(1.0, val * 1.18 + 0.04)),
            hsv_rgb(_toward(hue, 55, shift * 2), sat * 0.45, min(1.0, val * 1.3 + 0.12)),
        )
    )


def colour_words(prompt: str, parts: dict[str, tuple[str, ...]], main: str) -> dict[str, tuple[float, float, float]]:
    """Which part each colour word of the prompt qualifies: {part: hsv}.

    ``parts`` maps a part to the nouns that name it (``{"cape": ("cape", "cloak")}``); a colour word is
    given to the first part named within the next three words, else to ``main`` (first such word wins).
    """
    words = re.findall(r"[a-z]+", prompt.lower())
    noun_part = {noun: part for part, nouns in parts.items() for noun in nouns}
    chosen: dict[str, tuple[float, float, float]] = {}
    for i, word in enumerate(words):
        if word not in COLOUR_WORDS:
            continue
        target = next((noun_part[w] for w in words[i + 1 : i + 4] if w in noun_part), main)
        chosen.setdefault(target, COLOUR_WORDS[word])
    return chosen
