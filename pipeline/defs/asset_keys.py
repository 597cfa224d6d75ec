"""The asset keys and op names of the code location: the one place that spells them.

A sprite's three assets are ``<sprite>/<sprite>_render`` (generate), ``<sprite>/<sprite>_pixel_art``
(pixelate) and ``<sprite>/<sprite>_bevy`` (export); the manifest is ``bevy/manifest``; an invalid spec
file is ``spec/<file slug>`` (``spec/enemies__goblin_yaml``: it ends in ``_yaml``, so it is never a
stage of a sprite named ``spec``); invalid settings are ``settings/invalid``. Why this shape,
from what Dagster 1.13's UI renders (``js_modules/dagster-ui/packages/ui-core``):

- the asset graph labels a node with the LAST part of its key only (``AssetNode.tsx``, middle-truncated
  past 31 characters, the full name in its tooltip), so that part names the sprite and the stage:
  ``goblin_render -> goblin_pixel_art -> goblin_bevy`` instead of ``goblin, goblin, goblin``. The stage
  word is the stage's kind, the tag shown under each node;
- the catalog, the lineage lists of an asset page and its breadcrumbs show the whole key
  (``goblin / goblin_render``), and the catalog's folder view has one folder per sprite, holding its stages;
- selections stay by sprite name: ``key:"goblin/*"`` is one sprite's assets (where flat keys'
  ``key:"goblin_*"`` would take ``goblin_king``'s too), ``key:"goblin/*"+`` adds the manifest,
  ``key:"*_render"`` is every render, and ``dagster asset materialize --select goblin/goblin_render*``
  (the classic syntax) builds the chain.

Keys before this naming were ``raw/<sprite>``, ``pixel/<sprite>``, ``bevy/<sprite>``: ``legacy_sprite_paths``
names them so that their orphaned entries can be wiped from an existing instance.

Paths (tuples of str) need no dagster import, for the MCP server's GraphQL client; the ``AssetKey``
builders and ``MANIFEST_KEY`` import it on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import AssetKey

__all__ = [
    "LEGACY_PREFIXES",
    "MANIFEST_KEY",  # noqa: F822 (the module's __getattr__ builds it)
    "MANIFEST_KEY_PATH",
    "SETTINGS_PROBLEM_KEY_PATH",
    "STAGES",
    "STAGE_LABELS",
    "legacy_sprite_keys",
    "legacy_sprite_paths",
    "op_name",
    "spec_problem_key",
    "sprite_key",
    "sprite_keys",
    "sprite_of_key",
    "sprite_path",
    "sprite_paths",
    "sprite_selection",
    "stage_of_key",
    "stage_of_path",
]

KeyPath = tuple[str, ...]

MANIFEST_KEY_PATH: KeyPath = ("bevy", "manifest")
SETTINGS_PROBLEM_KEY_PATH: KeyPath = ("settings", "invalid")
#: the pipeline's stages, upstream first (the words of ``sprites build``'s table and of ``cache`` dicts)
STAGES = ("raw", "pixel", "bevy")
#: what each stage's asset is, as the last part of its key says it (and as its first kind)
STAGE_LABELS = {"raw": "render", "pixel": "pixel_art", "bevy": "bevy"}
_STAGE_OF_LABEL = {label: stage for stage, label in STAGE_LABELS.items()}
#: the first part of a sprite's keys before this naming, per stage
LEGACY_PREFIXES = STAGES


def op_name(sprite: str) -> str:
    """Dagster op names allow no '-': ``knight-walk`` -> ``sprite__knight_walk``."""
    return "sprite__" + sprite.replace("-", "_")


def sprite_path(name: str, stage: str) -> KeyPath:
    """``sprite_path("goblin", "pixel")`` -> ``("goblin", "goblin_pixel_art")``."""
    return (name, f"{name}_{STAGE_LABELS[stage]}")


def sprite_paths(name: str) -> tuple[KeyPath, KeyPath, KeyPath]:
    """A sprite's key paths, upstream first."""
    return sprite_path(name, "raw"), sprite_path(name, "pixel"), sprite_path(name, "bevy")


def stage_of_path(path: Sequence[str]) -> tuple[str, str] | None:
    """``goblin/goblin_pixel_art`` -> ``("goblin", "pixel")``; None for any other key (manifest, ``spec/``)."""
    if len(path) != 2:
        return None
    name, last = path
    if not last.startswith(name + "_"):
        return None
    stage = _STAGE_OF_LABEL.get(last[len(name) + 1 :])
    return (name, stage) if stage else None


def sprite_selection(name: str) -> str:
    """A Dagster selection string for one sprite's three assets."""
    return f'key:"{name}/*"'


def legacy_sprite_paths(name: str) -> tuple[KeyPath, KeyPath, KeyPath]:
    """The keys a sprite had before this naming: ``raw/<name>``, ``pixel/<name>``, ``bevy/<name>``."""
    raw, pixel, bevy = ((prefix, name) for prefix in LEGACY_PREFIXES)
    return raw, pixel, bevy


# -- the same as dagster AssetKeys ------------------------------------------------------------------------


def sprite_key(name: str, stage: str) -> AssetKey:
    from dagster import AssetKey

    return AssetKey(list(sprite_path(name, stage)))


def sprite_keys(name: str) -> tuple[AssetKey, AssetKey, AssetKey]:
    """``<name>/<name>_render``, ``<name>/<name>_pixel_art``, ``<name>/<name>_bevy``."""
    return sprite_key(name, "raw"), sprite_key(name, "pixel"), sprite_key(name, "bevy")


def stage_of_key(key: AssetKey) -> tuple[str, str] | None:
    """(sprite, stage) of one of a sprite's keys, else None."""
    return stage_of_path(key.path)


def sprite_of_key(key: AssetKey) -> str | None:
    """The sprite a key belongs to (any of its three stages), or None."""
    found = stage_of_path(key.path)
    return found[0] if found else None


def spec_problem_key(file: str) -> AssetKey:
    """The failing item standing for an invalid spec file: ``enemies/goblin.yaml`` -> ``spec/enemies__goblin_yaml``."""
    from dagster import AssetKey

    from pipeline.core.specs.problems import file_slug

    return AssetKey(["spec", file_slug(file)])


def legacy_sprite_keys(name: str) -> tuple[AssetKey, AssetKey, AssetKey]:
    from dagster import AssetKey

    raw, pixel, bevy = (AssetKey(list(p)) for p in legacy_sprite_paths(name))
    return raw, pixel, bevy


def __getattr__(name: str) -> AssetKey:  # MANIFEST_KEY, built on first use
    if name == "MANIFEST_KEY":
        from dagster import AssetKey

        return AssetKey(list(MANIFEST_KEY_PATH))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
