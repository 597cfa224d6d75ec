"""``sprite_candidates`` and ``pick_candidate``: a sprite's candidates as images, and the pick, over MCP.

Thin over ``pipeline.state.candidates``: the listing reads the renders from the cache; the pick writes
``candidates.picked`` into the spec file (one line), then materializes the sprite like any other tool
(a cache hit: picking never re-renders).
"""

from __future__ import annotations

import io
import time
from typing import Annotated, Any

from fastmcp import Context, FastMCP
from fastmcp.tools import ToolResult
from fastmcp.utilities.types import Image
from mcp_types import TextContent
from PIL import Image as PILImage
from pydantic import BaseModel, Field

from pipeline.faces.mcp import arguments as a
from pipeline.faces.mcp.calls import follow, in_thread, result_with_images
from pipeline.faces.mcp.images import scaled_png
from pipeline.faces.mcp.models import SpriteResult
from pipeline.faces.mcp.operations import SpriteOperations
from pipeline.state.candidates import CandidateSet, candidate_set, pick, write_previews

__all__ = ["CandidateInfo", "CandidateList", "register"]

#: renders larger than this (ComfyUI's 1024 px) are sent as thumbnails: four of them fit in a chat
_MAX_SIDE = 384


class CandidateInfo(BaseModel):
    index: int
    seed: int
    rendered: bool = Field(description="Its render is in the cache (its pixel art follows this entry's text)")
    picked: bool
    published: bool = Field(description="What the Bevy folder gets now (the pick, or candidate 0 until one)")
    generation_key: str
    render_path: str | None = Field(default=None, description="The render as a PNG file on the server's machine")
    pixel_path: str | None = Field(default=None, description="The pixel art it becomes (what would ship), as a PNG")
    pixel_error: str | None = Field(default=None, description="Why the pixel stage refused its render")


class CandidateList(BaseModel):
    name: str
    spec_file: str = Field(description="The spec, relative to the project folder; a pick edits candidates.picked")
    count: int
    publish: str = Field(description="Until a pick: first (candidate 0 is published) or none")
    picked_index: int | None
    candidates: list[CandidateInfo]
    message: str


def _thumbnail(png: bytes, upscale: int | None) -> bytes:
    with PILImage.open(io.BytesIO(png)) as image:
        if max(image.size) <= _MAX_SIDE:
            return scaled_png(png, upscale)[0]
        image.thumbnail((_MAX_SIDE, _MAX_SIDE), PILImage.Resampling.BOX)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()


def _listing(cands: CandidateSet, spec_file: str, previews: dict[int, list[Any]]) -> CandidateList:
    spec = cands.loaded.spec
    assert spec.candidates is not None
    chosen = cands.picked
    missing = len(cands.missing)
    message = (
        f"candidate {chosen.index} (seed {chosen.seed}) is picked"
        if chosen is not None
        else f"no pick yet; call pick_candidate(name='{cands.name}', index=N)"
    ) + (f"; {missing} not rendered yet: materialize(sprites=['{cands.name}'])" if missing else "")
    return CandidateList(
        name=cands.name,
        spec_file=spec_file,
        count=len(cands.candidates),
        publish=spec.candidates.publish,
        picked_index=chosen.index if chosen is not None else None,
        candidates=[
            CandidateInfo(
                index=c.index,
                seed=c.seed,
                rendered=c.png is not None,
                picked=c.picked,
                published=c.published,
                generation_key=c.request.key,
                render_path=str(previews[c.index][0]) if c.index in previews else None,
                pixel_path=str(previews[c.index][1]) if len(previews.get(c.index, [])) > 1 else None,
                pixel_error=c.pixel_error,
            )
            for c in cands.candidates
        ],
        message=message,
    )


def register(mcp: FastMCP, svc: SpriteOperations) -> None:
    """Add ``sprite_candidates`` and ``pick_candidate`` over ``svc`` to ``mcp``."""
    from pipeline.faces.mcp.server import _READS, WRITES, _pngs, _summary

    @mcp.tool(annotations=_READS, output_schema=CandidateList.model_json_schema())
    async def sprite_candidates(name: a.Name, upscale: a.Upscale = None) -> ToolResult:
        """Show a sprite's candidates (its spec's `candidates`: several seeds, each rendered and cached) as images,
        each after a line naming its index and seed, and which one is picked. Pick one with pick_candidate."""
        spec_set = await in_thread(svc.load)
        cands = await in_thread(candidate_set, svc.settings, spec_set, name)
        previews = await in_thread(write_previews, svc.settings, cands)
        result = _listing(cands, svc.spec_file(cands.loaded), previews)
        content: list[Any] = [TextContent(type="text", text=f"{name}: {result.count} candidates; {result.message}")]
        for c in cands.candidates:  # each candidate's pixel art (what would ship), else its render
            shown = c.pixel_png or c.png
            refused = f": the pixel stage refused it ({c.pixel_error})" if c.png else ": not rendered"
            note = "" if c.pixel_png else refused
            content.append(TextContent(type="text", text=c.label + note))
            if shown is not None:
                content.append(Image(data=_thumbnail(shown, upscale), format="png").to_image_content())
        return ToolResult(content=content, structured_content=result.model_dump(mode="json"))

    @mcp.tool(annotations=WRITES, output_schema=SpriteResult.model_json_schema())
    async def pick_candidate(
        ctx: Context,
        name: a.Name,
        index: Annotated[int, Field(ge=0, le=15, description="The candidate to publish (see sprite_candidates)")],
        wait_seconds: a.WaitSeconds = 60,
        upscale: a.Upscale = None,
    ) -> ToolResult:
        """Pick candidate `index` of a sprite: its seed is written into the spec file as candidates.picked (one
        line, reviewed in git like any spec change), then the sprite is materialized with it (its render is
        already cached) and returned as an image."""
        started = time.perf_counter()
        spec_set = await in_thread(svc.load)
        picked = await in_thread(pick, svc.settings, spec_set, name, index)
        spec_s = time.perf_counter() - started
        spec_set = picked.spec_set
        if picked.changed:
            await in_thread(svc.build.reload_location)  # a running `dagster dev` must build the edited spec
        _plan, job = await in_thread(svc.ensure, spec_set, [name])
        if job is not None:
            await follow(ctx, job, wait_seconds, done_before=1, total=3)
        result = svc.sprite_result(spec_set, name, job=job, written=picked.changed, started=started, spec_s=spec_s)
        summary = f"picked candidate {index} (seed {picked.seed}); " + _summary(result)
        failed = result.status in ("failed", "canceled")
        return result_with_images(result, summary, _pngs(svc, [result]), upscale, is_error=failed)
