"""Property test of the build-state layer: random edits interleaved with builds.

Edits: spec fields, the defaults file, a workflow template, an ``init_image``'s bytes, added, deleted
and renamed specs, deleted PNGs and ``.meta`` files, deleted cache entries and a deleted ``.sprites/``.
A build here is what a run does, without Dagster: plan with ``buildstate.status``, run the three stage
functions for what is not current, export-record each sprite, publish the run, record the fast path.

After every build every sprite is current and the lock is byte for byte the lock a from-scratch build of
the same inputs writes. After every edit, the no-op fast path never claims "nothing to do" while the
status says otherwise.

Two runs of the same property: with the real stages (sprites small, 16 px at 4x; 200 sequences,
``SPRITES_PROPERTY_EXAMPLES``), and with the two image stages replaced by bytes keyed like theirs on a
RAM disk, the state layer alone (2000 sequences, ``SPRITES_PROPERTY_QUICK_EXAMPLES``).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pipeline.buildstate import inputs
from pipeline.buildstate.fastpath import remember_if_current
from pipeline.buildstate.keys import pixelate_key
from pipeline.buildstate.lockfile import lock_path, read_lock
from pipeline.buildstate.publish import publish_run, record_export, removed_specs
from pipeline.buildstate.status import project_state
from pipeline.cache import ContentCache
from pipeline.generate import GenerationRequest, make_backend, resolve_requests
from pipeline.settings import Settings
from pipeline.specs import load_specs
from pipeline.specs.model import SpriteSpec
from pipeline.stages import PixelOutput, RawOutput, export_stage, generate_stage, pixelate_stage

EXAMPLES = int(os.environ.get("SPRITES_PROPERTY_EXAMPLES", "200"))
QUICK_EXAMPLES = int(os.environ.get("SPRITES_PROPERTY_QUICK_EXAMPLES", "2000"))
NAMES = ["ant", "bee", "cat", "dog"]
FIELDS = {
    "prompt": ["a red gem", "a blue slime", "a small key"],
    "seed": ["1", "2"],
    "palette": ["pico-8", "db16", "nes"],
    "size": ["16x16", "16x24"],
    "fps": ["4", "8"],
}
DEFAULTS = "defaults:\n  category: item\n  palette: {palette}\n  generation: {{render_scale: 4}}\n"


def _image(shade: int) -> bytes:
    small = Image.new("RGB", (16, 16), (250, 250, 250))
    for x in range(3, 12):
        for y in range(2, 14):
            small.putpixel((x, y), (shade, 40, 255 - shade) if (x + y) % 5 else (20, 20, 20))
    buf = io.BytesIO()
    small.resize((64, 64), Image.NEAREST).save(buf, format="PNG")
    return buf.getvalue()


IMAGES = [_image(s) for s in (30, 140, 230)]


@pytest.fixture(scope="module")
def ram_dir() -> Iterator[Path]:
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="sprites-property-", dir=shm if shm.is_dir() else None) as tmp:
        yield Path(tmp)


edit = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(NAMES), st.sampled_from(sorted(FIELDS)), st.integers(0, 2)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("defaults"), st.integers(0, 2)),
    st.tuples(st.just("workflow"), st.integers(0, 2)),
    st.tuples(st.just("image"), st.integers(0, 2)),
    st.tuples(st.just("rm_output"), st.sampled_from([*NAMES, "pic"]), st.sampled_from(["png", "meta"])),
    st.tuples(st.just("rm_cache"), st.sampled_from(["generate", "pixelate", "all"])),
    st.tuples(st.just("rm_state")),
    st.tuples(st.just("build")),
)


class World:
    """One project folder and the spec fields it holds (so edits know what is there)."""

    def __init__(self, root: Path, cache: Path):
        self.root = root
        self.specs: dict[str, dict[str, str]] = {"ant": {}, "bee": {"palette": "db16"}}
        self.defaults = 0
        (root / "sprite_specs").mkdir(parents=True)
        (root / "comfy_workflows").mkdir()
        (root / "art").mkdir()
        (root / "art" / "pic.png").write_bytes(IMAGES[0])
        self.settings = Settings.for_project(root, cache_dir=str(cache))
        self.write_all()

    def write_all(self) -> None:
        specs = self.root / "sprite_specs"
        for path in specs.glob("*.yaml"):
            path.unlink()
        (specs / "_defaults.yaml").write_text(DEFAULTS.format(palette=FIELDS["palette"][self.defaults]))
        (specs / "pic.yaml").write_text(
            "name: pic\nprompt: a picture\nsize: 16x16\ngeneration: {backend: image, init_image: art/pic.png}\n"
        )
        for name, fields in self.specs.items():
            text = f"name: {name}\nprompt: {fields.get('prompt', 'a ' + name)}\nsize: {fields.get('size', '16x16')}\n"
            for key in ("seed", "palette"):
                if key in fields:
                    text += f"{key}: {fields[key]}\n"
            if "fps" in fields:
                text += f"animation: {{fps: {fields['fps']}}}\n"
            (specs / f"{name}.yaml").write_text(text)

    def apply(self, op: tuple[object, ...]) -> None:
        kind = op[0]
        s = self.settings
        if kind == "set":
            _, name, field, i = op
            values = FIELDS[str(field)]
            self.specs.setdefault(str(name), {})[str(field)] = values[int(i) % len(values)]  # type: ignore[call-overload]
        elif kind == "delete":
            self.specs.pop(str(op[1]), None)
        elif kind == "rename" and op[1] in self.specs and op[2] not in self.specs:
            self.specs[str(op[2])] = self.specs.pop(str(op[1]))
        elif kind == "defaults":
            self.defaults = int(op[1])  # type: ignore[call-overload]
        elif kind == "workflow":
            (self.root / "comfy_workflows" / "extra.json").write_text(f'{{"v": {op[1]}}}')
        elif kind == "image":
            (self.root / "art" / "pic.png").write_bytes(IMAGES[int(op[1])])  # type: ignore[call-overload]
        elif kind == "rm_output":
            suffix = ".png" if op[2] == "png" else ".png.meta"
            for path in s.assets_dir.rglob(f"{op[1]}{suffix}"):
                path.unlink()
        elif kind == "rm_cache":
            shutil.rmtree(s.cache_dir if op[1] == "all" else s.cache_dir / str(op[1]), ignore_errors=True)
        elif kind == "rm_state":
            shutil.rmtree(s.state_dir, ignore_errors=True)
        self.write_all()

    def input_key(self) -> str:
        files = sorted(
            p for p in self.root.rglob("*") if p.is_file() and ("sprite_specs" in p.parts or "art" in p.parts)
        )
        return repr([(p.relative_to(self.root).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest()) for p in files])


Stages = Callable[[Settings, GenerationRequest, SpriteSpec, ContentCache], tuple[RawOutput, PixelOutput]]


def real_stages(
    s: Settings, request: GenerationRequest, spec: SpriteSpec, cache: ContentCache
) -> tuple[RawOutput, PixelOutput]:
    """The generate and pixel stages as a run calls them (procedural and image backends, the cache)."""
    raw = generate_stage(request, make_backend(request.backend, s), cache)
    return raw, pixelate_stage(spec, raw, cache)


@functools.cache
def _png(key: str) -> bytes:
    small = Image.new("RGB", (4, 4), tuple(bytes.fromhex(key[:6])))
    buf = io.BytesIO()
    small.save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


def keyed_stages(
    s: Settings, request: GenerationRequest, spec: SpriteSpec, cache: ContentCache
) -> tuple[RawOutput, PixelOutput]:
    """Stand-ins for the generate and pixel stages: bytes that are a function of each stage's key (what
    the real ones are, as far as the state layer can tell), so that thousands of sequences run."""
    frame = _png(request.key)
    raw = RawOutput(request.key, [frame], [hashlib.sha256(frame).hexdigest()], "miss", 0.0)
    key = pixelate_key(raw.hashes, spec)
    sheet = _png(key)
    return raw, PixelOutput(key, sheet, hashlib.sha256(sheet).hexdigest(), ("#000000",), {}, "miss", 0.0)


def build(s: Settings, stages: Stages = real_stages) -> None:
    """What one run does, without Dagster (see the module docstring)."""
    snapshot = inputs.hash_tree(s.specs_dir, s.workflows_dir)
    spec_set = load_specs(s.specs_dir)
    requests = resolve_requests(spec_set, s)
    cache = ContentCache(s.cache_dir)
    run_id = uuid.uuid4().hex
    for st_ in project_state(s, spec_set, requests, read_lock(s)).todo:
        request = requests[st_.name]
        raw, pixel = stages(s, request, st_.loaded.spec, cache)
        out = export_stage(st_.loaded.spec, st_.loaded.file, request, raw, pixel, s)
        record_export(s, run_id, st_.name, out.locked, replaced=out.replaced)
    publish_run(s, run_id, removed_specs(s, spec_set.specs), all_names=spec_set.specs)
    state = remember_if_current(s, spec_set, requests, snapshot)
    assert state.current, state.problems()


_SCRATCH: dict[tuple[str, str], bytes] = {}


def scratch_lock(world: World, tmp: Path, stages: Stages = real_stages) -> bytes:
    key = (world.input_key(), stages.__name__)
    if key not in _SCRATCH:
        root = tmp / f"scratch-{uuid.uuid4().hex[:8]}"
        shutil.copytree(world.root / "sprite_specs", root / "sprite_specs")
        shutil.copytree(world.root / "art", root / "art")
        (root / "comfy_workflows").mkdir()
        fresh = Settings.for_project(root, cache_dir=str(world.settings.cache_dir))
        build(fresh, stages)
        _SCRATCH[key] = lock_path(fresh).read_bytes()
        shutil.rmtree(root)
    return _SCRATCH[key]


def run_sequence(base: Path, ops: list[tuple[object, ...]], stages: Stages) -> None:
    world = World(base / "game", base.parent / "shared-cache")
    s = world.settings
    build(s, stages)
    for op in [*ops, ("build",)]:
        if op[0] == "build":
            build(s, stages)
            assert lock_path(s).read_bytes() == scratch_lock(world, base, stages), f"after {ops}"
            continue
        world.apply(op)
        if inputs.noop_for(s) is not None:  # the fast path may only skip what is really current
            state = project_state(
                s, load_specs(s.specs_dir), resolve_requests(load_specs(s.specs_dir), s), read_lock(s)
            )
            assert state.current, f"fast path said no-op after {op}: {state.problems()}"
    shutil.rmtree(base, ignore_errors=True)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(edit, min_size=1, max_size=12))
def test_after_every_build_all_is_current_and_the_lock_is_a_from_scratch_builds(
    tmp_path_factory: object, ops: list[tuple[object, ...]]
) -> None:
    """With the real stages (procedural and image backends, pixel stage, cache)."""
    run_sequence(Path(tmp_path_factory.mktemp("world")), ops, real_stages)  # type: ignore[attr-defined]


@settings(
    max_examples=QUICK_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(edit, min_size=1, max_size=12))
def test_thousands_of_sequences_on_the_state_layer_alone(ram_dir: Path, ops: list[tuple[object, ...]]) -> None:
    """The same property with the two image stages replaced by bytes keyed like theirs, on a RAM disk
    where there is one (fsync is the cost of every atomic write): the state layer alone, many times."""
    base = ram_dir / uuid.uuid4().hex[:12]
    base.mkdir()
    run_sequence(base / "w", ops, keyed_stages)
