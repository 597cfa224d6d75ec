"""Spec files written by the MCP server: ``sprite_specs/mcp/<name>.yaml``, one sprite per file.

Rules (each enforced here, not by the tools):

* a name is a slug (the spec model's pattern), derived from the prompt when absent and made unique;
* a file is written atomically and never replaces another file unless the caller said ``overwrite``;
  a sprite defined by a person (outside ``mcp/``) is never rewritten, overwrite or not;
* after writing, the whole spec set is loaded again; a spec that breaks it is removed (or the previous
  file restored) and the problems are raised as a ``SpecError``.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.export.atomic import file_mode
from pipeline.core.specs import SpecSet, SpriteSpec, load_specs
from pipeline.errors import SpecError, SpecProblem
from pipeline.settings import Settings
from pipeline.state.lockfile import OldLockError, read_lock

__all__ = [
    "MCP_FOLDER",
    "MODELINE",
    "NameTaken",
    "SpecWrite",
    "derive_name",
    "render_spec",
    "rollback",
    "spec_path",
    "validate_written",
    "write_spec",
]

MCP_FOLDER = "mcp"
MODELINE = "# yaml-language-server: $schema=../sprite-spec.schema.json\n"
HEADER = "# Written by the sprites MCP server; edit freely, it is an ordinary spec now.\n"
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "with",
        "and",
        "in",
        "on",
        "for",
        "to",
        "me",
        "make",
        "create",
        "draw",
        "generate",
        "please",
        "pixel",
        "art",
        "sprite",
        "sprites",
        "game",
        "style",
        "image",
        "picture",
        "small",
        "tiny",
        "little",
        "some",
        "px",
        "palette",
        "using",
    }
)
_MAX_SLUG = 40


class NameTaken(SpecError):
    """The requested name belongs to another sprite (or file) and may not be replaced."""

    def __str__(self) -> str:
        return "; ".join(f"{p.field or 'name'}: {p.message}" for p in self.problems)


@dataclass
class SpecWrite:
    """A spec file this server wrote (or found identical), with what to restore if it must be undone."""

    name: str
    path: Path
    relative: str  # relative to the specs folder, posix: mcp/<name>.yaml
    written: bool  # False: an identical file was already there
    previous: bytes | None = None  # bytes replaced by an overwrite


def spec_path(settings: Settings, name: str) -> Path:
    return settings.specs_dir / MCP_FOLDER / f"{name}.yaml"


def derive_name(prompt: str) -> str:
    """A slug from the prompt's first meaningful words: 'a 32x32 green goblin, rusty dagger' -> 'green-goblin-rusty'."""
    text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode().lower()
    words = [
        w
        for w in re.findall(r"[a-z0-9]+", text)
        if w not in _STOPWORDS and not re.fullmatch(r"\d+x\d+|\d+", w) and len(w) > 1
    ]
    slug = ""
    for word in words[:4]:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > _MAX_SLUG:
            break
        slug = candidate
    return slug or "sprite"


def render_spec(body: dict[str, Any]) -> bytes:
    """The YAML text of one sprite (keys in the order given), with the schema modeline."""
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    return (MODELINE + HEADER + text).encode()


def _owned_output_conflict(settings: Settings, name: str, output_path: str) -> str | None:
    """A file already in the Bevy folder at ``output_path`` that this pipeline did not write for ``name``."""
    target = settings.assets_dir / output_path
    if not target.exists():
        return None
    try:
        lock = read_lock(settings)
    except OldLockError:
        lock = None
    record = lock.sprites.get(name) if lock else None
    if record is not None and record.entry.path == output_path:
        return None
    return f"{output_path} already exists in the Bevy assets folder and was not exported for sprite '{name}'"


def _taken_reason(settings: Settings, spec_set: SpecSet, name: str, data: bytes) -> tuple[str | None, bool]:
    """(why ``name`` cannot be written with ``data`` without overwrite, whether an overwrite may fix it)."""
    path = spec_path(settings, name)
    loaded = spec_set.specs.get(name)
    relative = f"{MCP_FOLDER}/{name}.yaml"
    if loaded is not None and loaded.file != relative:
        return (
            f"sprite '{name}' already exists in sprite_specs/{loaded.file}:{loaded.line}, a spec not written by "
            f"the MCP server; choose another name (or use materialize / view_sprite for that sprite)",
            False,
        )
    if path.exists():
        if path.read_bytes() == data:
            return None, True
        return f"sprite '{name}' already exists (sprite_specs/{relative}) with different settings", True
    return None, True


def write_spec(
    settings: Settings,
    spec_set: SpecSet,
    body: dict[str, Any],
    *,
    overwrite: bool = False,
    derived: bool = False,
    taken: set[str] | None = None,
) -> SpecWrite:
    """Write ``body`` (a sprite mapping with ``name``) to ``sprite_specs/mcp/<name>.yaml``.

    With ``derived``, ``name`` is a base: an existing identical spec is reused, otherwise the first free
    ``name``, ``name-2``, ... is taken (``taken`` adds names reserved by the caller, e.g. in a batch).
    Raises ``NameTaken`` (a SpecError) instead of replacing anything without ``overwrite``.
    """
    base = str(body["name"])
    reserved = taken or set()
    candidates = [base] if not derived else [base] + [f"{base[: _MAX_SLUG + 20]}-{i}" for i in range(2, 200)]
    for name in candidates:
        if derived and name in reserved:
            continue
        candidate = {**body, "name": name}
        data = render_spec(candidate)
        reason, fixable = _taken_reason(settings, spec_set, name, data)
        spec = SpriteSpec.model_validate(candidate, context={"categories": spec_set.categories})
        conflict = _owned_output_conflict(settings, name, spec.output_path)
        if derived and (reason or conflict):
            continue
        if reason and not (overwrite and fixable):
            hint = "; pass overwrite=true to replace it" if fixable else ""
            raise NameTaken([SpecProblem(f"{MCP_FOLDER}/{name}.yaml", reason + hint, field="name")])
        if conflict and not overwrite:
            problem = SpecProblem(f"{MCP_FOLDER}/{name}.yaml", conflict + "; pass overwrite=true to replace it")
            raise NameTaken([problem])
        return _write(settings, name, data, overwrite=overwrite)
    raise NameTaken([SpecProblem(MCP_FOLDER, f"no free name derived from '{base}'; pass an explicit name")])


def _write(settings: Settings, name: str, data: bytes, *, overwrite: bool) -> SpecWrite:
    path = spec_path(settings, name)
    relative = f"{MCP_FOLDER}/{name}.yaml"
    previous = path.read_bytes() if path.exists() else None
    if previous == data:
        return SpecWrite(name, path, relative, written=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    # temp file in the same folder (same filesystem); its suffix is not .yaml, so the loader never sees it
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())  # a spec file like any the team writes, not mkstemp's 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if previous is None:
            try:
                os.link(tmp, path)  # fails if someone created the file meanwhile: never clobber
            except FileExistsError:
                raise NameTaken(
                    [SpecProblem(relative, f"sprite_specs/{relative} appeared while writing; try again", field="name")]
                ) from None
        elif overwrite:
            os.replace(tmp, path)
            tmp = ""
        else:  # pragma: no cover - write_spec checks this first
            raise NameTaken([SpecProblem(relative, "exists; pass overwrite=true", field="name")])
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return SpecWrite(name, path, relative, written=True, previous=previous)


def rollback(write: SpecWrite) -> None:
    """Undo a write: restore the previous bytes, or remove the new file."""
    if not write.written:
        return
    if write.previous is None:
        with contextlib.suppress(FileNotFoundError):
            write.path.unlink()
        with contextlib.suppress(OSError):
            write.path.parent.rmdir()  # only when empty
    else:
        tmp = write.path.with_name(f".{write.name}.restore.tmp")
        tmp.write_bytes(write.previous)
        os.replace(tmp, write.path)


def validate_written(settings: Settings, writes: list[SpecWrite]) -> tuple[SpecSet, dict[str, SpecError]]:
    """Load the whole spec set again; undo every write whose file has a problem (and any write at all when
    the set is broken elsewhere). Returns the valid set and, per rejected name, its problems."""
    rejected: dict[str, SpecError] = {}
    for _ in range(2):
        try:
            return load_specs(settings.specs_dir), rejected
        except SpecError as exc:
            ours = {w.relative: w for w in writes if w.name not in rejected}
            blamed = {p.file for p in exc.problems} & set(ours)
            if not blamed:
                # broken by something else (or by a duplicate our file caused elsewhere): undo all of ours
                blamed = set(ours)
            for rel in blamed:
                write = ours[rel]
                rollback(write)
                mine = [p for p in exc.problems if p.file == rel] or exc.problems
                rejected[write.name] = SpecError(mine)
    return load_specs(settings.specs_dir), rejected
