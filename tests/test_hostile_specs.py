"""Property-based fuzzing of the spec loader: every malformed spec ends in a SpecError with a file, never a
traceback of another kind, and nothing is ever written."""

from __future__ import annotations

import string
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.specs import load_specs
from pipeline.errors import SpecError

FIELDS = [
    "name",
    "category",
    "prompt",
    "size",
    "palette",
    "seed",
    "generation",
    "animation",
    "pixel",
    "output",
    "negative_prompt",
    "sprites",
    "defaults",
    "steps",
    "frames",
    "path",
    "adaptive",
    "loras",
    "backend",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["32x32", "pico-8", "../x.png", "#ff00ff", "enemy", "comfyui", "/etc"]),
)
keys = st.one_of(st.sampled_from(FIELDS), st.text(string.ascii_letters + "_-", min_size=1, max_size=8))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=6)),
    max_leaves=25,
)


def _load(tmp: Path, text: str | bytes) -> None:
    specs = tmp / "sprite_specs"
    specs.mkdir(exist_ok=True)
    target = specs / "fuzz.yaml"
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text, encoding="utf-8")
    before = sorted(p.name for p in tmp.rglob("*"))
    try:
        load_specs(specs)
    except SpecError as exc:
        assert exc.problems and all(p.file for p in exc.problems)
        assert all(str(p).startswith(p.file) for p in exc.problems)
    assert sorted(p.name for p in tmp.rglob("*")) == before


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_random_yaml_documents_end_in_spec_errors(tmp_path: Path, doc: object) -> None:
    _load(tmp_path, yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(st.sampled_from(FIELDS), documents, max_size=8))
def test_random_sprite_mappings_end_in_spec_errors(tmp_path: Path, doc: dict[str, object]) -> None:
    _load(tmp_path, yaml.safe_dump({"name": "x", "category": "enemy", "prompt": "p", **doc}))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200) | st.text(max_size=200))
def test_random_bytes_end_in_spec_errors(tmp_path: Path, data: bytes | str) -> None:
    _load(tmp_path, data)


def test_yaml_bomb_is_refused_quickly(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    specs = tmp_path / "sprite_specs"
    specs.mkdir()
    (specs / "bomb.yaml").write_text(bomb)
    try:
        load_specs(specs)
    except SpecError as exc:
        assert "anchors/aliases are not allowed" in str(exc)
    else:
        raise AssertionError("a YAML bomb was accepted")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    specs = tmp_path / "sprite_specs"
    specs.mkdir()
    (specs / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    try:
        load_specs(specs)
    except SpecError as exc:
        assert "deep.yaml" in str(exc)
    else:
        raise AssertionError("accepted")
