"""Load every sprite spec under a folder, reporting *all* problems at once with file, line and field.

Layout of ``sprite_specs/``:

* ``_defaults.yaml``: ``defaults:`` merged under every sprite (so a spec can be three lines long), and
  ``categories:``, the project's list of categories (``pipeline.core.specs.categories``).
* any other ``*.yaml``/``*.yml`` (nested folders allowed): either one sprite (a mapping with ``name``)
  or ``{defaults: {...}, sprites: [...]}`` with file-level defaults.

Merging is deep for mappings; lists and scalars in a sprite replace the default.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.core.specs.categories import DEFAULTS_FILE, Categories, categories_from_defaults
from pipeline.core.specs.model import SpriteSpec
from pipeline.core.specs.parse_cache import ParseCache
from pipeline.core.specs.yaml_lines import Origin, SourceDict, load_yaml_file, read_spec_bytes
from pipeline.errors import SpecError, SpecProblem

__all__ = ["DEFAULTS_FILE", "LoadedSpec", "SpecSet", "iter_spec_files", "load_spec_set", "load_specs"]


@dataclass(frozen=True)
class LoadedSpec:
    spec: SpriteSpec
    file: str  # relative to the specs folder, posix
    line: int

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class SpecSet:
    """All valid specs of a project, by name, plus the hash of every file they came from.

    ``problems``: what is wrong with the specs that are *not* in ``specs`` (only ``load_spec_set`` returns
    a set with problems; ``load_specs`` raises them instead).
    """

    specs: dict[str, LoadedSpec]
    file_hashes: dict[str, str]
    categories: Categories = field(default_factory=Categories)
    problems: tuple[SpecProblem, ...] = ()

    def __iter__(self) -> Iterator[LoadedSpec]:
        return iter(self.specs.values())

    def __len__(self) -> int:
        return len(self.specs)


def _spec_files(specs_dir: Path) -> list[tuple[str, Path]]:
    """(label, path) of every spec YAML file under ``specs_dir``, in path order, skipping hidden names."""
    found: list[tuple[tuple[str, ...], Path]] = []
    for dirpath, dirnames, filenames in os.walk(specs_dir):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = os.path.relpath(dirpath, specs_dir)
        parts = () if rel == "." else tuple(rel.split(os.sep))
        found += [
            ((*parts, f), Path(dirpath, f))
            for f in filenames
            if f.endswith((".yaml", ".yml")) and not f.startswith(".")
        ]
    found.sort(key=lambda item: item[0])  # the order of sorted(Path, ...): part by part
    return [("/".join(parts), path) for parts, path in found]


def iter_spec_files(specs_dir: Path) -> list[Path]:
    """Spec YAML files under ``specs_dir``, sorted, skipping hidden folders and files."""
    return [path for _label, path in _spec_files(Path(specs_dir))]


def _merge(base: Any, override: Any) -> Any:
    """Deep-merge mappings (keeping each key's origin); anything else in ``override`` wins."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    out = SourceDict()
    out.origin = getattr(override, "origin", getattr(base, "origin", ("?", 0)))
    out.origins = {}
    for src in (base, override):
        for k, v in src.items():
            out[k] = _merge(out[k], v) if k in out else v
            origin = getattr(src, "origins", {}).get(k)
            if origin:
                out.origins[k] = origin
    return out


def _origin_of(data: Any, loc: Iterable[Any], fallback: Origin) -> Origin:
    origin = fallback
    node = data
    for step in loc:
        origins = getattr(node, "origins", None)
        if isinstance(node, dict) and step in node:
            origin = origins.get(step, origin) if origins else origin
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            origin = origins[step] if origins else origin
            node = node[step]
        else:
            break
    return origin


def _describe(err: dict[str, Any], data: Any) -> tuple[list[Any], str]:
    """A pydantic error -> (location, readable message with what is allowed)."""
    loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p[:1].isupper()))]
    kind = err["type"]
    msg = err["msg"]
    if kind == "extra_forbidden":
        field = loc[-1] if loc else "?"
        parent: Any = SpriteSpec
        for step in loc[:-1]:
            annotation = getattr(parent, "model_fields", {}).get(step)
            parent = getattr(annotation, "annotation", None)
        allowed = sorted(getattr(parent, "model_fields", {}) or [])
        near = difflib.get_close_matches(str(field), allowed, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        return loc, f"unknown field '{field}'{hint}; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return loc, "is required"
    if kind.startswith("value_error"):
        msg = msg.removeprefix("Value error, ")
    value = err.get("input")
    if isinstance(value, str | int | float) and not isinstance(value, bool) and kind != "value_error":
        shown = repr(value) if len(repr(value)) < 60 else repr(value)[:57] + "...'"
        msg = f"{msg} (got {shown})"
    return loc, msg


@dataclass(frozen=True)
class _Cached:
    """A sprite from the parse cache: its merged raw data and the line of its spec."""

    merged: dict[str, Any]
    line: int


def load_specs(specs_dir: Path, parse_cache: Path | None = None) -> SpecSet:
    """Parse and validate every spec under ``specs_dir``. Raises SpecError listing every problem.

    ``parse_cache``: a file to keep parsed specs in between runs (``pipeline.core.specs.parse_cache``)."""
    spec_set = load_spec_set(specs_dir, parse_cache)
    if spec_set.problems:
        raise SpecError(list(spec_set.problems))
    return spec_set


def load_spec_set(specs_dir: Path, parse_cache: Path | None = None) -> SpecSet:
    """Every valid spec under ``specs_dir``, and the problems of the others (never raises for bad specs).

    What a long-running process (the Dagster code location) loads: one typo must not hide the other
    sprites. A sprite is left out when its own entry is invalid, when its file does not parse or has a
    bad top level, or when it repeats another sprite's name or output path; every sprite is left out
    when ``_defaults.yaml`` has a problem, since each one's values depend on it.
    """
    specs_dir = Path(specs_dir)
    problems: list[SpecProblem] = []
    if not specs_dir.is_dir():
        return SpecSet({}, {}, problems=(SpecProblem(str(specs_dir), "spec folder does not exist"),))

    hashes: dict[str, str] = {}
    project_defaults: Any = {}
    categories = Categories()
    defaults_path = specs_dir / DEFAULTS_FILE
    if defaults_path.is_file():
        raw_bytes, errs = read_spec_bytes(defaults_path, DEFAULTS_FILE)
        if raw_bytes is not None:
            hashes[DEFAULTS_FILE] = hashlib.sha256(raw_bytes).hexdigest()
            data, errs = load_yaml_file(defaults_path, DEFAULTS_FILE, raw_bytes)
        else:
            data = None
        problems += errs
        top = {"defaults", "categories"}
        if isinstance(data, dict) and set(data) <= top and isinstance(data.get("defaults", {}), dict):
            project_defaults = data.get("defaults", {})
            categories, errs = categories_from_defaults(data)
            problems += errs
        elif data is not None:
            extra = sorted(set(data) - top) if isinstance(data, dict) else []
            line = _origin_of(data, extra[:1], (DEFAULTS_FILE, 1))[1]
            found = f" (found {', '.join(map(str, extra))})" if extra else ""
            problems.append(
                SpecProblem(DEFAULTS_FILE, f"must be a mapping of 'defaults' and 'categories'{found}", line=line)
            )
    context = {"categories": categories}
    defaults_broken = bool(problems)
    cache = ParseCache(None if defaults_broken else parse_cache, hashes.get(DEFAULTS_FILE, ""))
    parsed: dict[str, list[tuple[Any, int]]] = {}  # file -> its sprites merged (what the cache keeps)

    raw_sprites: list[tuple[str, Any, Any]] = []  # (file, raw sprite, merged defaults)
    for label, path in _spec_files(specs_dir):
        if label == DEFAULTS_FILE:
            continue
        raw_bytes, errs = read_spec_bytes(path, label)
        if raw_bytes is None:
            problems += errs
            continue
        hashes[label] = hashlib.sha256(raw_bytes).hexdigest()
        hit = cache.get(label, hashes[label])
        if hit is not None:
            raw_sprites += [(label, _Cached(merged, line), None) for merged, line in hit]
            continue
        parsed[label] = []
        data, errs = load_yaml_file(path, label, raw_bytes)
        if errs:
            problems += errs
            continue
        if data is None:
            problems.append(SpecProblem(label, "file is empty; remove it or add a sprite"))
            continue
        if not isinstance(data, dict):
            problems.append(SpecProblem(label, "must be a sprite (a mapping) or {defaults, sprites: [...]}", line=1))
            continue
        if "sprites" in data:
            extra = sorted(set(data) - {"sprites", "defaults"})
            if extra:
                problems.append(
                    SpecProblem(
                        label,
                        f"unknown top-level key(s) {extra}; allowed: defaults, sprites",
                        line=_origin_of(data, [extra[0]], (label, 1))[1],
                    )
                )
            file_defaults = data.get("defaults") or {}
            sprites = data["sprites"]
            if not isinstance(sprites, list) or not isinstance(file_defaults, dict):
                problems.append(
                    SpecProblem(
                        label,
                        "'sprites' must be a list and 'defaults' a mapping",
                        line=_origin_of(data, ["sprites"], (label, 1))[1],
                    )
                )
                continue
            defaults = _merge(project_defaults, file_defaults)
            raw_sprites += [(label, s, defaults) for s in sprites]
        else:
            raw_sprites.append((label, data, project_defaults))

    specs: dict[str, LoadedSpec] = {}
    outputs: dict[str, LoadedSpec] = {}
    for label, raw, defaults in raw_sprites:
        if isinstance(raw, _Cached):
            merged, origin = raw.merged, (label, raw.line)
        elif not isinstance(raw, dict):
            problems.append(
                SpecProblem(label, "each sprite must be a mapping", line=getattr(raw, "origin", (0, None))[1])
            )
            continue
        else:
            merged = _merge(defaults, raw)
            origin = getattr(raw, "origin", (label, 1))
            parsed[label].append((merged, origin[1]))
        sprite_name = merged.get("name") if isinstance(merged.get("name"), str) else None
        try:
            spec = SpriteSpec.model_validate(merged, context=context)
        except ValidationError as exc:
            if isinstance(raw, _Cached):  # the model changed under the cache: parse for the lines of the errors
                return load_spec_set(specs_dir)
            seen: set[tuple[Any, ...]] = set()
            for err in exc.errors():
                loc, msg = _describe(dict(err), merged)
                file, line = _origin_of(merged, loc, origin)
                key = (file, line, tuple(loc), msg)
                if key in seen:
                    continue
                seen.add(key)
                problems.append(
                    SpecProblem(file, msg, line=line, sprite=sprite_name, field=".".join(str(p) for p in loc) or None)
                )
            continue
        loaded = LoadedSpec(spec=spec, file=label, line=origin[1])
        if spec.name in specs:
            first = specs[spec.name]
            problems.append(
                SpecProblem(
                    label,
                    f"duplicate sprite name '{spec.name}': also defined at {first.file}:{first.line}",
                    line=origin[1],
                    sprite=spec.name,
                    field="name",
                )
            )
            continue
        if spec.output_path in outputs:
            other = outputs[spec.output_path]
            problems.append(
                SpecProblem(
                    label,
                    f"output path '{spec.output_path}' is also used by sprite "
                    f"'{other.name}' ({other.file}:{other.line})",
                    line=origin[1],
                    sprite=spec.name,
                    field="output.path",
                )
            )
            continue
        specs[spec.name] = loaded
        outputs[spec.output_path] = loaded

    if defaults_broken:
        specs = {}
    else:
        troubled = {p.file for p in problems}
        loaded_from = Counter(loaded.file for loaded in specs.values())
        for label, sprites in parsed.items():  # only files whose every sprite loaded
            if label not in troubled and loaded_from[label] == len(sprites):
                cache.put(label, hashes[label], sprites)
        cache.keep_only(set(hashes))
        cache.save()
    return SpecSet(
        specs=dict(sorted(specs.items())), file_hashes=hashes, categories=categories, problems=tuple(problems)
    )
