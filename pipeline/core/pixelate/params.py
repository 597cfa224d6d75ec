"""What the pixel stage is asked for (:class:`PixelParams`) and what it returns (:class:`PixelResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from pipeline.core.pixelate.dither import DITHER_MODES
from pipeline.core.pixelate.palettes import NAMED_PALETTES, normalize_hex
from pipeline.core.pixelate.window import FIT_MODES
from pipeline.errors import PixelateError

__all__ = ["PixelParams", "PixelResult"]


@dataclass(frozen=True)
class PixelParams:
    """What the pixel stage is asked to produce.

    ``width`` x ``height``: the sprite's logical size (None for both: detect it from the render's grid).
    ``palette``: a name from NAMED_PALETTES, explicit '#rrggbb' colours, or N for an adaptive palette of
    at most N colours shared by all frames. ``background``: auto (flood fill from the border on its
    dominant colour), none, or a key colour '#rrggbb' removed everywhere. ``min_confidence``: below
    this grid confidence the stage refuses the render instead of guessing. ``correct_drift``: with a fixed
    palette, divide out a smooth brightness/colour drift fitted against the palette before mapping.
    ``fit``: when the sprite in the render does not fit the size (the model drew more or fewer cells than
    asked): ``exact`` refuses it naming both sizes, ``resample`` scales it to the size by nearest cell.
    """

    width: int | None
    height: int | None
    palette: str | tuple[str, ...] | int = "pico-8"
    background: str = "auto"
    alpha_threshold: int = 128
    outline: str | None = None
    dither: str = "none"
    cleanup: bool = True
    background_tolerance: float = 0.08
    min_confidence: float = 0.5
    correct_drift: bool = True
    fit: str = "exact"

    def cache_fields(self) -> dict[str, Any]:
        """Everything that determines the output, for the stage's cache key."""
        return {
            "width": self.width,
            "height": self.height,
            "palette": list(self.palette) if isinstance(self.palette, tuple) else self.palette,
            "background": self.background,
            "alpha_threshold": self.alpha_threshold,
            "outline": self.outline,
            "dither": self.dither,
            "cleanup": self.cleanup,
            "background_tolerance": self.background_tolerance,
            "min_confidence": self.min_confidence,
            "correct_drift": self.correct_drift,
            "fit": self.fit,
        }

    def check(self) -> None:
        """Raise PixelateError naming the first setting that cannot work."""
        if (self.width is None) != (self.height is None):
            raise PixelateError("give both width and height of the sprite, or neither to detect them")
        if self.width is not None and (self.width < 1 or self.height is None or self.height < 1):
            raise PixelateError(f"sprite size {self.width}x{self.height} must be at least 1x1")
        if isinstance(self.palette, int):
            if not 1 <= self.palette <= 256:
                raise PixelateError(f"adaptive palette of {self.palette} colours: use 1 to 256")
        elif isinstance(self.palette, str):
            if self.palette not in NAMED_PALETTES:
                names = ", ".join(sorted(NAMED_PALETTES))
                raise PixelateError(f"unknown palette '{self.palette}': use one of {names}, hex colours or N")
        elif len(self.palette) == 0:
            raise PixelateError("an explicit palette needs at least one colour")
        for what, value in (("palette colour", c) for c in self._explicit()):
            _hex(what, value)
        if self.background not in ("auto", "none"):
            _hex("background key colour", self.background)
        if self.outline is not None:
            _hex("outline colour", self.outline)
        if self.dither not in DITHER_MODES:
            raise PixelateError(f"dither '{self.dither}': use one of {', '.join(DITHER_MODES)}")
        if not 0 <= self.alpha_threshold <= 255:
            raise PixelateError(f"alpha threshold {self.alpha_threshold}: use 0 to 255")
        if self.fit not in FIT_MODES:
            raise PixelateError(f"fit '{self.fit}': use one of {', '.join(FIT_MODES)}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise PixelateError(f"minimum grid confidence {self.min_confidence}: use 0 to 1")

    def _explicit(self) -> tuple[str, ...]:
        return self.palette if isinstance(self.palette, tuple) else ()


def _hex(what: str, value: str) -> str:
    try:
        return normalize_hex(value)
    except ValueError as exc:
        raise PixelateError(f"{what}: {exc}") from exc


@dataclass
class PixelResult:
    """Sprites at logical size (RGBA, binary alpha), the palette they share, and every decision made."""

    frames: list[Image.Image]
    palette: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
