"""The asset keys and op names of the code location (one place, imported by the assets and their checks)."""

from dagster import AssetKey

__all__ = ["MANIFEST_KEY", "op_name", "sprite_keys"]

MANIFEST_KEY = AssetKey(["bevy", "manifest"])


def op_name(sprite: str) -> str:
    """Dagster op names allow no '-': ``knight-walk`` -> ``sprite__knight_walk``."""
    return "sprite__" + sprite.replace("-", "_")


def sprite_keys(name: str) -> tuple[AssetKey, AssetKey, AssetKey]:
    """``raw/<name>``, ``pixel/<name>``, ``bevy/<name>``."""
    return AssetKey(["raw", name]), AssetKey(["pixel", name]), AssetKey(["bevy", name])
