"""Sprite pipeline: YAML sprite specs -> generation -> pixel art -> Bevy assets, as Dagster assets.

The layout is the architecture, listed from the bottom up; each layer imports only those listed before it:

    errors.py      the one exception tree (every layer raises from it)
    settings/      every setting, once (pydantic-settings)
    core/          what a sprite is and how its bytes are made: specs, generation backends, pixelation,
                   the Bevy export (no Dagster import)
    state/         what was built from what: stage keys, sprites.lock, "is it current", the plan, the one
                   publish, the content-addressed cache and its remote tier, the three stages run against
                   that cache, candidates (no Dagster import)
    defs/          the Dagster wiring: assets, resource, executor, automation, the code location and the
                   in-process launch
    definitions.py the code location's root (what workspace.yaml loads)
    service/       the build service: select, plan, launch, follow, cancel, publish (no Dagster type in
                   its interface)
    faces/         the ways people reach the service: the `sprites` CLI and the MCP server

``tests/test_layers.py`` holds the layers to that order.
"""

__version__ = "0.1.0"
