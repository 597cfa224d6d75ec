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

A build is called the way ``sprites build`` calls the layer (specs through the parse cache, the fast path
recorded with the plan as ``known``). The first build of the starting project, the same in every sequence,
runs once and is copied; edits write only the files they change, as an editor does.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
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

from pipeline.core.export.manifest import MANIFEST_PATH
from pipeline.core.generate import GenerationRequest, make_backend, resolve_requests
from pipeline.core.specs import load_specs
from pipeline.core.specs.model import SpriteSpec
from pipeline.core.specs.parse_cache import PARSE_CACHE_FILE
from pipeline.settings import Settings
from pipeline.state import inputs
from pipeline.state.cache import ContentCache
from pipeline.state.fastpath import remember_if_current
from pipeline.state.keys import pixelate_key
from pipeline.state.lockfile import lock_path, read_lock
from pipeline.state.publish import publish_run, record_export, removed_specs
from pipeline.state.stages import PixelOutput, RawOutput, export_stage, generate_stage, pixelate_stage
from pipeline.state.status import project_state

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


@functools.cache
def settings_for(root: Path, cache: Path) -> Settings:
    """The project's settings (immutable; one per folder: the quick test reuses its folders)."""
    return Settings.for_project(root, cache_dir=str(cache))


SEQUENCES = st.lists(edit, min_size=1, max_size=12)


class World:
    """One project folder and the spec fields it holds (so edits know what is there)."""

    def __init__(self, root: Path, cache: Path, *, create: bool = True):
        self.root = root
        self.specs: dict[str, dict[str, str]] = {"ant": {}, "bee": {"palette": "db16"}}
        self.defaults = 0
        self.image = 0  # which of IMAGES art/pic.png holds
        self.settings = settings_for(root, cache)
        if create:
            (root / "sprite_specs").mkdir(parents=True)
            (root / "comfy_workflows").mkdir()
            (root / "art").mkdir()
            (root / "art" / "pic.png").write_bytes(IMAGES[0])
            self.write_all()

    def texts(self) -> dict[str, str]:
        """The spec folder's files as the fields say."""
        out = {
            "_defaults.yaml": DEFAULTS.format(palette=FIELDS["palette"][self.defaults]),
            "pic.yaml": "name: pic\nprompt: a picture\nsize: 16x16\n"
            "generation: {backend: image, init_image: art/pic.png}\n",
        }
        for name, fields in self.specs.items():
            text = f"name: {name}\nprompt: {fields.get('prompt', 'a ' + name)}\nsize: {fields.get('size', '16x16')}\n"
            for key in ("seed", "palette"):
                if key in fields:
                    text += f"{key}: {fields[key]}\n"
            if "fps" in fields:
                text += f"animation: {{fps: {fields['fps']}}}\n"
            out[f"{name}.yaml"] = text
        return out

    def write_all(self) -> None:
        """Bring the spec folder in line with the fields: write what changed, delete what is gone (as an
        editor would; untouched files keep their bytes and mtime)."""
        specs = self.root / "sprite_specs"
        want = self.texts()
        for path in specs.glob("*.yaml"):
            if path.name not in want:
                path.unlink()
        for name, text in want.items():
            path = specs / name
            try:
                same = path.read_text() == text
            except OSError:
                same = False
            if not same:
                path.write_text(text)

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
            self.image = int(op[1])  # type: ignore[call-overload]
            (self.root / "art" / "pic.png").write_bytes(IMAGES[self.image])
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
        """What a from-scratch build reads (the spec files and the init_image), as the fields that wrote them."""
        return repr((sorted((n, sorted(f.items())) for n, f in self.specs.items()), self.defaults, self.image))


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
    spec_set = load_specs(s.specs_dir, s.state_dir / PARSE_CACHE_FILE)  # as a run loads them
    requests = resolve_requests(spec_set, s)
    cache = ContentCache(s.cache_dir)
    run_id = uuid.uuid4().hex
    plan = project_state(s, spec_set, requests, read_lock(s))
    for st_ in plan.todo:
        request = requests[st_.name]
        raw, pixel = stages(s, request, st_.loaded.spec, cache)
        out = export_stage(st_.loaded.spec, st_.loaded.file, request, raw, pixel, s)
        record_export(s, run_id, st_.name, out)
    publish_run(s, run_id, removed_specs(s, spec_set.specs), all_names=spec_set.specs)
    state = remember_if_current(s, spec_set, requests, snapshot, known=plan)  # as `sprites build` calls it
    assert state.current, state.problems()


_SCRATCH: dict[tuple[str, str], bytes] = {}


def scratch_lock(world: World, tmp: Path, stages: Stages = real_stages) -> bytes:
    """The lock a from-scratch build of the world's inputs writes (in a fresh folder; once per inputs)."""
    key = (world.input_key(), stages.__name__)
    if key not in _SCRATCH:
        root = tmp / "scratch"
        shutil.copytree(world.root / "sprite_specs", root / "sprite_specs")
        shutil.copytree(world.root / "art", root / "art")
        (root / "comfy_workflows").mkdir()
        fresh = settings_for(root, world.settings.cache_dir)
        build(fresh, stages)
        _SCRATCH[key] = lock_path(fresh).read_bytes()
        shutil.rmtree(root)
    return _SCRATCH[key]


_BUILT: dict[str, Path] = {}


def built_world(base: Path, stages: Stages) -> World:
    """A new project after its first build. That build is the same in every sequence: it runs once per
    kind of stages, into a template that later sequences copy (files, cache, ``.sprites/``). A copy has new
    inodes and mtimes, so no stat-keyed record carried over is trusted without a fresh look."""
    template = _BUILT.get(stages.__name__)
    if template is None or not template.is_dir():
        template = Path(tempfile.mkdtemp(prefix=f"sprites-first-build-{stages.__name__}-", dir=base.parent))
        first = World(template / "game", template / "cache")
        build(first.settings, stages)
        _BUILT[stages.__name__] = template
    shutil.copytree(template, base, copy_function=shutil.copyfile)
    return World(base / "game", base / "cache", create=False)


def assert_folder_is_the_lock(s: Settings) -> None:
    """Read without the status module: every locked PNG holds the locked bytes beside its .meta, and the
    manifest lists exactly the locked entries."""
    lock = json.loads(lock_path(s).read_text())["sprites"]
    for name, entry in lock.items():
        png = s.assets_dir / entry["entry"]["path"]
        assert hashlib.sha256(png.read_bytes()).hexdigest() == entry["entry"]["sha256"], name
        assert png.with_name(png.name + ".meta").is_file(), name
    listed = json.loads((s.assets_dir / MANIFEST_PATH).read_text())["sprites"]
    assert [e["name"] for e in listed] == sorted(lock)


def run_sequence(base: Path, ops: list[tuple[object, ...]], stages: Stages) -> None:
    """``base``: a folder for this sequence (the world, its cache and the from-scratch builds), deleted after."""
    shutil.rmtree(base, ignore_errors=True)  # what a failed example (hypothesis shrinking) left behind
    world = built_world(base, stages)
    s = world.settings
    for op in [*ops, ("build",)]:
        if op[0] == "build":
            build(s, stages)
            assert lock_path(s).read_bytes() == scratch_lock(world, base, stages), f"after {ops}"
            assert_folder_is_the_lock(s)
            continue
        world.apply(op)
        if inputs.noop_for(s) is not None:  # the fast path may only skip what is really current
            spec_set = load_specs(s.specs_dir)
            state = project_state(s, spec_set, resolve_requests(spec_set, s), read_lock(s))
            assert state.current, f"fast path said no-op after {op}: {state.problems()}"
    shutil.rmtree(base, ignore_errors=True)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=SEQUENCES)
def test_after_every_build_all_is_current_and_the_lock_is_a_from_scratch_builds(
    tmp_path_factory: object, ops: list[tuple[object, ...]]
) -> None:
    """With the real stages (procedural and image backends, pixel stage, cache)."""
    run_sequence(Path(tmp_path_factory.mktemp("world")) / "seq", ops, real_stages)  # type: ignore[attr-defined]


def quick_share(folder: str, examples: int, seed: int) -> None:
    """``examples`` sequences of the quick property under ``folder`` (a RAM disk), from hypothesis seed
    ``seed``: what each worker process of the test below runs."""
    from hypothesis import seed as with_seed

    Path(folder).mkdir(parents=True, exist_ok=True)

    @with_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(ops=SEQUENCES)
    def share(ops: list[tuple[object, ...]]) -> None:
        run_sequence(Path(folder) / "seq", ops, keyed_stages)  # one folder, reused: its settings are made once

    share()


def _workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1, 8))


def test_thousands_of_sequences_on_the_state_layer_alone(ram_dir: Path) -> None:
    """The same property with the two image stages replaced by bytes keyed like theirs, on a RAM disk
    where there is one (fsync is the cost of every atomic write): the state layer alone, many times.

    The sequences are shared among one worker process per CPU (each its own hypothesis seed, folder and
    caches), as pytest-xdist would share tests; a failing share shows hypothesis' falsifying example and
    the seed that replays it (``quick_share``)."""
    import random
    import subprocess
    import sys

    from tests.conftest import REPO

    workers = _workers()
    seeds = [random.randrange(2**32) for _ in range(workers)]
    shares = [QUICK_EXAMPLES // workers + (i < QUICK_EXAMPLES % workers) for i in range(workers)]
    if workers == 1:
        quick_share(str(ram_dir / "w0"), shares[0], seeds[0])
        return
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from tests.test_build_state_property import quick_share; quick_share({str(ram_dir / f'w{i}')!r}, "
                f"{shares[i]}, {seeds[i]})",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(workers)
    ]
    outputs = [proc.communicate(timeout=900)[0] for proc in procs]
    failed = [
        f"share {i} ({shares[i]} sequences, seed {seeds[i]}: replay with quick_share(folder, {shares[i]}, {seeds[i]})):"
        f"\n{out[-6000:]}"
        for i, (proc, out) in enumerate(zip(procs, outputs, strict=True))
        if proc.returncode != 0
    ]
    assert not failed, "\n\n".join(failed)
