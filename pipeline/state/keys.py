"""Stage keys: the hash of everything that determines a stage's output (no Dagster import).

* generate: the backend's resolved request (``GenerationRequest.key``): workflow graph or procedural
  parameters, backend identity, models, seed, and the bytes of any input file such as ``init_image``.
* pixelate: the raw frames' hashes + the pixel parameters + this stage's code version.
* export: the pixel sheet's hash + where it is written + every spec field its manifest entry shows.

The Dagster assets' code versions come from here too (``stage_versions``), so the UI's unsynced marks
move exactly when these keys do.
"""

from __future__ import annotations

from pipeline.core.export.bevy import IMAGE_META
from pipeline.core.generate.base import GenerationRequest, canonical_json, sha256_hex
from pipeline.core.pixelate import PixelParams
from pipeline.core.specs.model import AdaptivePalette, SpriteSpec
from pipeline.core.versions import EXPORT_VERSION, PIXELATE_VERSION

__all__ = ["export_key", "pixel_params_for", "pixel_params_key", "pixelate_key", "stage_versions"]


def pixel_params_for(spec: SpriteSpec) -> PixelParams:
    """The pixel stage's parameters for a spec."""
    palette: str | tuple[str, ...] | int
    if isinstance(spec.palette, AdaptivePalette):
        palette = spec.palette.adaptive
    elif isinstance(spec.palette, list):
        palette = tuple(spec.palette)
    else:
        palette = spec.palette
    # every `pixel:` setting of a spec is a PixelParams field of the same name
    return PixelParams(width=spec.size.width, height=spec.size.height, palette=palette, **spec.pixel.model_dump())


def pixel_params_key(spec: SpriteSpec) -> dict[str, object]:
    """What the pixel stage is asked, independent of its input frames."""
    out: dict[str, object] = {"params": pixel_params_for(spec).cache_fields(), "columns": spec.animation.sheet_columns}
    if spec.animation.frames > 1:  # a sheet render is sliced into the frames; other methods' frames arrive apart
        out["frames"] = {"count": spec.animation.frames, "method": spec.animation.method}
    return out


def pixelate_key(raw_hashes: list[str], spec: SpriteSpec) -> str:
    """Key of the pixel stage: the raw frames' hashes plus everything the pixel stage is asked."""
    return sha256_hex(canonical_json({"raw": raw_hashes, **pixel_params_key(spec), "version": PIXELATE_VERSION}))


def _export_fields(spec: SpriteSpec) -> dict[str, object]:
    listed = spec.model_dump(
        mode="json", include={"name", "category", "prompt", "negative_prompt", "seed", "size", "palette"}
    )
    listed["animation"] = spec.animation.keyed()  # a still sprite's key ignores the frame method's settings
    return {
        "path": spec.output_path,
        "entry": listed,
        "workflow": spec.generation.workflow,
        "backend": spec.generation.backend,
        "seed": spec.effective_seed,
        "meta": sha256_hex(IMAGE_META.encode()),
        "version": EXPORT_VERSION,
    }


def export_key(pixel_sha256: str, spec: SpriteSpec) -> str:
    """Key of the export stage: the pixel sheet's hash, where it is written, and every spec field its
    manifest entry shows (so an fps or name change republishes without regenerating anything)."""
    return sha256_hex(canonical_json({"pixel": pixel_sha256, **_export_fields(spec)}))


def stage_versions(spec: SpriteSpec, request: GenerationRequest) -> tuple[str, str, str]:
    """Code versions of the raw, pixel and bevy assets: each stage's own parameters, without its input."""
    pixel = sha256_hex(canonical_json({**pixel_params_key(spec), "version": PIXELATE_VERSION}))
    export = sha256_hex(canonical_json(_export_fields(spec)))
    return request.key[:16], pixel[:16], export[:16]
