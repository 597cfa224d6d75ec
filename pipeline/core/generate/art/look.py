"""What a drawer gets: the canvas, its materials (recoloured by the prompt), the seed's variation, the pose."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.core.generate.art.canvas import Canvas
from pipeline.core.generate.art.colours import colour_words, hsv_rgb, ramp

__all__ = ["Look", "Part", "Pose", "make_look"]

HSV = tuple[float, float, float]


@dataclass(frozen=True)
class Part:
    """A material of a subject: its default colour and the prompt nouns that recolour it."""

    hsv: HSV
    nouns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pose:
    """Animation frame ``frame`` of ``frames``: a phase in [0, 1) and the usual 4-beat cycle."""

    frame: int
    frames: int

    @property
    def animated(self) -> bool:
        return self.frames > 1

    @property
    def phase(self) -> float:
        return self.frame / self.frames if self.frames > 1 else 0.0

    @property
    def beat(self) -> int:
        """0..3 over the cycle (quarters of the phase); 0 when not animated."""
        return int(self.phase * 4) % 4 if self.animated else 0

    @property
    def bob(self) -> int:
        """Pixels the body sinks: 1 on the off beats of a walk or a hop, else 0."""
        return self.beat % 2

    @property
    def wave(self) -> float:
        """sin of the phase: -1..1 over the cycle."""
        return float(np.sin(2 * np.pi * self.phase))


@dataclass
class Look:
    canvas: Canvas
    m: dict[str, int]  # part -> material index on the canvas
    hsv: dict[str, HSV]  # part -> the colour it got
    rng: np.random.Generator
    pose: Pose
    prompt_words: frozenset[str]

    def has(self, *words: str) -> bool:
        return any(w in self.prompt_words or w + "s" in self.prompt_words for w in words)


def make_look(
    width: int,
    height: int,
    prompt: str,
    parts: dict[str, Part],
    main: str,
    rng: np.random.Generator,
    pose: Pose,
    margin: int = 1,
) -> Look:
    """Materials for ``parts`` (recoloured by the prompt's colour words) on a fresh canvas."""
    import re

    chosen = colour_words(prompt, {name: p.nouns for name, p in parts.items()}, main)
    hsv = {name: chosen.get(name, p.hsv) for name, p in parts.items()}
    h, s, _ = hsv[main]
    ink = hsv_rgb(h, 0.45 if s > 0.2 else 0.2, 0.11)  # near black, tinted by the main material
    canvas = Canvas(width, height, ink=ink, margin=margin)
    m = {name: canvas.material(ramp(*colour)) for name, colour in hsv.items()}
    words = frozenset(re.findall(r"[a-z]+", prompt.lower()))
    return Look(canvas=canvas, m=m, hsv=hsv, rng=rng, pose=pose, prompt_words=words)
