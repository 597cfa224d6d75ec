"""The project's sprite categories: a top-level ``categories:`` list in ``sprite_specs/_defaults.yaml``.

A category is a Dagster asset group and a folder of the Bevy assets (``sprites/<category>/``), so it is
a lowercase name of letters, digits and ``_`` (Dagster group names allow no ``-``). A project that does
not list its own gets :data:`DEFAULT_CATEGORIES`. The *default* category (what an MCP request without a
category gets) is ``defaults.category`` when ``_defaults.yaml`` sets one, else the first listed.

Reading categories parses ``_defaults.yaml`` only, so the CLI and the MCP server can ask for them without
loading every spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.specs.yaml_lines import load_yaml_file
from pipeline.errors import SpecError, SpecProblem

__all__ = [
    "CATEGORY_PATTERN",
    "DEFAULTS_FILE",
    "DEFAULT_CATEGORIES",
    "Categories",
    "categories_from_defaults",
    "read_categories",
    "unknown_category",
]

DEFAULTS_FILE = "_defaults.yaml"
CATEGORY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
#: what a project that lists none gets: the seven the pipeline started with, plus three common ones.
#: ``prop`` comes first: the neutral default for a request that names no category.
DEFAULT_CATEGORIES = ("prop", "character", "npc", "enemy", "item", "weapon", "tile", "ui", "effect", "portrait")


@dataclass(frozen=True)
class Categories:
    """The categories a project allows, the one a request without a category gets, and where they came from."""

    names: tuple[str, ...] = DEFAULT_CATEGORIES
    default: str = DEFAULT_CATEGORIES[0]
    declared: bool = False  # listed in _defaults.yaml (else: DEFAULT_CATEGORIES)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    @property
    def source(self) -> str:
        if self.declared:
            return f"'categories' in {DEFAULTS_FILE}"
        return f"the default list: no 'categories' in {DEFAULTS_FILE}"


def unknown_category(value: object, categories: Categories) -> str:
    """The message for a category the project does not have: what is allowed and where to add one."""
    import difflib

    near = difflib.get_close_matches(str(value), categories.names, n=1)
    hint = f" (did you mean '{near[0]}'?)" if near else ""
    return (
        f"unknown category '{value}'{hint}; allowed: {', '.join(categories.names)} ({categories.source}); "
        f"add it to the 'categories' list in {DEFAULTS_FILE} to define it"
    )


def categories_from_defaults(data: Any) -> tuple[Categories, list[SpecProblem]]:
    """Categories from the parsed ``_defaults.yaml`` mapping (``None``: no file), with any problems."""
    if not isinstance(data, dict) or "categories" not in data:
        found = Categories()
    else:
        raw = data["categories"]
        line = getattr(data, "origins", {}).get("categories", (DEFAULTS_FILE, 1))[1]
        if not isinstance(raw, list) or not raw:
            message = "'categories' must be a non-empty list of names"
            return Categories(), [SpecProblem(DEFAULTS_FILE, message, line=line, field="categories")]
        problems: list[SpecProblem] = []
        names: list[str] = []
        origins = getattr(raw, "origins", None) or [(DEFAULTS_FILE, line)] * len(raw)
        for item, (_, item_line) in zip(raw, origins, strict=True):
            if not isinstance(item, str) or not re.fullmatch(CATEGORY_PATTERN, item):
                problems.append(
                    SpecProblem(
                        DEFAULTS_FILE,
                        f"category {item!r} must be a lowercase name of letters, digits and '_' (at most 32, starting "
                        "with a letter): it is a Dagster asset group and a Bevy folder",
                        line=item_line,
                        field="categories",
                    )
                )
            elif item in names:
                problems.append(
                    SpecProblem(DEFAULTS_FILE, f"category '{item}' is listed twice", line=item_line, field="categories")
                )
            else:
                names.append(item)
        if not names:
            return Categories(), problems
        found = Categories(names=tuple(names), default=names[0], declared=True)
        if problems:  # the good names still count, so sprites using them are not reported too
            return found, problems
    defaults = data.get("defaults") if isinstance(data, dict) else None
    chosen = defaults.get("category") if isinstance(defaults, dict) else None
    if chosen is None:
        return found, []
    if chosen not in found:
        line = getattr(defaults, "origins", {}).get("category", (DEFAULTS_FILE, 1))[1]
        message = unknown_category(chosen, found)
        return found, [SpecProblem(DEFAULTS_FILE, message, line=line, field="defaults.category")]
    return Categories(names=found.names, default=str(chosen), declared=found.declared), []


def read_categories(specs_dir: Path) -> Categories:
    """The categories of the project whose specs live in ``specs_dir`` (SpecError naming the line if bad)."""
    path = Path(specs_dir) / DEFAULTS_FILE
    if not path.is_file():
        return Categories()
    data, problems = load_yaml_file(path, DEFAULTS_FILE)
    categories, more = categories_from_defaults(data)
    if problems or more:
        raise SpecError(problems + more)
    return categories
