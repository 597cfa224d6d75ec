"""The asset factory: one sprite spec -> its Dagster assets; all specs -> plus the manifest.

Per sprite, ``raw/<name>`` (generation) -> ``pixel/<name>`` (pixelation) -> ``bevy/<name>`` (export)
are three assets of ONE ``multi_asset`` step (``can_subset=True``). Why one step: Dagster's per-step
overhead dominates this work (measured ~70 ms/step on SQLite, more than a whole 32 px sprite takes),
and a third as many steps keeps a 500-sprite build a third as long while lineage stays per asset.
``bevy/manifest`` depends on every ``bevy/<name>``.

Versions: each asset's ``code_version`` is the hash of the parameters of its own stage (for ``raw``:
the generation key, i.e. the fully resolved request), and its data version is the sha256 of what it
produced, so the UI marks exactly the sprites whose inputs changed as unsynced.
"""

import time
from collections.abc import Collection, Iterator

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from pipeline.buildstate.keys import stage_versions
from pipeline.buildstate.publish import publish_run, record_export, removed_specs
from pipeline.errors import GenerationError
from pipeline.generate import GenerationRequest, resolve_requests
from pipeline.generate.base import canonical_json, sha256_hex
from pipeline.previews import preview_markdown
from pipeline.resources import SpritePipelineResource
from pipeline.settings import Settings
from pipeline.specs import LoadedSpec, SpecSet
from pipeline.stages import export_stage, generate_stage, pixelate_stage

__all__ = ["MANIFEST_KEY", "build_assets", "op_name", "sprite_keys"]

MANIFEST_KEY = AssetKey(["bevy", "manifest"])
_KINDS = {"procedural": {"python", "png"}, "comfyui": {"comfyui", "png"}, "image": {"png"}}


def op_name(sprite: str) -> str:
    """Dagster op names allow no '-': ``knight-walk`` -> ``sprite__knight_walk``."""
    return "sprite__" + sprite.replace("-", "_")


def sprite_keys(name: str) -> tuple[AssetKey, AssetKey, AssetKey]:
    return AssetKey(["raw", name]), AssetKey(["pixel", name]), AssetKey(["bevy", name])


def _sprite_asset(
    loaded: LoadedSpec, request: GenerationRequest, run_requests: dict[str, GenerationRequest]
) -> AssetsDefinition:
    spec = loaded.spec
    name = spec.name
    raw_key, pixel_key, bevy_key = sprite_keys(name)
    group = spec.category
    tags = {"sprite": name, "category": spec.category}
    common = {
        "spec_file": MetadataValue.path(f"sprite_specs/{loaded.file}"),
        "spec_line": loaded.line,
        "prompt": spec.prompt,
        "size": str(spec.size),
    }
    palette_label = f"palette {spec.palette}" if isinstance(spec.palette, str) else "custom palette"
    raw_version, pixel_version, export_version = stage_versions(spec, request)
    specs = [
        AssetSpec(
            raw_key,
            description=f"Render of '{name}' by the {request.backend} backend: {spec.prompt}",
            group_name=group,
            code_version=raw_version,
            kinds=_KINDS[request.backend],
            tags=tags,
            metadata={**common, "backend": request.backend},
            skippable=True,
        ),
        AssetSpec(
            pixel_key,
            deps=[raw_key],
            description=f"'{name}' as {spec.size} pixel art, {spec.animation.frames} frame(s), {palette_label}",
            group_name=group,
            code_version=pixel_version,
            kinds={"numpy", "png"},
            tags=tags,
            metadata=common,
            skippable=True,
        ),
        AssetSpec(
            bevy_key,
            deps=[pixel_key],
            description=f"'{name}' in the Bevy assets folder: {spec.output_path} (+ .meta, nearest sampler)",
            group_name=group,
            code_version=export_version,
            kinds={"bevy", "png"},
            tags=tags,
            metadata={**common, "path": spec.output_path},
            skippable=True,
        ),
    ]

    @multi_asset(
        name=op_name(name),
        specs=specs,
        can_subset=True,
        pool="comfyui" if request.backend == "comfyui" else None,
        op_tags={"sprite": name},
    )
    def _build(context: AssetExecutionContext, sprites: SpritePipelineResource) -> Iterator[MaterializeResult]:
        selected = context.selected_asset_keys
        settings = sprites.settings
        cache = sprites.cache
        backend = sprites.backend(request.backend)
        selection = context.run.asset_selection
        servers = sprites.prepare_once(
            request.backend,
            lambda: [
                r
                for n, r in run_requests.items()
                if r.backend == request.backend and (selection is None or AssetKey(["raw", n]) in selection)
            ],
        )
        for line in servers:
            context.log.info(f"generation server {line}")
        last_log = [0.0]

        def progress(fraction: float, message: str) -> None:
            now = time.monotonic()
            if now - last_log[0] > 1.0 or fraction >= 1.0:
                last_log[0] = now
                context.log.info(f"{name}: {fraction:.0%} {message}")

        if raw_key not in selected and not cache.has("generate", request.key):
            raise GenerationError(
                f"{name}: raw/{name} has no stored render for its current inputs; "
                f"materialize raw/{name} too (it is part of this sprite's step)"
            )
        raw = generate_stage(request, backend, cache, offline=sprites.offline, progress=progress, claims=sprites.claims)
        if raw_key in selected:
            yield MaterializeResult(
                asset_key=raw_key,
                data_version=DataVersion(raw.sha256),
                metadata={
                    "preview": MetadataValue.md(preview_markdown(raw.frames[0], f"{name} render")),
                    "cache": "miss" if sprites.generated_for(request.key) == name else raw.cache,
                    "key": request.key,
                    "backend": request.backend,
                    "frames": len(raw.frames),
                    "render_size": f"{request.width}x{request.height}",
                    "sha256": raw.sha256,
                    "seconds": round(raw.seconds, 4),
                    "seed": spec.effective_seed,
                    **{f"server_{k}": str(v) for k, v in raw.info.items() if k in ("server", "prompt_id")},
                },
            )
        if pixel_key not in selected and bevy_key not in selected:
            return
        pixel = pixelate_stage(spec, raw, cache)
        if pixel_key in selected:
            yield MaterializeResult(
                asset_key=pixel_key,
                data_version=DataVersion(pixel.sha256),
                metadata={
                    "preview": MetadataValue.md(preview_markdown(pixel.sheet_png, f"{name} pixel art")),
                    "cache": pixel.cache,
                    "key": pixel.key,
                    "sha256": pixel.sha256,
                    "size": str(spec.size),
                    "frames": spec.animation.frames,
                    "palette": ", ".join(pixel.palette),
                    "palette_size": len(pixel.palette),
                    **{
                        k: v if isinstance(v, int | float | str) else MetadataValue.json(v)
                        for k, v in pixel.metadata.items()
                        if k != "palette_size"
                    },
                    "seconds": round(pixel.seconds, 4),
                },
            )
        if bevy_key in selected:
            out = export_stage(spec, loaded.file, request, raw, pixel, settings)
            record_export(settings, context.run.run_id, name, out.locked, replaced=out.replaced)
            yield MaterializeResult(
                asset_key=bevy_key,
                data_version=DataVersion(out.sha256),
                metadata={
                    "preview": MetadataValue.md(preview_markdown(pixel.sheet_png, f"{name} in Bevy")),
                    "path": MetadataValue.path(str(settings.assets_dir / out.png_path)),
                    "asset_path": out.png_path,
                    "sha256": out.sha256,
                    "bytes": len(pixel.sheet_png),
                    "written": out.written,
                    "cache": "hit" if not out.written else "miss",
                    "key": out.key,
                    "atlas": MetadataValue.json(out.entry.atlas.model_dump()),
                    "seconds": round(out.seconds, 4),
                },
            )

    return _build


def _manifest_asset(spec_set: SpecSet, deps_of: Collection[str] | None = None) -> AssetsDefinition:
    names = list(spec_set.specs)
    upstream = names if deps_of is None else [n for n in names if n in deps_of]

    @asset(
        key=MANIFEST_KEY,
        deps=[sprite_keys(n)[2] for n in upstream],
        group_name="bevy",
        kinds={"bevy", "json"},
        description="sprites/manifest.json and sprites/sprites.assets.ron over every exported sprite; "
        "removes the files of sprites whose spec was deleted.",
        code_version=sha256_hex(canonical_json(names))[:16],
    )
    def bevy_manifest(context: AssetExecutionContext, sprites: SpritePipelineResource) -> MaterializeResult:
        settings = sprites.settings
        result = publish_run(settings, context.run.run_id, removed_specs(settings, names), all_names=names)
        missing = sorted(set(names) - {e.name for e in result.manifest.sprites})
        if missing:
            context.log.warning(f"not yet exported, so not in the manifest: {', '.join(missing)}")
        if result.kept:
            context.log.warning(f"specs deleted but files modified by hand, left in place: {', '.join(result.kept)}")
        m = result.manifest
        return MaterializeResult(
            data_version=DataVersion(sha256_hex(canonical_json([e.sha256 for e in m.sprites]))),
            metadata={
                "sprite_count": m.sprite_count,
                "changed": result.changed,
                "missing": MetadataValue.json(missing),
                "removed_orphans": MetadataValue.json(result.removed),
                "path": MetadataValue.path(str(sprites.settings.assets_dir / "sprites" / "manifest.json")),
                "sprites": MetadataValue.md(
                    "| sprite | path | frames | sha256 |\n|---|---|---|---|\n"
                    + "\n".join(f"| {e.name} | {e.path} | {e.frames} | `{e.sha256[:12]}` |" for e in m.sprites)
                ),
            },
        )

    return bevy_manifest


def build_assets(spec_set: SpecSet, settings: Settings, only: Collection[str] | None = None) -> list[AssetsDefinition]:
    """Every sprite's assets and the manifest; ``only``: just these sprites' (plus the manifest over all).

    ``only`` is for runs launched from this process (``sprites build``): defining 2000 multi-assets to
    run one costs seconds, and the unselected ones would not execute anyway. The manifest keeps the code
    location's code version but depends only on the chosen sprites: for every dependency Dagster looks up
    the latest data version, one SQLite query each when it was never materialized in this instance (a
    fresh clone), which made a one-sprite build of a 2000-sprite project take half a minute.
    """
    requests = resolve_requests(spec_set, settings)
    chosen = [loaded for loaded in spec_set if only is None or loaded.name in only]
    assets = [_sprite_asset(loaded, requests[loaded.name], requests) for loaded in chosen]
    return [*assets, _manifest_asset(spec_set, deps_of=only)]
