"""The sprites MCP server: agents and editors ask for sprites; the project's Dagster assets make them.

Every sprite made here is declarative: the tool writes a spec under ``sprite_specs/mcp/``, then the build
service (``pipeline.service``) materializes that sprite's assets (``<name>_render`` -> ``_pixel_art`` ->
``_bevy``, then ``bevy/manifest``) against the project's Dagster instance, through a running webserver when
there is one, so the run shows in ``dagster dev`` with its lineage. Results say which path they took (``launched_via``).

``create_server(service)`` builds one server over one build service; nothing is global and nothing is
registered at import: the tools here, ``deploy_to_bevy`` (deploy.py) and the resources (resources.py) are
added by the factory.
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from mcp_types import ToolAnnotations
from pydantic import Field

from pipeline.core.specs import Categories, read_categories
from pipeline.errors import SpriteError
from pipeline.faces.mcp import arguments as a
from pipeline.faces.mcp.auth import AuditMiddleware
from pipeline.faces.mcp.calls import ProjectPaths, follow, in_thread, result_with_images
from pipeline.faces.mcp.categories import CategorySchemas
from pipeline.faces.mcp.images import read_png, scaled_png
from pipeline.faces.mcp.models import (
    BatchItem,
    BatchResult,
    CancelResult,
    RunResult,
    SpriteList,
    SpriteOutcomeInfo,
    SpriteResult,
    SpriteStatus,
    Timings,
    ViewResult,
)
from pipeline.faces.mcp.operations import SpriteOperations
from pipeline.faces.mcp.requests import SpriteRequest
from pipeline.faces.mcp.specfiles import SpecWrite
from pipeline.faces.mcp.styles import apply_style
from pipeline.service import BuildService, Run, RunState

__all__ = ["INSTRUCTIONS", "WRITES", "create_server", "make_sprite"]

INSTRUCTIONS = (
    "Game sprites from YAML specs, built by Dagster into a Bevy game's assets folder. generate_sprite "
    "writes a spec and materializes it; list_sprites / sprite_status show what exists and why it is stale; "
    "view_sprite shows one. Long runs return a run id: follow it with sprite_status, stop it with cancel_run."
)


def create_server(service: BuildService, *, name: str = "sprites") -> FastMCP:
    """An MCP server over ``service``'s project: tools, resources, audit log and category schemas."""
    from pipeline.faces.mcp import deploy, picking, resources

    ops = SpriteOperations(service)

    def categories() -> Categories | None:
        try:
            return read_categories(service.settings.specs_dir)
        except SpriteError:  # a broken _defaults.yaml: the schemas stay open, the call reports the problem
            return None

    mcp = FastMCP(
        name=name,
        instructions=INSTRUCTIONS,
        mask_error_details=True,
        middleware=[
            AuditMiddleware(lambda: service.settings.state_dir / "mcp-audit.jsonl"),
            ProjectPaths(service.settings),
            CategorySchemas(categories),
        ],
    )
    _register_tools(mcp, ops)
    deploy.register(mcp, ops)
    picking.register(mcp, ops)
    resources.register(mcp, ops)
    return mcp


WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
_READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def _summary(r: SpriteResult) -> str:
    where = f" -> {r.asset_path}" if r.status in ("built", "up to date") else ""
    via = f" (run {r.run_id}, {r.launched_via})" if r.run_id else ""
    return f"{r.name}: {r.message}{where}{via}; spec {r.spec_file}"


def _pngs(svc: SpriteOperations, results: list[SpriteResult]) -> list[bytes]:
    return [read_png(svc.settings, r.asset_path) for r in results if r.png_path]


async def make_sprite(
    ctx: Context,
    svc: SpriteOperations,
    request: SpriteRequest,
    *,
    overwrite: bool,
    wait_seconds: float,
    upscale: int | None,
) -> ToolResult:
    """Write and validate one spec, materialize it unless it is up to date, return it with its image."""
    started = time.perf_counter()
    await ctx.report_progress(0, 3, "writing and validating the spec")
    spec_set, (written,) = await in_thread(svc.create_specs, [request], overwrite=overwrite)
    if isinstance(written, SpriteError):
        raise ToolError(str(written))
    spec_s = time.perf_counter() - started
    _plan, job = await in_thread(svc.ensure, spec_set, [written.name])
    if job is not None:
        await ctx.report_progress(1, 3, f"materializing {written.name} ({job.via})")
        await follow(ctx, job, wait_seconds, done_before=1, total=3)
    result = svc.sprite_result(spec_set, written.name, job=job, written=written.written, started=started, spec_s=spec_s)
    await ctx.report_progress(3, 3, result.message)
    # a sprite that failed (or was cancelled) is an error result: the text says why, the data stays structured
    failed = result.status in ("failed", "canceled")
    return result_with_images(result, _summary(result), _pngs(svc, [result]), upscale, is_error=failed)


def _register_tools(mcp: FastMCP, svc: SpriteOperations) -> None:
    """The sprite tools over ``svc`` (their docstrings are their descriptions)."""

    @mcp.tool(annotations=WRITES, output_schema=SpriteResult.model_json_schema())
    async def generate_sprite(
        ctx: Context,
        prompt: a.Prompt,
        category: a.Category = None,
        name: a.OptionalName = None,
        size: a.Size = None,
        palette: a.Palette = None,
        seed: a.Seed = None,
        negative_prompt: a.NegativePrompt = None,
        backend: a.Backend = None,
        workflow: a.Workflow = None,
        steps: a.Steps = None,
        cfg: a.Cfg = None,
        frames: a.Frames = None,
        outline: a.Outline = None,
        style: a.Style = None,
        lora: a.Lora = None,
        lora_strength: a.LoraStrength = None,
        overwrite: Annotated[bool, Field(description="Replace an MCP-written spec of the same name")] = False,
        wait_seconds: a.WaitSeconds = 60,
        upscale: a.Upscale = None,
    ) -> ToolResult:
        """Make a sprite: write its spec (sprite_specs/mcp/<name>.yaml), materialize its Dagster assets and return
        the image, its paths in the Bevy assets folder, hashes, run id, cache hits and timings.

        An identical request for an existing sprite returns at once without a run. An existing sprite of the same
        name is never replaced unless overwrite is true (and never one whose spec a person wrote)."""
        request = SpriteRequest(
            prompt=prompt, category=category, name=name, size=size, palette=palette, seed=seed,
            negative_prompt=negative_prompt, backend=backend, workflow=workflow, steps=steps, cfg=cfg,
            frames=frames, outline=outline, lora=lora, lora_strength=lora_strength,
        )  # fmt: skip
        request = apply_style(request, style)
        return await make_sprite(ctx, svc, request, overwrite=overwrite, wait_seconds=wait_seconds, upscale=upscale)

    @mcp.tool(annotations=WRITES, output_schema=BatchResult.model_json_schema())
    async def generate_batch(
        ctx: Context,
        sprites: Annotated[list[a.BatchSprite], Field(min_length=1, max_length=20, description="1 to 20 sprites")],
        category: a.Category = None,
        size: a.Size = None,
        palette: a.Palette = None,
        backend: a.Backend = None,
        style: a.Style = None,
        lora: a.Lora = None,
        lora_strength: a.LoraStrength = None,
        overwrite: Annotated[bool, Field(description="Replace MCP-written specs of the same names")] = False,
        wait_seconds: a.WaitSeconds = 120,
        include_images: Annotated[bool, Field(description="Return each built sprite as an image")] = True,
    ) -> ToolResult:
        """Make up to 20 sprites in one Dagster run. Each prompt succeeds or fails on its own: the result lists
        per prompt its sprite (paths, hashes, cache) or why it was rejected or failed."""
        started = time.perf_counter()
        requests = [
            apply_style(
                SpriteRequest(
                    prompt=s.prompt,
                    category=s.category or category,
                    name=s.name,
                    size=s.size or size,
                    palette=s.palette if s.palette is not None else palette,
                    seed=s.seed,
                    backend=backend,
                    frames=s.frames,
                    lora=lora,
                    lora_strength=lora_strength,
                ),
                style,
            )
            for s in sprites
        ]
        await ctx.report_progress(0, len(requests) + 2, "writing and validating specs")
        spec_set, writes = await in_thread(svc.create_specs, requests, overwrite=overwrite)
        spec_s = time.perf_counter() - started
        names = [w.name for w in writes if isinstance(w, SpecWrite)]
        job: Run | None = None
        if names:
            _plan, job = await in_thread(svc.ensure, spec_set, names)
        if job is not None:
            await follow(ctx, job, wait_seconds, done_before=1, total=len(names) + 2)
        items: list[BatchItem] = []
        done: list[SpriteResult] = []
        for i, (request, w) in enumerate(zip(requests, writes, strict=True)):
            if not isinstance(w, SpecWrite):
                items.append(
                    BatchItem(index=i, prompt=request.prompt, name=request.name, status="rejected", error=str(w))
                )
                continue
            sprite_job = job if job is not None and w.name in job.names else None
            r = svc.sprite_result(spec_set, w.name, job=sprite_job, written=w.written, started=started, spec_s=spec_s)
            items.append(
                BatchItem(index=i, prompt=request.prompt, name=w.name, status=r.status, error=r.error, sprite=r)
            )
            done.append(r)
        ok = sum(item.status in ("built", "up to date") for item in items)
        pending = sum(item.status in ("running", "queued") for item in items)
        result = BatchResult(
            succeeded=ok,
            failed=len(items) - ok - pending,
            pending=pending,
            items=items,
            run_id=job.handle if job else None,
            launched_via=job.via if job else "none",  # type: ignore[arg-type]
            timings=Timings(
                total_s=round(time.perf_counter() - started, 4),
                spec_s=round(spec_s, 4),
                run_s=job.seconds if job else None,
            ),
        )
        summary = f"{ok} of {len(items)} sprites ready" + "".join(
            f"\n- {it.name or it.prompt[:40]}: {it.status}" + (f" ({it.error})" if it.error else "") for it in items
        )
        return result_with_images(result, summary, _pngs(svc, done) if include_images else [], None)

    @mcp.tool(annotations=WRITES)
    async def materialize(
        ctx: Context,
        sprites: Annotated[list[a.SelectionPattern], Field(max_length=500, description="Sprite names or globs")] = [],  # noqa: B006
        selection: Annotated[
            str | None,
            Field(max_length=500, description="A Dagster asset selection, e.g. 'group:enemy' or 'key:\"goblin/*\"'"),
        ] = None,
        force: Annotated[bool, Field(description="Run sprites that are already up to date too")] = False,
        wait_seconds: a.WaitSeconds = 120,
    ) -> RunResult:
        """Materialize existing sprites (names/globs and/or a Dagster asset selection; each selected sprite's
        render/pixel art/bevy step runs whole, then the manifest) and return the run's outcome. Up-to-date sprites are
        skipped unless force is true."""
        started = time.perf_counter()
        if not sprites and not selection:
            raise ToolError("sprites or selection: give sprite names/globs or a Dagster asset selection")
        spec_set = await in_thread(svc.load)
        names = await in_thread(svc.select, spec_set, list(sprites)) if sprites else []
        if selection:
            from pipeline.faces.mcp.selection import sprites_in_selection

            names += [n for n in await in_thread(sprites_in_selection, svc.settings, selection) if n not in names]
        plan, job = await in_thread(svc.ensure, spec_set, names, force, republish_alone=True)
        fresh = plan.fresh
        if job is None:
            timings = Timings(total_s=round(time.perf_counter() - started, 4))
            return RunResult(
                status="nothing to do", launched_via="none", up_to_date=fresh, message="all up to date", timings=timings
            )
        ended = await follow(ctx, job, wait_seconds)
        outcome = job.outcome
        status: str
        if not ended:
            status = "queued" if job.state == RunState.QUEUED else "running"
        elif job.state == RunState.CANCELED:
            status = "canceled"
        else:
            status = "success" if outcome and outcome.success else "failure"
        sprites_out = [
            SpriteOutcomeInfo(name=o.name, status=o.status, error=o.error, cache=o.cache, seconds=round(o.seconds, 4))  # type: ignore[arg-type]
            for o in (outcome.sprites.values() if outcome else [])
        ]
        message = {"running": "still running: follow the run id with sprite_status"}.get(status, job.error or status)
        return RunResult(
            status=status,  # type: ignore[arg-type]
            run_id=job.handle,
            launched_via=job.via,  # type: ignore[arg-type]
            sprites=sprites_out,
            up_to_date=fresh,
            manifest_error=outcome.manifest_error if outcome else None,
            message=message,
            timings=Timings(total_s=round(time.perf_counter() - started, 4), run_s=job.seconds),
        )

    @mcp.tool(annotations=_READS)
    async def list_sprites(
        sprites: Annotated[list[a.SelectionPattern], Field(max_length=500, description="Only these names/globs")] = [],  # noqa: B006
        category: a.CategoryFilter = None,
        status: Annotated[
            Literal["up to date", "stale", "missing", "failed", "running", "queued"] | None,
            Field(description="Only sprites with this status"),
        ] = None,
    ) -> SpriteList:
        """Every sprite with its status: up to date, stale (and why), missing (never built), failed (the last
        run's error), or running/queued."""
        return await in_thread(svc.list_sprites, list(sprites), category, status)

    @mcp.tool(annotations=_READS)
    async def sprite_status(
        ctx: Context,
        name: a.Name,
        run_id: Annotated[
            a.RunId | None, Field(description="Wait on this run (returned by a call that timed out)")
        ] = None,
        wait_seconds: Annotated[float, Field(ge=0, le=600, description="Wait this long for an active run")] = 0,
    ) -> SpriteStatus:
        """A sprite's lineage and state: spec file and line, asset keys (raw -> pixel -> bevy -> manifest), current
        and recorded stage keys, latest materializations with cache hits and timings, last run and active run."""
        job = svc.build.find(run_id) if run_id else svc.build.active_for(name)
        if run_id and job is None and await in_thread(svc.history.run_info, run_id) is None:
            raise ToolError(f"run_id: no run '{run_id}' in this server's jobs or the Dagster instance")
        if job is not None and wait_seconds > 0:
            await follow(ctx, job, wait_seconds)
        return await in_thread(svc.sprite_status, name)

    @mcp.tool(annotations=_READS, output_schema=ViewResult.model_json_schema())
    async def view_sprite(name: a.Name, upscale: a.Upscale = None) -> ToolResult:
        """Show a sprite as it is in the Bevy assets folder (scaled up crisply), with its size, hash and status."""
        spec_set = await in_thread(svc.load)
        loaded = await in_thread(svc.require, spec_set, name)
        state = (await in_thread(svc.states, spec_set, [name]))[0]
        try:
            png = await in_thread(read_png, svc.settings, loaded.spec.output_path)
        except ToolError:
            raise ToolError(
                f"name: sprite '{name}' has not been built yet; call materialize(sprites=['{name}'])"
            ) from None
        _data, factor, (width, height) = scaled_png(png, upscale)
        result = ViewResult(
            name=name,
            asset_path=loaded.spec.output_path,
            png_path=str(svc.settings.assets_dir / loaded.spec.output_path),
            width=width,
            height=height,
            frames=loaded.spec.animation.frames,
            sha256=hashlib.sha256(png).hexdigest(),
            status=state.status,
            shown_scale=factor,
        )
        summary = f"{name}: {width}x{height}, {result.frames} frame(s), {state.status}, shown at {factor}x"
        return result_with_images(result, summary, [png], upscale)

    @mcp.tool(annotations=ToolAnnotations(destructive_hint=True, open_world_hint=False))
    async def cancel_run(run_id: a.RunId) -> CancelResult:
        """Cancel a run: one queued in this server never starts; a running one is terminated (through the Dagster
        webserver when it launched it, else through Dagster's own termination record, which its steps honour:
        ComfyUI jobs are withdrawn); Dagster records it as canceled."""
        done = await in_thread(svc.cancel, run_id)
        return CancelResult(
            run_id=done.run_id,
            status=done.status,
            launched_via=done.via,  # type: ignore[arg-type]
            message=done.message,
        )
