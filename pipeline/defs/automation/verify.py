"""What the asset checks verify, as plain functions over bytes, specs and lock entries (no Dagster import).

Each function returns a ``Finding``: passed or not, one sentence a user can act on, and the numbers
behind it. ``checks.py`` turns them into Dagster ``AssetCheckResult``s.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pipeline.core.export.manifest import MANIFEST_PATH, Manifest, manifest_json
from pipeline.core.pixelate.palettes import NAMED_PALETTES, normalize_hex
from pipeline.core.specs.model import AdaptivePalette, SpriteSpec
from pipeline.state.lockfile import Lock, LockEntry

__all__ = [
    "Finding",
    "PngFacts",
    "alpha_finding",
    "file_hash_finding",
    "manifest_complete_finding",
    "orphan_files_finding",
    "palette_finding",
    "png_facts",
    "read_manifest",
    "size_and_frames_finding",
]

_LIST_LIMIT = 20


@dataclass(frozen=True)
class Finding:
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PngFacts:
    """What the checks need to know about one exported PNG."""

    width: int
    height: int
    colours: frozenset[str]  # '#rrggbb' of every pixel that is not fully transparent
    alpha_values: frozenset[int]
    sha256: str


def png_facts(data: bytes) -> PngFacts:
    """Decode a PNG (raises ``ValueError`` when it is not one)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgba = np.asarray(im.convert("RGBA"))
    except OSError as exc:
        raise ValueError(f"not a readable PNG: {exc}") from exc
    alpha = rgba[..., 3]
    visible = rgba[alpha > 0][:, :3]
    packed = np.unique((visible[:, 0].astype(np.uint32) << 16) | (visible[:, 1].astype(np.uint32) << 8) | visible[:, 2])
    return PngFacts(
        width=int(rgba.shape[1]),
        height=int(rgba.shape[0]),
        colours=frozenset(f"#{int(v):06x}" for v in packed),
        alpha_values=frozenset(int(v) for v in np.unique(alpha)),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _listed(items: list[str]) -> str:
    return ", ".join(items[:_LIST_LIMIT]) + (
        f" and {len(items) - _LIST_LIMIT} more" if len(items) > _LIST_LIMIT else ""
    )


def size_and_frames_finding(spec: SpriteSpec, facts: PngFacts, record: LockEntry | None) -> Finding:
    """The sheet is frames x size as the spec asks, and the manifest entry says so too."""
    anim = spec.animation
    want_w, want_h = spec.sheet_size
    problems = []
    if (facts.width, facts.height) != (want_w, want_h):
        problems.append(
            f"sheet is {facts.width}x{facts.height}, the spec asks for {want_w}x{want_h} "
            f"({anim.frames} frame(s) of {spec.size} in {anim.sheet_columns} column(s))"
        )
    if record is not None:
        entry = record.entry
        if entry.frames != anim.frames:
            problems.append(f"manifest entry says {entry.frames} frame(s), the spec {anim.frames}")
        if (entry.atlas.tile_width, entry.atlas.tile_height) != (spec.size.width, spec.size.height):
            problems.append(f"atlas tiles are {entry.atlas.tile_width}x{entry.atlas.tile_height}, the spec {spec.size}")
        if (entry.atlas.columns, entry.atlas.rows) != (anim.sheet_columns, anim.sheet_rows):
            problems.append(
                f"atlas is {entry.atlas.columns}x{entry.atlas.rows} tiles, the spec "
                f"{anim.sheet_columns}x{anim.sheet_rows}"
            )
    meta = {"sheet": f"{facts.width}x{facts.height}", "expected": f"{want_w}x{want_h}", "frames": anim.frames}
    if problems:
        return Finding(False, "; ".join(problems), meta)
    return Finding(True, f"{anim.frames} frame(s) of {spec.size} in a {want_w}x{want_h} sheet", meta)


def allowed_colours(spec: SpriteSpec) -> tuple[frozenset[str] | None, int]:
    """(the colours a pixel may have, or None when any colour may be chosen; how many at most)."""
    outline = {normalize_hex(spec.pixel.outline)} if spec.pixel.outline else set()
    if isinstance(spec.palette, AdaptivePalette):
        return None, spec.palette.adaptive + len(outline)
    colours = NAMED_PALETTES[spec.palette] if isinstance(spec.palette, str) else spec.palette
    allowed = frozenset(normalize_hex(c) for c in colours) | outline
    return allowed, len(allowed)


def palette_finding(spec: SpriteSpec, facts: PngFacts) -> Finding:
    """Every visible pixel is a palette colour (or the outline), and no more colours are used than allowed."""
    allowed, limit = allowed_colours(spec)
    used = sorted(facts.colours)
    meta: dict[str, Any] = {"colours_used": len(used), "colour_limit": limit}
    label = spec.palette if isinstance(spec.palette, str) else "the spec's palette"
    if allowed is not None:
        foreign = sorted(set(used) - allowed)
        if foreign:
            meta["foreign_colours"] = foreign[:_LIST_LIMIT]
            return Finding(False, f"{len(foreign)} colour(s) not in {label}: {_listed(foreign)}", meta)
    if len(used) > limit:
        return Finding(False, f"{len(used)} colours used, the palette allows {limit}", meta)
    return Finding(True, f"{len(used)} of at most {limit} colours, all from {label}", meta)


def alpha_finding(facts: PngFacts) -> Finding:
    """Pixel art has no half-transparent pixels: alpha is 0 or 255."""
    partial = sorted(facts.alpha_values - {0, 255})
    meta = {"alpha_values": len(facts.alpha_values)}
    if partial:
        return Finding(
            False, f"{len(partial)} partial alpha value(s), e.g. {partial[:5]}; expected only 0 and 255", meta
        )
    return Finding(True, "alpha is binary (0 or 255)", meta)


def file_hash_finding(path: str, actual: str | None, materialized: str | None) -> Finding:
    """The file in the Bevy folder still holds the bytes its last materialization wrote."""
    meta = {"path": path, "file_sha256": actual or "", "materialized_sha256": materialized or ""}
    if materialized is None:
        return Finding(False, f"{path}: no materialization recorded a sha256 for it", meta)
    if actual is None:
        return Finding(False, f"{path} is missing from the Bevy folder (materialize this sprite again)", meta)
    if actual != materialized:
        return Finding(False, f"{path} was changed after it was materialized (materialize this sprite again)", meta)
    return Finding(True, f"{path} holds the materialized bytes", meta)


def read_manifest(assets_dir: Path) -> Manifest | None:
    try:
        return Manifest.model_validate_json((Path(assets_dir) / MANIFEST_PATH).read_bytes())
    except (OSError, ValueError):
        return None


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def manifest_complete_finding(assets_dir: Path, spec_names: list[str]) -> Finding:
    """The manifest lists every spec, nothing else, and every listed file holds the listed bytes."""
    manifest = read_manifest(assets_dir)
    if manifest is None:
        return Finding(False, f"{MANIFEST_PATH} is missing or unreadable", {"specs": len(spec_names)})
    listed = {e.name: e for e in manifest.sprites}
    missing = sorted(set(spec_names) - set(listed))
    extra = sorted(set(listed) - set(spec_names))
    broken = sorted(e.path for e in manifest.sprites if _sha(Path(assets_dir) / e.path) != e.sha256)
    meta: dict[str, Any] = {"specs": len(spec_names), "listed": len(listed)}
    problems = []
    if missing:
        meta["missing"] = missing[:_LIST_LIMIT]
        problems.append(f"{len(missing)} spec(s) not listed: {_listed(missing)}")
    if extra:
        meta["without_spec"] = extra[:_LIST_LIMIT]
        problems.append(f"{len(extra)} listed without a spec: {_listed(extra)}")
    if broken:
        meta["files_differ"] = broken[:_LIST_LIMIT]
        problems.append(f"{len(broken)} listed file(s) missing or changed: {_listed(broken)}")
    if problems:
        return Finding(False, "; ".join(problems), meta)
    return Finding(True, f"lists all {len(spec_names)} specs; every file matches its entry", meta)


def _listed_paths(assets_dir: Path) -> set[str]:
    """The ``path`` of every manifest entry (read as plain JSON: 2000 validated entries cost a tenth of a
    second, and whether the entries are right is ``manifest_finding``'s question)."""
    data = manifest_json(assets_dir / MANIFEST_PATH)
    sprites = data.get("sprites") if isinstance(data, dict) else None
    rows = sprites if isinstance(sprites, list) else []
    return {e["path"] for e in rows if isinstance(e, dict) and isinstance(e.get("path"), str)}


def orphan_files_finding(assets_dir: Path, lock: Lock | None, spec_names: list[str]) -> Finding:
    """No sprite files the manifest does not list: neither of deleted specs nor stray PNGs in its folder."""
    assets_dir = Path(assets_dir)
    listed = _listed_paths(assets_dir)
    orphans = {
        rec.entry.path
        for name, rec in (lock.sprites if lock else {}).items()
        if name not in spec_names and rec.entry.path not in listed and (assets_dir / rec.entry.path).exists()
    }
    managed = (assets_dir / MANIFEST_PATH).parent
    for dirpath, _dirs, files in os.walk(managed):
        prefix = Path(dirpath).relative_to(assets_dir).as_posix()
        orphans.update(rel for f in files if f.endswith(".png") and (rel := f"{prefix}/{f}") not in listed)
    found = sorted(orphans)
    meta: dict[str, Any] = {"orphans": len(found)}
    if found:
        meta["files"] = found[:_LIST_LIMIT]
        return Finding(
            False,
            f"{len(found)} sprite file(s) not in the manifest: {_listed(found)}. Materializing bevy/manifest "
            "removes those the pipeline wrote for deleted specs; files edited by hand are left for you.",
            meta,
        )
    return Finding(True, "every sprite file in the Bevy folder is listed in the manifest", meta)
