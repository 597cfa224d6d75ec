"""Procedural pixel art: a recognisable sprite for what a prompt names, deterministic from prompt and seed.

It does not understand prompts: it looks for a subject word (``sword``, ``potion``, ``slime``,
``knight``...; see :data:`SUBJECTS`), falls back on the category when there is none, reads colour words
for the parts they qualify, and lets the seed vary details (a shield or a sword, the tilt of a hat).
Every sprite is outlined and shaded, and none has an opaque speck of fewer than 3 pixels.
"""

from __future__ import annotations

import re

import numpy as np

from pipeline.core.generate.art.figures import FIGURES
from pipeline.core.generate.art.look import Pose, make_look
from pipeline.core.generate.art.things import THINGS
from pipeline.core.generate.art.tiles import TILES, tile_kind

__all__ = ["SUBJECTS", "draw", "subject_for"]

#: (subject, words naming it), in priority order: a figure holding a dagger is a figure, not a dagger
SUBJECTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("slime", ("slime", "blob", "ooze", "jelly")),
    ("skeleton", ("skeleton", "skull", "undead", "lich")),
    ("goblin", ("goblin", "orc", "imp", "troll", "kobold")),
    ("wizard", ("wizard", "mage", "witch", "sorcerer", "warlock", "necromancer", "druid")),
    ("knight", ("knight", "warrior", "soldier", "paladin", "guard", "hero", "armor", "armour")),
    ("villager", ("villager", "merchant", "farmer", "npc", "peasant", "person", "man", "woman", "child")),
    ("portrait", ("portrait", "face", "avatar", "bust", "headshot")),
    ("fire", ("fireball", "fire", "flame", "explosion", "blast", "inferno")),
    ("sparkle", ("spark", "sparkle", "magic", "star", "glow", "twinkle", "heal", "buff")),
    ("potion", ("potion", "flask", "bottle", "elixir", "vial")),
    ("coin", ("coin", "money", "gold", "token")),
    ("chest", ("chest", "treasure", "loot")),
    ("tree", ("tree", "oak", "pine", "bush", "shrub")),
    ("sword", ("sword", "blade", "dagger", "katana", "saber", "sabre", "weapon")),
    ("heart", ("heart", "life", "hp")),
    ("button", ("button", "btn")),
    ("panel", ("panel", "window", "frame", "dialog", "menu")),
    ("gem", ("gem", "crystal", "jewel", "diamond", "ruby", "emerald", "orb")),
    ("crate", ("crate", "box", "barrel", "prop")),
)

#: category -> subject when the prompt names none (any other category: a gem)
_BY_CATEGORY = {
    "character": "villager",
    "npc": "villager",
    "hero": "knight",
    "player": "knight",
    "enemy": "slime",
    "monster": "slime",
    "item": "gem",
    "weapon": "sword",
    "prop": "crate",
    "ui": "panel",
    "effect": "sparkle",
    "vfx": "sparkle",
    "portrait": "portrait",
}

_DRAWINGS = {**FIGURES, **THINGS}
#: subjects that fill their box: drawn 2 px in, so the outline never lines the border (the pixel stage
#: takes the commonest border colour for the background)
_BOXED = frozenset({"button", "panel", "crate", "chest"})


def _words(prompt: str) -> frozenset[str]:
    words = re.findall(r"[a-z]+", prompt.lower())
    return frozenset(words) | frozenset(w[:-1] for w in words if w.endswith("s") and len(w) > 3)


def subject_for(category: str, prompt: str) -> str:
    """What the procedural backend draws for a prompt: ``tile:<kind>`` or a subject of :data:`SUBJECTS`."""
    words = _words(prompt)
    if category == "tile" or "tile" in words:
        return f"tile:{tile_kind(words)}"
    found = next((subject for subject, names in SUBJECTS if words & set(names)), None)
    return found or _BY_CATEGORY.get(category, "gem")


def draw(category: str, prompt: str, width: int, height: int, seed: int, frame: int, frames: int) -> np.ndarray:
    """The sprite (height, width, 4) uint8 RGBA for one animation frame. Same arguments, same pixels."""
    subject = subject_for(category, prompt)
    pose = Pose(frame, max(frames, 1))
    rng = np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32, width, height])
    if subject.startswith("tile:"):
        drawer, parts, main = TILES[subject.removeprefix("tile:")]
        look = make_look(width, height, prompt, parts, main, rng, pose, margin=0)
        drawer(look)
        return look.canvas.finish(outline=False)
    drawer, parts, main = _DRAWINGS[subject]
    look = make_look(width, height, prompt, parts, main, rng, pose, margin=2 if subject in _BOXED else 1)
    drawer(look)
    return look.canvas.finish()
