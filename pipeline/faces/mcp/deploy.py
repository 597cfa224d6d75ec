"""``deploy_to_bevy``: an existing picture -> pixel stage -> the Bevy folder and manifest, declaratively.

The picture is copied (as PNG) to ``sprite_specs/mcp/images/<name>.png`` and a spec with
``generation: {backend: image, init_image: ...}`` is written beside the others, so the sprite is
materialized by Dagster like any other and rebuilt when the picture changes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import os
import typing
from pathlib import Path
from typing import Annotated

from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from PIL import Image, UnidentifiedImageError
from pydantic import Field

from pipeline.core.specs.model import Generation
from pipeline.faces.mcp import arguments as a
from pipeline.faces.mcp.models import SpriteResult
from pipeline.faces.mcp.operations import SpriteOperations
from pipeline.faces.mcp.requests import SpriteRequest
from pipeline.faces.mcp.specfiles import MCP_FOLDER
from pipeline.settings import Settings

__all__ = ["IMAGES_FOLDER", "import_backend_available", "read_picture", "register"]

IMAGES_FOLDER = f"{MCP_FOLDER}/images"
MAX_BYTES = 16 * 1024 * 1024
MAX_SIDE = 4096
_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "BMP"}


def import_backend_available() -> bool:
    """Whether this pipeline's spec model accepts ``generation.backend: image``."""
    return "image" in typing.get_args(Generation.model_fields["backend"].annotation)


def _inside(root: Path, candidate: Path) -> bool:
    return os.path.commonpath([root, candidate]) == str(root)


def read_picture(settings: Settings, image_path: str | None, image_base64: str | None) -> bytes:
    """The picture as PNG bytes: from a file inside the project folder, or from base64 data."""
    if (image_path is None) == (image_base64 is None):
        raise ToolError("image_path or image_base64: give exactly one of them")
    if image_path is not None:
        root = settings.project_dir.resolve()
        path = Path(image_path)
        resolved = (path if path.is_absolute() else root / path).resolve()
        if not _inside(root, resolved):
            raise ToolError(f"image_path: '{image_path}' is outside the project folder; only files inside it")
        try:
            if resolved.stat().st_size > MAX_BYTES:
                raise ToolError(f"image_path: larger than {MAX_BYTES // 2**20} MiB")
            data = resolved.read_bytes()
        except OSError as exc:
            raise ToolError(f"image_path: cannot read '{image_path}': {exc.strerror}") from None
    else:
        try:
            data = base64.b64decode(image_base64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise ToolError("image_base64: not valid base64") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in _FORMATS:
                raise ToolError(f"image: {image.format} is not accepted; use {', '.join(sorted(_FORMATS))}")
            if max(image.size) > MAX_SIDE:
                raise ToolError(f"image: {image.size[0]}x{image.size[1]} is larger than {MAX_SIDE} px on a side")
            image.load()
            out = io.BytesIO()
            image.convert("RGBA").save(out, format="PNG")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ToolError(f"image: not a readable picture ({exc})") from None
    return out.getvalue()


def _store_picture(settings: Settings, name: str, png: bytes, overwrite: bool) -> tuple[str, bytes | None, bool]:
    """Write ``sprite_specs/mcp/images/<name>.png``; returns (path relative to the project, previous bytes, written)."""
    target = settings.specs_dir / IMAGES_FOLDER / f"{name}.png"
    relative = Path(os.path.relpath(target, settings.project_dir)).as_posix()
    previous = target.read_bytes() if target.exists() else None
    if previous == png:
        return relative, None, False
    if previous is not None and not overwrite:
        raise ToolError(
            f"name: sprite_specs/{IMAGES_FOLDER}/{name}.png already exists; pass overwrite=true to replace it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{name}.png.tmp")
    tmp.write_bytes(png)
    os.replace(tmp, target)
    return relative, previous, True


def register(mcp: FastMCP, svc: SpriteOperations) -> None:
    """Add ``deploy_to_bevy`` over ``svc`` to ``mcp``."""
    from pipeline.faces.mcp.server import WRITES, make_sprite

    @mcp.tool(annotations=WRITES, output_schema=SpriteResult.model_json_schema())
    async def deploy_to_bevy(
        ctx: Context,
        name: a.Name,
        category: a.Category = None,
        image_path: Annotated[
            str | None, Field(max_length=1000, description="A picture inside the project folder (relative or absolute)")
        ] = None,
        image_base64: Annotated[str | None, Field(max_length=23_000_000, description="The picture as base64")] = None,
        prompt: Annotated[str, Field(min_length=1, max_length=4000, description="What it shows (for the manifest)")] = (
            "imported image"
        ),
        size: a.Size = None,
        palette: a.Palette = None,
        overwrite: Annotated[bool, Field(description="Replace an MCP-written sprite of the same name")] = False,
        wait_seconds: a.WaitSeconds = 60,
        upscale: a.Upscale = None,
    ) -> ToolResult:
        """Turn an existing picture (e.g. a render from elsewhere) into a sprite: pixel stage (grid, palette,
        alpha), then the Bevy assets folder and the manifest. The picture is kept under sprite_specs/mcp/images/
        with a spec beside it, so the sprite rebuilds when the picture changes."""
        png = read_picture(svc.settings, image_path, image_base64)
        if not import_backend_available():
            raise ToolError(
                "deploy_to_bevy needs the 'image' generation backend (generation.backend: image), which this "
                "pipeline version does not register yet"
            )
        relative, previous, written = _store_picture(svc.settings, name, png, overwrite)
        request = SpriteRequest(
            prompt=prompt,
            category=category,
            name=name,
            size=size,
            palette=palette,
            backend="image",
            init_image=relative,
        )
        try:
            return await make_sprite(ctx, svc, request, overwrite=overwrite, wait_seconds=wait_seconds, upscale=upscale)
        except ToolError:
            if written:  # the spec was refused: put the picture folder back as it was
                target = svc.settings.project_dir / relative
                if previous is None:
                    with contextlib.suppress(FileNotFoundError):
                        target.unlink()
                else:
                    target.write_bytes(previous)
            raise
