"""The sprite manifest (``sprites/manifest.json`` in the assets folder) and bevy_asset_loader's ``.assets.ron``.

The manifest is rendered from ``sprites.lock``'s entries by the one publish step
(``pipeline.state.publish``), under its lock, so two builds finishing together can never drop each
other's entries. It is only rewritten when
its content changes; ``generated_at`` is then the build time, or ``SOURCE_DATE_EPOCH`` when that is set
(reproducible builds).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.core.export.atomic import AtomicBatch, safe_target

__all__ = [
    "ASSETS_RON_PATH",
    "MANIFEST_PATH",
    "MANIFEST_VERSION",
    "AtlasLayout",
    "Manifest",
    "ManifestEntry",
    "PaletteInfo",
    "manifest_json",
    "render_assets_ron",
    "serialize_manifest",
    "write_manifest",
]

MANIFEST_VERSION = "1.0"
MANIFEST_PATH = "sprites/manifest.json"
ASSETS_RON_PATH = "sprites/sprites.assets.ron"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AtlasLayout(_Model):
    """How frames sit in the sheet: ``TextureAtlasLayout::from_grid(UVec2(tile_w, tile_h), columns, rows, ..)``."""

    tile_width: int
    tile_height: int
    columns: int
    rows: int


class PaletteInfo(_Model):
    kind: Literal["named", "explicit", "adaptive"]
    name: str | None = None
    colors: list[str]


class ManifestEntry(_Model):
    """One exported sprite. The first seven fields are what the DGX-Pixels Bevy example's loader reads."""

    name: str
    path: str = Field(description="PNG path relative to the assets folder (what AssetServer::load takes)")
    category: str
    frames: int = Field(ge=1)
    resolution: tuple[int, int] = Field(description="[width, height] of one frame in pixels")
    prompt: str
    workflow: str
    negative_prompt: str
    fps: float
    atlas: AtlasLayout
    palette: PaletteInfo
    seed: int = Field(ge=0)
    backend: str
    input_hash: str = Field(description="Stage key of the export: changes whenever anything upstream changes")
    sha256: str = Field(description="sha256 of the PNG bytes")


class Manifest(_Model):
    version: str = MANIFEST_VERSION
    generated_at: str
    sprite_count: int
    sprites: list[ManifestEntry]


def _timestamp() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def render_assets_ron(entries: Iterable[ManifestEntry | dict[str, Any]]) -> str:
    """bevy_asset_loader dynamic assets: an Image (nearest) per sprite and a layout per sheet.

    Paths in a ``.assets.ron`` are relative to the assets folder, like the manifest's.
    """
    lines = ["({"]
    for item in entries:
        e = item.model_dump(mode="json") if isinstance(item, ManifestEntry) else item
        lines.append(f'    "{e["name"]}": Image(path: "{e["path"]}", sampler: Nearest),')
        if e["frames"] > 1:
            a = e["atlas"]
            lines.append(
                f'    "{e["name"]}.layout": TextureAtlasLayout(tile_size_x: {a["tile_width"]}, '
                f"tile_size_y: {a['tile_height']}, columns: {a['columns']}, rows: {a['rows']}),"
            )
    lines.append("})")
    return "\n".join(lines) + "\n"


_PARSED: dict[str, tuple[tuple[int, int, int], Any]] = {}


def manifest_json(path: Path) -> Any:
    """The manifest file parsed as plain JSON (None when missing or not JSON), read again only when its
    (size, mtime, inode) moved: a build's plan and its manifest checks all look at it, and at 2000 sprites
    each parse costs tens of milliseconds. The answer is shared: do not modify it."""
    key = str(path)
    try:
        st = os.stat(path)
        stat = (st.st_size, st.st_mtime_ns, st.st_ino)
        hit = _PARSED.get(key)
        if hit is not None and hit[0] == stat:
            return hit[1]
        data = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return None
    _PARSED.clear()  # one project's manifest at a time
    _PARSED[key] = (stat, data)
    return data


_HEAD_TIMESTAMP = re.compile(rb'^  "generated_at": ("[^"\\]*"),$', re.M)


def _existing_timestamp(data: bytes | None) -> str | None:
    """The manifest's ``generated_at``: from its head line when it is in ``serialize_manifest``'s layout (the
    caller compares the whole file with what it would write anyway), else from parsing all of it."""
    head = _HEAD_TIMESTAMP.search(data[:1024]) if data else None
    if head is not None:
        return str(json.loads(head.group(1)))
    try:
        value = json.loads(data).get("generated_at") if data else None
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def write_manifest(
    assets_dir: Path,
    scratch_dir: Path,
    entries: Iterable[ManifestEntry],
    dumped: Mapping[str, dict[str, Any]] | None = None,
    batch: AtomicBatch | None = None,
) -> tuple[Manifest, bool]:
    """Write the manifest and ``.assets.ron`` for ``entries`` (sorted by name). Returns (manifest, changed).

    ``dumped``: the entries' JSON form by name, when the caller has it already (2000 model dumps cost a
    tenth of a second). ``batch``: add the files to it (the caller commits them with its other files)
    instead of writing them now. Callers hold the publish lock (``pipeline.state.publish``). Nothing is
    written when the files already hold these entries.
    """
    own = batch is None
    batch = batch if batch is not None else AtomicBatch(scratch_dir)
    ordered = sorted(entries, key=lambda e: e.name)
    rows = [dumped[e.name] if dumped is not None else e.model_dump(mode="json") for e in ordered]
    target = safe_target(assets_dir, MANIFEST_PATH)
    ron_target = safe_target(assets_dir, ASSETS_RON_PATH)
    ron = render_assets_ron(rows).encode()
    current = _read(target)
    kept = _existing_timestamp(current)

    def document(when: str) -> bytes:
        head = {"version": MANIFEST_VERSION, "generated_at": when, "sprite_count": len(rows)}
        return serialize_manifest({**head, "sprites": rows})

    if kept is not None and document(kept) == current:  # unchanged entries keep the file, timestamp included
        when, changed = kept, False
    else:
        when, changed = _timestamp(), True
        batch.add(target, document(when))
    if _read(ron_target) != ron:
        batch.add(ron_target, ron)
        changed = True
    if own:
        batch.commit()
    return Manifest.model_construct(generated_at=when, sprite_count=len(rows), sprites=ordered), changed


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def serialize_manifest(data: dict[str, Any]) -> bytes:
    """The manifest's bytes: stable JSON with one sprite per line, so a committed manifest diffs by sprite
    (and it is written with the C encoder: indent= would fall back to the ten times slower Python one)."""
    head = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in data.items() if k != "sprites"]
    rows = [json.dumps(e, ensure_ascii=False, separators=(", ", ": ")) for e in data["sprites"]]
    body = ",\n".join(f"    {r}" for r in rows)
    return ("{\n" + "\n".join(head) + '\n  "sprites": [\n' + body + ("\n" if rows else "") + "  ]\n}\n").encode()
