"""Dagster asset selection strings (``group:enemy``, ``key:"raw/goblin"+``) -> the sprites they touch."""

from __future__ import annotations

from pipeline.mcp.requests import InvalidArgument
from pipeline.settings import Settings

__all__ = ["sprites_in_selection"]

_STAGES = ("raw", "pixel", "bevy")


def sprites_in_selection(settings: Settings, selection: str) -> list[str]:
    """Sprites with any selected asset (each sprite's step builds its three assets together).

    A selection of only ``bevy/manifest`` gives no sprites: the run then publishes the manifest alone.
    """
    from dagster import AssetSelection, DagsterError

    from pipeline.location import build_definitions

    graph = build_definitions(settings).resolve_asset_graph()
    try:
        keys = AssetSelection.from_string(selection).resolve(graph)
    except (DagsterError, ValueError) as exc:
        raise InvalidArgument(
            f"selection: {exc} (use Dagster's selection syntax, e.g. 'group:enemy', 'key:\"raw/goblin\"+', "
            "'tag:sprite=goblin')"
        ) from None
    if not keys:
        raise InvalidArgument(f"selection: '{selection}' selects no asset; asset keys are raw/, pixel/ and bevy/<name>")
    return sorted({k.path[1] for k in keys if len(k.path) == 2 and k.path[0] in _STAGES and k.path[1] != "manifest"})
