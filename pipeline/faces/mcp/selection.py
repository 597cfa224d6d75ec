"""Dagster asset selection strings (``group:enemy``, ``key:"goblin/*"``) -> the sprites they touch."""

from __future__ import annotations

from pipeline.defs.asset_keys import sprite_of_key
from pipeline.faces.mcp.requests import InvalidArgument
from pipeline.settings import Settings

__all__ = ["sprites_in_selection"]


def sprites_in_selection(settings: Settings, selection: str) -> list[str]:
    """Sprites with any selected asset (each sprite's step builds its three assets together).

    A selection of only ``bevy/manifest`` gives no sprites: the run then publishes the manifest alone.
    """
    from dagster import AssetSelection, DagsterError

    from pipeline.defs.location import build_definitions

    graph = build_definitions(settings).resolve_asset_graph()
    try:
        keys = AssetSelection.from_string(selection).resolve(graph)
    except (DagsterError, ValueError) as exc:
        raise InvalidArgument(
            f"selection: {exc} (use Dagster's selection syntax, e.g. 'group:enemy', 'key:\"goblin/*\"', "
            "'key:\"*_render\"', 'tag:sprite=goblin')"
        ) from None
    if not keys:
        raise InvalidArgument(
            f"selection: '{selection}' selects no asset; a sprite's asset keys are <name>/<name>_render, "
            "<name>/<name>_pixel_art and <name>/<name>_bevy (all three: 'key:\"<name>/*\"')"
        )
    return sorted({name for k in keys if (name := sprite_of_key(k))})
