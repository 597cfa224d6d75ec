"""Which sprites a request means: names or globs, optionally of one category (no Dagster import)."""

from __future__ import annotations

import difflib
import fnmatch

from pipeline.core.specs import SpecSet
from pipeline.core.specs.categories import unknown_category
from pipeline.errors import SpriteError

__all__ = ["NoSuchSprite", "UnknownCategory", "select"]


class NoSuchSprite(SpriteError):
    """A name or glob that matches no sprite; ``near`` holds close names (for the face's hint)."""

    def __init__(self, pattern: str, near: list[str]):
        self.pattern = pattern
        self.near = near
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        super().__init__(f"no sprite matches '{pattern}'{hint}")


class UnknownCategory(SpriteError):
    """A category the project does not have; the message lists the allowed ones."""


def select(spec_set: SpecSet, patterns: list[str] | tuple[str, ...], category: str | None = None) -> list[str]:
    """Sprite names matching ``patterns`` (names or globs; every sprite when empty), in order, without
    duplicates; with ``category``, only that category's (which must be one of the project's)."""
    if category and category not in spec_set.categories:
        raise UnknownCategory(unknown_category(category, spec_set.categories))
    names = list(spec_set.specs)
    chosen: list[str] = [] if patterns else list(names)
    for pattern in patterns:
        matches = fnmatch.filter(names, pattern)
        if not matches:
            raise NoSuchSprite(pattern, difflib.get_close_matches(pattern, names, n=3))
        chosen += [m for m in matches if m not in chosen]
    if category:
        chosen = [n for n in chosen if spec_set.specs[n].spec.category == category]
    return chosen
