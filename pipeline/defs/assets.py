"""The asset factory: one sprite spec -> its Dagster assets; all specs -> plus the manifest.

Per sprite, ``<name>/<name>_render`` (generation) -> ``<name>/<name>_pixel_art`` (pixelation) ->
``<name>/<name>_bevy`` (export; keys: ``pipeline.defs.asset_keys``) are three assets of ONE ``multi_asset``
step (``can_subset=True``), which also evaluates the sprite's check (``pipeline.defs.automation.checks``).
Why one step: Dagster's per-step overhead dominates this work (measured ~70 ms/step on SQLite, more than
a whole 32 px sprite takes), and a third as many steps keeps a 500-sprite build a third as long while
lineage stays per asset.
``bevy/manifest`` (group ``publish``) depends on every ``<name>_bevy``; a deleted spec's assets leave the
catalog when the manifest step removes its files, and so do the entries of the keys before the renaming.

Names in the UI: the asset graph labels a node with the last part of its key, which names the sprite and
the stage (``goblin_render``, ``goblin_pixel_art``, ``goblin_bevy``). The stage is said again by the first
kind, the tag under every node (``render``, ``pixel_art``, ``bevy``), and by the first line of its
description (shown in the node when the graph's Description facet is on, and atop the asset page).

Versions: each asset's ``code_version`` is the hash of the parameters of its own stage (for ``raw``:
the generation key, i.e. the fully resolved request), and its data version is the sha256 of what it
produced, so the UI marks exactly the sprites whose inputs changed as unsynced.
"""

import time
from collections.abc import Collection, Iterator

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    DagsterInstance,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from pipeline.core.generate import GenerationRequest, resolve_requests
from pipeline.core.generate.base import canonical_json, sha256_hex
from pipeline.core.previews import preview_markdown
from pipeline.core.specs import LoadedSpec, SpecSet
from pipeline.defs.asset_keys import (
    LEGACY_PREFIXES,
    MANIFEST_KEY,
    MANIFEST_KEY_PATH,
    STAGE_LABELS,
    op_name,
    sprite_key,
    sprite_keys,
    sprite_paths,
)
from pipeline.defs.automation.checks import (
    evaluate_manifest,
    evaluate_sprite,
    latest_materialized_sha,
    manifest_check_specs,
    manifest_evaluations,
    sprite_check_spec,
)
from pipeline.defs.resources import SpritePipelineResource
from pipeline.errors import GenerationCancelled, GenerationError, SpriteError
from pipeline.settings import Settings
from pipeline.state.candidates import collect, preview_entries, renders_to_make, resolve_candidates
from pipeline.state.keys import stage_versions
from pipeline.state.publish import PublishResult, publish_run, record_export, removed_specs
from pipeline.state.stages import export_stage, generate_stage, pixelate_stage

__all__ = [
    "DATA_VERSION_TAG",
    "MANIFEST_GROUP",
    "MANIFEST_KEY",
    "build_assets",
    "op_name",
    "record_manifest",
    "sprite_keys",
]

#: the tag under which Dagster stores a materialization's data version (as its docs spell it; Dagster has no
#: public constant for it, tests/test_service.py checks it against Dagster's own)
DATA_VERSION_TAG = "dagster/data_version"

MANIFEST_GROUP = "publish"
#: kinds are shown as tags under each node in the asset graph's default view (descriptions are not): the
#: first is the stage's word in the key's last part (``goblin_render``)
_RENDER = STAGE_LABELS["raw"]
_KINDS = {"procedural": {_RENDER, "python"}, "comfyui": {_RENDER, "comfyui"}, "image": {_RENDER, "png"}}
_BUILT_BY = (
    "Built by: the spec sensor (when its spec changes), the rebuild_stale_sprites schedule, "
    "`sprites build`, or Materialize here."
)


def _sprite_asset(
    loaded: LoadedSpec,
    request: GenerationRequest,
    run_requests: dict[str, GenerationRequest],
    candidates: dict[str, list[GenerationRequest]],
    to_render: dict[str, list[GenerationRequest]],
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
    mine = candidates.get(name)
    specs = [
        AssetSpec(
            raw_key,
            description=f"render: {name} by the {request.backend} backend (generate stage)\n\n"
            f"Prompt: {spec.prompt}\n\n{_BUILT_BY}",
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
            description=f"pixel art: {name}, {spec.size}, {spec.animation.frames} frame(s), {palette_label} "
            f"(pixelate stage)\n\n{_BUILT_BY}",
            group_name=group,
            code_version=pixel_version,
            kinds={STAGE_LABELS["pixel"], "numpy"},
            tags=tags,
            metadata=common,
            skippable=True,
        ),
        AssetSpec(
            bevy_key,
            deps=[pixel_key],
            description=f"Bevy PNG: {spec.output_path} (+ .meta, nearest sampler; export stage)\n\n{_BUILT_BY}",
            group_name=group,
            code_version=export_version,
            kinds={STAGE_LABELS["bevy"], "png"},
            tags=tags,
            metadata={**common, "path": spec.output_path},
            skippable=True,
        ),
    ]

    @multi_asset(
        name=op_name(name),
        specs=specs,
        check_specs=[sprite_check_spec(name)],
        can_subset=True,
        pool="comfyui" if request.backend == "comfyui" else None,
        op_tags={"sprite": name},
    )
    def _build(
        context: AssetExecutionContext, sprites: SpritePipelineResource
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        try:
            yield from _steps(context, sprites)
        except SpriteError as exc:
            # Dagster shows a Failure's description as the step's error, instead of its own wrapper
            # ("Error occurred while executing op ...") above a stack trace
            where = f"{name} (sprite_specs/{loaded.file}:{loaded.line})"
            raise Failure(
                description=f"{where}: {type(exc).__name__}: {exc}",
                metadata={"sprite": name, "spec_file": f"sprite_specs/{loaded.file}", "error": type(exc).__name__},
                allow_retries=False,
            ) from exc

    def _steps(
        context: AssetExecutionContext, sprites: SpritePipelineResource
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        selected = context.selected_asset_keys
        settings = sprites.settings
        check_selected = bool(context.selected_asset_check_keys)
        if not selected:  # the check alone, from the UI's Checks tab: judge the files as they are
            yield evaluate_sprite(loaded, settings, None, latest_materialized_sha(context.instance, bevy_key))
            return
        cancel = sprites.cancel_event(context.instance, context.run.run_id)
        if cancel.is_set():  # the run is being terminated: the steps not started yet end at once
            raise GenerationCancelled(f"{name}: the run was cancelled before this sprite's step started")
        cache = sprites.cache
        backend = sprites.backend(request.backend)
        selection = context.run.asset_selection
        servers = sprites.prepare_once(
            request.backend,
            lambda: (
                [
                    r
                    for n, r in run_requests.items()
                    if r.backend == request.backend and (selection is None or sprite_key(n, "raw") in selection)
                ]
                + [  # the candidates still to pick from (pipeline.state.candidates)
                    r
                    for n, rs in to_render.items()
                    for r in rs
                    if r.backend == request.backend and (selection is None or sprite_key(n, "raw") in selection)
                ]
            ),
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
                f"{name}: {raw_key.to_user_string()} has no stored render for its current inputs; "
                "materialize it too (it is part of this sprite's step)"
            )
        raw = generate_stage(
            request, backend, cache, offline=sprites.offline, progress=progress, cancel=cancel, claims=sprites.claims
        )
        shown: dict[str, MetadataValue] = {}
        if mine is not None:  # every candidate rendered (and cached) until a pick; each keyed by its own seed
            for other in to_render[name]:
                generate_stage(
                    other,
                    backend,
                    cache,
                    offline=sprites.offline,
                    progress=progress,
                    cancel=cancel,
                    claims=sprites.claims,
                )
            shown = {k: MetadataValue.md(v) for k, v in preview_entries(collect(loaded, mine, cache)).items()}
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
                    **shown,
                },
            )
        if pixel_key not in selected and bevy_key not in selected:
            return  # (the check is only ever selected with <name>_bevy, or alone)
        if spec.awaiting_pick:
            context.log.info(f"{name}: candidates rendered; nothing is published until one is picked")
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
            record_export(settings, context.run.run_id, name, out)
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
            if check_selected:
                yield evaluate_sprite(loaded, settings, out.locked, out.sha256)

    return _build


def _manifest_metadata(settings: Settings, result: PublishResult, names: list[str]) -> dict[str, object]:
    m = result.manifest
    missing = sorted(set(names) - {e.name for e in m.sprites})
    return {
        "sprite_count": m.sprite_count,
        "changed": result.changed,
        "missing": MetadataValue.json(missing),
        "removed_orphans": MetadataValue.json(result.removed),
        "path": MetadataValue.path(str(settings.assets_dir / "sprites" / "manifest.json")),
        "sprites": MetadataValue.md(
            "| sprite | path | frames | sha256 |\n|---|---|---|---|\n"
            + "\n".join(f"| {e.name} | {e.path} | {e.frames} | `{e.sha256[:12]}` |" for e in m.sprites)
        ),
    }


def _manifest_version(result: PublishResult) -> str:
    return sha256_hex(canonical_json([e.sha256 for e in result.manifest.sprites]))


def _forget(instance: DagsterInstance, removed: list[str], names: Collection[str]) -> None:
    """A deleted spec's assets leave the catalog once its files are gone (else: "External Asset",
    "Materialized", for a PNG that no longer exists), and so do the entries an instance still holds under
    the project's keys before the renaming (``raw/<name>``, ...: ``pipeline.defs.asset_keys``)."""
    gone = {k for n in removed for k in sprite_keys(n)}
    # one indexed query per old prefix, empty once migrated (so nothing is built per sprite); other projects' keys stay
    found = [k for prefix in LEGACY_PREFIXES for k in instance.get_asset_keys(prefix=[prefix])]
    known = {*names, *removed}
    # only a sprite named like a prefix owns such a key now: sprite `raw`'s raw/raw_render is `raw_render`'s old
    # key; and bevy/manifest is the manifest's (paths compared: an AssetKey costs tens of microseconds to make)
    owned = {p for n in names if n in LEGACY_PREFIXES for p in sprite_paths(n)} | {MANIFEST_KEY_PATH}
    gone |= {k for k in found if len(k.path) == 2 and k.path[1] in known and tuple(k.path) not in owned}
    if gone:
        instance.wipe_assets(sorted(gone, key=AssetKey.to_user_string))


def record_manifest(instance: DagsterInstance, settings: Settings, spec_set: SpecSet, result: PublishResult) -> None:
    """Record a publish made outside the manifest step (after a failed run: the failure sensor, ``sprites
    build``) as a materialization of ``bevy/manifest`` with its checks, so that the manifest's status in
    the UI is that of manifest.json against sprites.lock, not that of the run whose manifest step was skipped."""
    instance.report_runless_asset_event(
        AssetMaterialization(
            MANIFEST_KEY,
            description="published after a run whose manifest step did not run",
            metadata=_manifest_metadata(settings, result, list(spec_set.specs)),  # type: ignore[arg-type]
            tags={DATA_VERSION_TAG: _manifest_version(result)},
        )
    )
    for evaluation in manifest_evaluations(settings, spec_set):
        instance.report_runless_asset_event(evaluation)
    _forget(instance, result.removed, spec_set.specs)


def _manifest_asset(spec_set: SpecSet, deps_of: Collection[str] | None = None) -> AssetsDefinition:
    names = list(spec_set.specs)
    upstream = names if deps_of is None else [n for n in names if n in deps_of]

    @multi_asset(
        name="bevy__manifest",
        specs=[
            AssetSpec(
                MANIFEST_KEY,
                deps=[sprite_keys(n)[2] for n in upstream],
                group_name=MANIFEST_GROUP,
                kinds={"bevy", "json"},
                description="manifest: sprites/manifest.json and sprites/sprites.assets.ron over every exported "
                f"sprite (publish stage); removes the files of sprites whose spec was deleted.\n\n{_BUILT_BY}",
                code_version=sha256_hex(canonical_json(names))[:16],
                skippable=True,
            )
        ],
        check_specs=manifest_check_specs(),
        can_subset=True,  # so that its checks can be executed on their own
    )
    def bevy_manifest(
        context: AssetExecutionContext, sprites: SpritePipelineResource
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        settings = sprites.settings
        checks = {k.name for k in context.selected_asset_check_keys}
        if MANIFEST_KEY not in context.selected_asset_keys:  # checks alone, from the UI's Checks tab
            yield from evaluate_manifest(settings, spec_set, checks)
            return
        result = publish_run(settings, context.run.run_id, removed_specs(settings, names), all_names=names)
        metadata = _manifest_metadata(settings, result, names)
        missing = sorted(set(names) - {e.name for e in result.manifest.sprites})
        if missing:
            context.log.warning(f"not yet exported, so not in the manifest: {', '.join(missing)}")
        if result.kept:
            context.log.warning(f"specs deleted but files modified by hand, left in place: {', '.join(result.kept)}")
        _forget(context.instance, result.removed, names)
        yield MaterializeResult(
            asset_key=MANIFEST_KEY,
            data_version=DataVersion(_manifest_version(result)),
            metadata=metadata,  # type: ignore[arg-type]
        )
        yield from evaluate_manifest(settings, spec_set, checks)

    return bevy_manifest


def build_assets(spec_set: SpecSet, settings: Settings, only: Collection[str] | None = None) -> list[AssetsDefinition]:
    """Every sprite's assets and the manifest; ``only``: just these sprites' (plus the manifest over all).

    ``only`` is for runs launched from this process (``sprites build``): defining 2000 multi-assets to
    run one costs seconds, and the unselected ones would not execute anyway. The manifest keeps the code
    location's code version but depends only on the chosen sprites: for every dependency Dagster looks up
    the latest data version, one SQLite query each when it was never materialized in this instance (a
    fresh clone), which made a one-sprite build of a 2000-sprite project take half a minute.
    """
    chosen = [loaded for loaded in spec_set if only is None or loaded.name in only]
    requests = resolve_requests(spec_set, settings, None if only is None else [loaded.name for loaded in chosen])
    candidates = resolve_candidates(spec_set, settings, [loaded.name for loaded in chosen])
    to_render = {n: renders_to_make(spec_set.specs[n].spec, rs, requests[n]) for n, rs in candidates.items()}
    assets = [_sprite_asset(loaded, requests[loaded.name], requests, candidates, to_render) for loaded in chosen]
    return [*assets, _manifest_asset(spec_set, deps_of=only)]
