"""What needs building: each sprite's status from its spec, its export record and the Bevy folder.

No Dagster import: ``sprites build`` decides here, in milliseconds, whether any Dagster run is needed.
A sprite is up to date when every stage key computed from the current spec equals the recorded one and
the files in the Bevy folder still hold the recorded bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.export.bevy import IMAGE_META
from pipeline.export.manifest import MANIFEST_PATH, Manifest
from pipeline.generate.base import GenerationRequest
from pipeline.records import SpriteRecord, read_record
from pipeline.settings import Settings
from pipeline.specs import LoadedSpec, SpecSet
from pipeline.stages import export_key, pixelate_key

__all__ = ["SpriteState", "manifest_is_current", "sprite_state", "sprite_states"]

Status = Literal["up to date", "stale", "missing"]


@dataclass(frozen=True)
class SpriteState:
    name: str
    status: Status
    reason: str
    loaded: LoadedSpec
    request: GenerationRequest
    record: SpriteRecord | None


def _payload_diff(old: dict[str, object], new: dict[str, object]) -> str:
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(changed) if changed else "backend version"


def _file_sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def sprite_state(settings: Settings, loaded: LoadedSpec, request: GenerationRequest) -> SpriteState:
    spec = loaded.spec
    rec = read_record(settings.state_dir, spec.name)

    def state(status: Status, reason: str) -> SpriteState:
        return SpriteState(spec.name, status, reason, loaded, request, rec)

    if rec is None:
        return state("missing", "never built")
    if rec.keys.generate != request.key:
        return state("stale", f"generation inputs changed: {_payload_diff(rec.generate_payload, request.payload)}")
    if rec.keys.pixelate != pixelate_key(rec.raw_sha256, spec):
        return state("stale", "pixel settings changed (size, palette, alpha, outline, dither or animation)")
    if rec.keys.export != export_key(rec.pixel_sha256, spec):
        return state("stale", "output path or manifest fields changed (path, name, fps, prompt text, ...)")
    png = settings.assets_dir / spec.output_path
    sha = _file_sha(png)
    if sha is None:
        return state("stale", f"{spec.output_path} is missing from the Bevy folder")
    if sha != rec.png_sha256:
        return state("stale", f"{spec.output_path} was modified in the Bevy folder")
    meta = png.with_name(png.name + ".meta")
    if _file_sha(meta) != hashlib.sha256(IMAGE_META.encode()).hexdigest():
        return state("stale", f"{spec.output_path}.meta is missing or modified")
    return state("up to date", "")


def sprite_states(
    settings: Settings, spec_set: SpecSet, requests: dict[str, GenerationRequest], names: list[str] | None = None
) -> list[SpriteState]:
    chosen = names if names is not None else list(spec_set.specs)
    return [sprite_state(settings, spec_set.specs[n], requests[n]) for n in chosen]


def manifest_is_current(settings: Settings, spec_set: SpecSet) -> bool:
    """True when the manifest lists exactly the recorded entries of the current specs."""
    try:
        manifest = Manifest.model_validate_json((settings.assets_dir / MANIFEST_PATH).read_bytes())
    except (OSError, ValueError):
        return False
    listed = {e.name: e for e in manifest.sprites}
    if set(listed) != set(spec_set.specs):
        return False
    for name, entry in listed.items():
        rec = read_record(settings.state_dir, name)
        if rec is None or rec.entry != entry:
            return False
    return True
