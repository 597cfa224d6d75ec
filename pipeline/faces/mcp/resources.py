"""MCP resources: each sprite's PNG, the Bevy manifest, and the spec JSON Schema (for editors)."""

from __future__ import annotations

import json
import re

from fastmcp import FastMCP
from fastmcp.exceptions import ResourceError

from pipeline.core.export.manifest import MANIFEST_PATH
from pipeline.core.specs import SpriteSpec, read_categories
from pipeline.core.specs.model import SLUG
from pipeline.errors import SpriteError
from pipeline.faces.mcp.images import read_png
from pipeline.faces.mcp.operations import SpriteOperations

__all__ = ["register"]


def register(mcp: FastMCP, svc: SpriteOperations) -> None:
    """Add the resources over ``svc`` to ``mcp``."""

    @mcp.resource("sprite://{name}", mime_type="image/png", description="A sprite's PNG as exported to the Bevy folder")
    def sprite_png(name: str) -> bytes:
        if not re.fullmatch(SLUG, name):
            raise ResourceError(f"'{name}' is not a sprite name (lowercase letters, digits, '-' and '_')")
        try:
            spec_set = svc.load()
            loaded = svc.require(spec_set, name)
            return read_png(svc.settings, loaded.spec.output_path)
        except SpriteError as exc:
            raise ResourceError(str(exc)) from exc

    @mcp.resource(
        "sprites://manifest.json",
        mime_type="application/json",
        description="The Bevy sprite manifest (sprites/manifest.json in the assets folder)",
    )
    def manifest_json() -> str:
        path = svc.settings.assets_dir / MANIFEST_PATH
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ResourceError("no manifest yet: generate or materialize a sprite first") from None

    @mcp.resource(
        "sprites://sprite-spec.schema.json",
        mime_type="application/schema+json",
        description="JSON Schema of a sprite spec (what sprite_specs/*.yaml may contain)",
    )
    def spec_schema() -> str:
        schema = SpriteSpec.model_json_schema()
        try:  # the project's own category list, as `sprites schema` writes it
            schema["properties"]["category"]["enum"] = list(read_categories(svc.settings.specs_dir).names)
        except SpriteError as exc:
            raise ResourceError(str(exc)) from exc
        return json.dumps(schema, indent=2)
