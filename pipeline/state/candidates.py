"""Candidates: several seeds of one sprite, rendered and cached like any render, until a person picks one.

    spec ``candidates: {count: N, publish, picked}``
      -> N requests, the spec's own with seed ``base_seed + i`` (``candidate_requests``; candidate 0 is the
         spec's request without candidates, so adding ``candidates`` to a built sprite re-renders nothing)
      -> their renders, in the content cache under their own generation keys (the sprite's step renders all
         of them while no pick is made; ``renders_to_make``)
      -> a listing with the renders (``candidate_set``: the CLI, the MCP tools, the raw asset's previews)
      -> ``pick``: the chosen seed written into the spec file as ``candidates.picked`` (a one-line edit,
         ``pipeline.core.specs.edit``), so the choice is declarative, reviewed in git and rebuilt everywhere.

Picking never re-renders: the picked spec's request *is* the chosen candidate's (same seed, same key).
No Dagster import here; the asset, the CLI and the MCP tools are thin over these functions.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.generate import GenerationRequest, make_backend
from pipeline.core.generate.base import Backend
from pipeline.core.specs import LoadedSpec, SpecSet, SpriteSpec, load_specs
from pipeline.core.specs.edit import EditError, field_line, set_candidate_pick
from pipeline.errors import CandidateError, PixelateError, SpecError, SpecProblem
from pipeline.settings import Settings
from pipeline.state.cache import ContentCache
from pipeline.state.stages import RawOutput, pixelate_stage

__all__ = [
    "FIELD",
    "Candidate",
    "CandidateSet",
    "PickResult",
    "candidate_requests",
    "candidate_set",
    "candidate_specs",
    "collect",
    "pick",
    "preview_entries",
    "renders_to_make",
    "resolve_candidates",
    "write_previews",
]

FIELD = "candidates.picked"


@dataclass(frozen=True)
class Candidate:
    index: int
    seed: int
    request: GenerationRequest
    png: bytes | None  # its render (frame 0) from the cache; None: not rendered (or not in this cache)
    picked: bool
    published: bool  # what the Bevy folder gets: the pick, or candidate 0 under ``publish: first``
    pixel_png: bytes | None = None  # the pixel art it becomes (what would ship), cached like any pixel stage
    pixel_error: str | None = None  # why the pixel stage refused its render

    @property
    def label(self) -> str:
        marks = [m for m, on in (("picked", self.picked), ("published", self.published)) if on]
        return f"candidate {self.index} (seed {self.seed})" + (f", {' and '.join(marks)}" if marks else "")


@dataclass(frozen=True)
class CandidateSet:
    loaded: LoadedSpec
    candidates: list[Candidate]

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def picked(self) -> Candidate | None:
        return next((c for c in self.candidates if c.picked), None)

    @property
    def missing(self) -> list[Candidate]:
        return [c for c in self.candidates if c.png is None]


@dataclass(frozen=True)
class PickResult:
    name: str
    spec_file: Path
    index: int
    seed: int
    changed: bool  # False: the spec already said so
    spec_set: SpecSet  # the specs as loaded after the edit


def _problem(loaded: LoadedSpec, message: str, field: str = FIELD, text: str | None = None) -> CandidateError:
    """An error naming the spec file, the line of its ``candidates`` (else of the sprite) and the field."""
    line = field_line(text, loaded.name, "candidates") if text is not None else None
    problem = SpecProblem(loaded.file, message, line=line or loaded.line, sprite=loaded.name, field=field)
    return CandidateError(problem)


def candidate_specs(spec: SpriteSpec) -> list[SpriteSpec]:
    """The spec once per candidate seed, as the backends resolve it (a plain spec with that seed)."""
    return [spec.model_copy(update={"seed": seed, "candidates": None}) for seed in spec.candidate_seeds]


def candidate_requests(spec: SpriteSpec, backend: Backend, settings: Settings) -> list[GenerationRequest]:
    """The generation request of every candidate, in order (empty without ``candidates``). Pure."""
    return [backend.resolve(s, settings) for s in candidate_specs(spec)]


def resolve_candidates(
    spec_set: SpecSet, settings: Settings, names: list[str] | None = None
) -> dict[str, list[GenerationRequest]]:
    """Every candidate request of the sprites (of ``names``) that have ``candidates``, by sprite name."""
    backends: dict[str, Backend] = {}
    out: dict[str, list[GenerationRequest]] = {}
    for loaded in spec_set if names is None else (spec_set.specs[n] for n in names):
        if loaded.spec.candidates is None:
            continue
        kind = settings.backend or loaded.spec.generation.backend
        if kind not in backends:
            backends[kind] = make_backend(kind, settings)
        out[loaded.name] = candidate_requests(loaded.spec, backends[kind], settings)
    return out


def renders_to_make(
    spec: SpriteSpec, requests: list[GenerationRequest], own: GenerationRequest
) -> list[GenerationRequest]:
    """Which candidate renders a build of ``spec`` makes besides its own request: all of them until a pick
    is made; after it none (the pick is the sprite's own request; the others stay in the cache, if there)."""
    if spec.candidates is None or spec.candidates.picked is not None:
        return []
    return [r for r in requests if r.key != own.key]


def candidate_set(settings: Settings, spec_set: SpecSet, name: str, cache: ContentCache | None = None) -> CandidateSet:
    """The candidates of sprite ``name`` with their renders as far as the cache has them."""
    loaded = _require(spec_set, name)
    spec = loaded.spec
    if spec.candidates is None:
        raise _problem(
            loaded,
            "has no candidates; add `candidates: 4` to its spec, build it, then pick one",
            field="candidates",
        )
    requests = resolve_candidates(spec_set, settings, [name])[name]
    return collect(loaded, requests, cache or ContentCache(settings.cache_dir))


def collect(loaded: LoadedSpec, requests: list[GenerationRequest], cache: ContentCache) -> CandidateSet:
    """The candidates of a sprite with ``candidates``, given their requests, with what the cache holds, and
    the pixel art each rendered one becomes (the pixel stage, cached by its key: after a pick, the chosen
    candidate's pixel stage is a cache hit too)."""
    spec = loaded.spec
    assert spec.candidates is not None
    picked = spec.candidates.picked
    shipped = picked if picked is not None else (spec.base_seed if spec.candidates.publish == "first" else None)
    out = []
    for i, (seed, request) in enumerate(zip(spec.candidate_seeds, requests, strict=True)):
        hit = cache.get("generate", request.key)
        png = pixel = error = None
        if hit is not None and hit.files:
            names = sorted(hit.files)
            png = hit.files[names[0]]
            raw = RawOutput(request.key, [hit.files[n] for n in names], [hit.hashes[n] for n in names], "hit", 0.0)
            try:
                pixel = pixelate_stage(spec, raw, cache).sheet_png
            except PixelateError as exc:
                error = str(exc)
        out.append(Candidate(i, seed, request, png, picked == seed, shipped == seed, pixel, error))
    return CandidateSet(loaded, out)


def preview_entries(candidates: CandidateSet) -> dict[str, str]:
    """The raw asset's metadata for the UI: one markdown image per rendered candidate (short enough to show
    inline) and a line saying which is picked and how to pick."""
    from pipeline.core.previews import preview_markdown

    name = candidates.name
    out = {}
    for c in candidates.candidates:
        if c.pixel_png is not None:  # the pixel art: what would ship, and small enough to show crisply inline
            out[f"candidate_{c.index}"] = preview_markdown(c.pixel_png, f"{name} {c.label}")
        elif c.png is not None:
            out[f"candidate_{c.index}"] = f"{c.label}: the pixel stage refused its render: {c.pixel_error}"
        else:
            out[f"candidate_{c.index}"] = f"{c.label}: not rendered (in no cache here)"
    chosen = candidates.picked
    how = f"`sprites pick {name} N` (or the MCP tool pick_candidate) writes candidates.picked"
    out["candidates"] = (
        f"picked: candidate {chosen.index} (seed {chosen.seed}); {how}"
        if chosen is not None
        else f"no pick yet among {len(candidates.candidates)}; {how}"
    )
    return out


def _require(spec_set: SpecSet, name: str) -> LoadedSpec:
    loaded = spec_set.specs.get(name)
    if loaded is None:
        known = ", ".join(n for n, s in spec_set.specs.items() if s.spec.candidates is not None) or "none"
        raise CandidateError(
            SpecProblem("sprite_specs", f"no sprite named '{name}'; sprites with candidates: {known}", field="name")
        )
    return loaded


def write_previews(settings: Settings, candidates: CandidateSet) -> dict[int, list[Path]]:
    """Each rendered candidate as PNGs under ``<state>/candidates/<name>/`` (a cache folder), by index: its
    render (``<i>-seed<seed>.png``) and the pixel art it becomes (``...-pixel.png``)."""
    folder = settings.state_dir / "candidates" / candidates.name
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[int, list[Path]] = {}
    for c in candidates.candidates:
        if c.png is None:
            continue
        for suffix, data in (("", c.png), ("-pixel", c.pixel_png)):
            if data is None:
                continue
            path = folder / f"{c.index}-seed{c.seed}{suffix}.png"
            if not path.is_file() or path.read_bytes() != data:
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, path)
            out.setdefault(c.index, []).append(path)
    return out


def pick(settings: Settings, spec_set: SpecSet, name: str, index: int) -> PickResult:
    """Write candidate ``index``'s seed into the sprite's spec file as ``candidates.picked``.

    A one-line edit of the file (comments and layout kept), written atomically with the file's mode, then
    the specs are loaded again: a result that does not load as that pick is undone and reported.
    """
    loaded = _require(spec_set, name)
    spec = loaded.spec
    path = settings.specs_dir / loaded.file
    try:
        before = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _problem(loaded, f"cannot read the spec file: {getattr(exc, 'strerror', None) or exc}") from exc
    if spec.candidates is None:
        message = "has no candidates to pick from; add `candidates: 4` to its spec first"
        raise _problem(loaded, message, "candidates", before)
    seeds = spec.candidate_seeds
    if not 0 <= index < len(seeds):
        message = f"there is no candidate {index}: it has {len(seeds)} (0 to {len(seeds) - 1}; candidates.count)"
        raise _problem(loaded, message, text=before)
    seed = seeds[index]
    if spec.candidates.picked == seed:
        return PickResult(name, path, index, seed, False, spec_set)
    try:
        after = set_candidate_pick(before, name, seed, spec.candidates.count)
    except EditError as exc:
        message = f"cannot edit the spec file safely: {exc}; set `picked: {seed}` under candidates by hand"
        raise _problem(loaded, message, text=before) from exc
    _replace(path, after, loaded, seed, before)
    try:
        reloaded = load_specs(settings.specs_dir)
        ok = (got := reloaded.specs.get(name)) is not None and got.spec.effective_seed == seed
    except SpecError:
        ok, reloaded = False, spec_set
    if not ok:
        _replace(path, before, loaded, seed, before)
        message = f"the edited spec did not load as the pick; left unchanged: set `picked: {seed}` by hand"
        raise _problem(loaded, message, text=before)
    return PickResult(name, path, index, seed, True, reloaded)


def _replace(path: Path, text: str, loaded: LoadedSpec, seed: int, before: str) -> None:
    """Atomically replace ``path`` with ``text``, keeping its mode; a read-only file (no write bit, which is
    honoured even for root) or an unwritable folder is an error saying what to do."""
    hint = f"make it writable (chmod u+w), or set `picked: {seed}` under candidates yourself"
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise _problem(loaded, f"cannot read the spec file: {exc.strerror or exc}", text=before) from exc
    if not mode & 0o222:
        message = f"the spec file is read-only (mode {mode:o}); {hint}"
        raise _problem(loaded, message, text=before)
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = ""
    except OSError as exc:
        message = f"cannot write the spec file: {exc.strerror or exc}; {hint}"
        raise _problem(loaded, message, text=before) from exc
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
