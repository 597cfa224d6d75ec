"""Sprite specs: the pydantic model, YAML loading with file/line errors, categories, and the JSON Schema."""

from pipeline.core.specs.categories import DEFAULT_CATEGORIES, Categories, read_categories
from pipeline.core.specs.loader import DEFAULTS_FILE, LoadedSpec, SpecSet, iter_spec_files, load_spec_set, load_specs
from pipeline.core.specs.model import CATEGORIES, SpriteSpec

__all__ = [
    "CATEGORIES",
    "DEFAULTS_FILE",
    "DEFAULT_CATEGORIES",
    "Categories",
    "LoadedSpec",
    "SpecSet",
    "SpriteSpec",
    "iter_spec_files",
    "load_spec_set",
    "load_specs",
    "read_categories",
]
