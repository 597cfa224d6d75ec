"""The three stages of one sprite as plain functions (no Dagster import): generate, pixelate, export.

Each stage has a key (the hash of everything that determines its output) and looks in the
content-addressed cache before doing any work; its result says ``cache: hit`` or ``miss``.

* generate: key = the backend's resolved request (workflow graph or procedural parameters, backend
  identity, models, seed). Not the sprite's name or output path.
* pixelate: key = sha256 of the raw frames + pixel parameters + this stage's version.
* export:   key = sha256 of the pixel sheet + output path + the .meta template + this stage's version.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from pipeline.core.export.bevy import encode_png, encode_sheet, write_sprite_files
from pipeline.core.export.manifest import AtlasLayout, ManifestEntry, PaletteInfo
from pipeline.core.generate.base import Backend, GenerationRequest, ProgressFn, sha256_hex
from pipeline.core.pixelate import PixelResult, pixelate_frames, pixelate_sheet
from pipeline.core.specs.model import AdaptivePalette, SpriteSpec
from pipeline.errors import GenerationError, PixelateError
from pipeline.settings import Settings
from pipeline.state.cache import Claims, ContentCache
from pipeline.state.keys import export_key, pixel_params_for, pixelate_key
from pipeline.state.lockfile import LockedCandidates, LockEntry, StageKeys, generate_inputs

__all__ = [
    "ExportOutput",
    "PixelOutput",
    "RawOutput",
    "export_key",
    "export_stage",
    "generate_stage",
    "is_sheet_render",
    "pixel_params_for",
    "pixelate_images",
    "pixelate_key",
    "pixelate_stage",
]


@dataclass
class RawOutput:
    key: str
    frames: list[bytes]
    hashes: list[str]
    cache: str  # "hit" | "miss"
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        """One hash over all frames (the raw asset's data version)."""
        return sha256_hex("".join(self.hashes).encode())


@dataclass
class PixelOutput:
    key: str
    sheet_png: bytes
    sha256: str
    palette: tuple[str, ...]
    metadata: dict[str, Any]
    cache: str
    seconds: float


@dataclass
class ExportOutput:
    key: str
    png_path: str
    sha256: str
    written: bool  # the PNG's bytes change (False: the file already held them); see ``replacement``
    replaced: bool  # it changed a PNG that existed before (whose old bytes the manifest may still describe)
    seconds: float
    locked: LockEntry  # the sprite's lock entry; its ``entry`` is the manifest entry
    # (path, bytes) of a PNG that holds other bytes now: not written yet; ``record_export`` replaces it together
    # with its lock entry and manifest line
    replacement: tuple[Path, bytes] | None = None

    @property
    def entry(self) -> ManifestEntry:
        return self.locked.entry


def generate_stage(
    request: GenerationRequest,
    backend: Backend,
    cache: ContentCache,
    *,
    offline: bool = False,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    claims: Claims | None = None,
) -> RawOutput:
    """The render frames for ``request``, from the cache or from the backend (never from it when offline).

    Generation happens under the key's claim: a concurrent build that needs the same render waits and
    then reads it from the cache instead of sending the same work to the GPU again.
    """
    start = time.perf_counter()
    hit = _raw_from_cache(cache, request.key, start)
    if hit is not None:
        return hit
    if offline and backend.remote:
        raise GenerationError(
            f"{request.sprite}: its {backend.kind} render ({request.key[:12]}) is not in the cache and --offline "
            "forbids contacting a generation server; build it once online or share the cache folder "
            "(SPRITES_CACHE_DIR)"
        )
    with (claims or Claims(cache)).hold("generate", request.key):
        hit = _raw_from_cache(cache, request.key, start)  # produced by whoever held the claim before us
        if hit is not None:
            return hit
        result = backend.generate(request, progress=progress, cancel=cancel)
        if len(result.frames) != request.frames:
            raise GenerationError(
                f"{request.sprite}: backend '{backend.kind}' returned {len(result.frames)} images, "
                f"expected {request.frames}"
            )
        files = {f"frame{i:03d}.png": data for i, data in enumerate(result.frames)}
        entry = cache.put("generate", request.key, files, meta={"sprite": request.sprite, **result.info})
    names = sorted(files)
    return RawOutput(
        request.key,
        [files[n] for n in names],
        [entry.hashes[n] for n in names],
        "miss",
        time.perf_counter() - start,
        dict(result.info),
    )


def _raw_from_cache(cache: ContentCache, key: str, start: float) -> RawOutput | None:
    hit = cache.get("generate", key)
    if hit is None:
        return None
    names = sorted(hit.files)
    return RawOutput(
        key,
        [hit.files[n] for n in names],
        [hit.hashes[n] for n in names],
        "hit",
        time.perf_counter() - start,
        dict(hit.meta),
    )


def pixelate_stage(spec: SpriteSpec, raw: RawOutput, cache: ContentCache) -> PixelOutput:
    """Pixel art sheet for ``spec`` from its raw frames (cached by key)."""
    start = time.perf_counter()
    key = pixelate_key(raw.hashes, spec)
    hit = cache.get("pixelate", key)
    if hit is not None:
        meta = dict(hit.meta)
        return PixelOutput(
            key,
            hit.files["sheet.png"],
            hit.hashes["sheet.png"],
            tuple(meta.pop("palette")),
            meta,
            "hit",
            time.perf_counter() - start,
        )
    try:
        images = [Image.open(io.BytesIO(data)) for data in raw.frames]
        for im in images:
            im.load()
    except (OSError, ValueError) as exc:
        raise PixelateError(f"{spec.name}: a raw frame is not a readable image: {exc}") from exc
    result = pixelate_images(spec, images)
    sheet = encode_png(encode_sheet(result.frames, spec.animation.sheet_columns))
    meta = {**result.metadata, "palette": list(result.palette)}
    entry = cache.put("pixelate", key, {"sheet.png": sheet}, meta=meta)
    meta.pop("palette")
    return PixelOutput(key, sheet, entry.hashes["sheet.png"], result.palette, meta, "miss", time.perf_counter() - start)


def is_sheet_render(spec: SpriteSpec) -> bool:
    """The render is one image of the whole sheet, which the pixel stage slices into the frames."""
    return spec.animation.frames > 1 and spec.animation.method == "sheet"


def pixelate_images(spec: SpriteSpec, images: Sequence[Image.Image]) -> PixelResult:
    """The pixel stage on a spec's decoded raw frames: a sheet render is sliced, other frames come apart."""
    params = pixel_params_for(spec)
    if is_sheet_render(spec):
        if len(images) != 1:
            raise PixelateError(
                f"{spec.name}: animation.method is sheet but the raw asset holds {len(images)} renders, not one"
            )
        result = pixelate_sheet(images[0], params, spec.animation.frames, spec.animation.sheet_columns)
    else:
        result = pixelate_frames(images, params)
    if spec.animation.frames > 1:
        result.metadata["frame_method"] = spec.animation.method
    return result


def _palette_info(spec: SpriteSpec, used: tuple[str, ...]) -> PaletteInfo:
    if isinstance(spec.palette, AdaptivePalette):
        return PaletteInfo(kind="adaptive", colors=list(used))
    if isinstance(spec.palette, list):
        return PaletteInfo(kind="explicit", colors=list(spec.palette))
    return PaletteInfo(kind="named", name=spec.palette, colors=list(used))


def export_stage(
    spec: SpriteSpec,
    spec_file: str,
    request: GenerationRequest,
    raw: RawOutput,
    pixel: PixelOutput,
    settings: Settings,
) -> ExportOutput:
    """Write the sheet and its .meta into the Bevy folder (only if the bytes changed) and return the
    sprite's lock entry; recording and publishing it is ``pipeline.state.publish.record_export``'s. A sheet
    that replaces a PNG of other bytes is not written here (``replacement``): ``record_export`` replaces
    that PNG, its lock entry and its manifest line together (``publish(files=...)``: every file written and
    fsynced first, then renamed into place one right after the other), so a killed build leaves no manifest
    line describing bytes its file no longer holds, unless killed in the microseconds between the renames."""
    start = time.perf_counter()
    key = export_key(pixel.sha256, spec)
    anim = spec.animation
    entry = ManifestEntry(
        name=spec.name,
        path=spec.output_path,
        category=spec.category,
        frames=anim.frames,
        resolution=(spec.size.width, spec.size.height),
        prompt=spec.prompt,
        workflow=spec.generation.workflow if request.backend == "comfyui" else request.backend,
        negative_prompt=spec.negative_prompt,
        fps=anim.fps,
        atlas=AtlasLayout(
            tile_width=spec.size.width, tile_height=spec.size.height, columns=anim.sheet_columns, rows=anim.sheet_rows
        ),
        palette=_palette_info(spec, pixel.palette),
        seed=spec.effective_seed,
        backend=request.backend,
        input_hash=key,
        sha256=hashlib.sha256(pixel.sheet_png).hexdigest(),
    )
    locked = LockEntry(
        spec_file=spec_file,
        keys=StageKeys(generate=request.key, pixelate=pixel.key, export=key),
        generate_inputs=generate_inputs(request),
        raw_sha256=raw.hashes,
        pixel_sha256=pixel.sha256,
        entry=entry,
        candidates=LockedCandidates.of(spec.candidate_seeds, spec.candidates.picked if spec.candidates else None),
    )

    deferred: list[tuple[Path, bytes]] = []
    png, _meta = write_sprite_files(
        settings.assets_dir,
        spec.output_path,
        pixel.sheet_png,
        settings.scratch_dir,
        lambda path, data: deferred.append((path, data)),
    )
    return ExportOutput(
        key,
        spec.output_path,
        png.sha256,
        png.written,
        png.replaced,
        time.perf_counter() - start,
        locked,
        deferred[0] if deferred else None,
    )
