"""Sprite pipeline: YAML sprite specs -> generation -> pixel art -> Bevy assets, as Dagster assets."""

__version__ = "0.1.0"
