"""The manifest contract: the Python writer's pydantic models and the Rust reader's serde types agree.

The Rust side lives in ``bevy_target/crates/sprite_manifest/src/types.rs``; its structs deny unknown
fields and its CI test (``bevy_target/ci_test.sh``) deserializes the manifest the pipeline really
wrote. This test needs no Rust toolchain: it reads the Rust source and compares, model by model,
field names, their order, and their types, so a field added, renamed or retyped on one side only
fails here. It also checks that both sides accept the same sample document.
"""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from pipeline.core.export import manifest as py

REPO = Path(__file__).resolve().parent.parent
CRATE = REPO / "bevy_target" / "crates" / "sprite_manifest"
RUST_TYPES = CRATE / "src" / "types.rs"
RUST_LIB = CRATE / "src" / "lib.rs"
FIXTURE = CRATE / "tests" / "fixtures" / "manifest.json"

# Python scalar -> the Rust types that serde maps from the same JSON.
SCALARS: dict[type, set[str]] = {
    str: {"String"},
    int: {"u8", "u16", "u32", "u64", "usize", "i32", "i64"},
    float: {"f32", "f64"},
    bool: {"bool"},
}


# --- reading the Rust source ---------------------------------------------------------------------

_ITEM = re.compile(r"((?:^#\[[^\n]*\]\n)*)^pub (struct|enum) (\w+) \{\n(.*?)^\}", re.M | re.S)


class RustItem(typing.NamedTuple):
    kind: str  # "struct" or "enum"
    attrs: str  # the item's #[...] lines
    members: list[tuple[str, str, str]]  # struct: (field, type, its #[...] lines); enum: (variant, "", attrs)


def _strip_comments(body: str) -> list[str]:
    lines = (line.split("//", 1)[0].strip() for line in body.splitlines())
    return [line for line in lines if line]


def parse_rust(source: str) -> dict[str, RustItem]:
    """``pub struct``/``pub enum`` items of a serde types module (one field or variant per line)."""
    items: dict[str, RustItem] = {}
    for attrs, kind, name, body in _ITEM.findall(source):
        members: list[tuple[str, str, str]] = []
        pending: list[str] = []
        for line in _strip_comments(body):
            if line.startswith("#["):
                pending.append(line)
                continue
            pattern = r"pub (\w+): (.+),$" if kind == "struct" else r"(\w+),$"
            match = re.fullmatch(pattern, line)
            assert match, f"{name}: cannot read the line {line!r} (one field or unit variant per line)"
            member_type = match.group(2) if kind == "struct" else ""
            members.append((match.group(1), member_type, "\n".join(pending)))
            pending = []
        items[name] = RustItem(kind, attrs, members)
    return items


# --- comparing ------------------------------------------------------------------------------------


def type_mismatch(annotation: object, rust: str, items: dict[str, RustItem]) -> str | None:
    """Why the Rust type ``rust`` does not read what pydantic writes for ``annotation``, or None."""
    rust = rust.strip()
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        match = re.fullmatch(r"Option<(.+)>", rust)
        return type_mismatch(inner, match.group(1), items) if match else f"{rust} is not an Option"
    if origin is list:
        match = re.fullmatch(r"Vec<(.+)>", rust) or re.fullmatch(r"\[(.+); \d+\]", rust)
        return type_mismatch(args[0], match.group(1), items) if match else f"{rust} is not a Vec or array"
    if origin is tuple and args and args[-1] is not Ellipsis:  # tuple[int, int] -> [u32; 2] or (u32, u32)
        match = re.fullmatch(r"\[(.+); (\d+)\]", rust)
        if match:
            if int(match.group(2)) != len(args) or len(set(args)) != 1:
                return f"{rust} does not hold a {len(args)}-tuple of {args}"
            return type_mismatch(args[0], match.group(1), items)
        parts = re.fullmatch(r"\((.+)\)", rust)
        fields = [f.strip() for f in parts.group(1).split(",") if f.strip()] if parts else []
        if len(fields) != len(args):
            return f"{rust} is not a {len(args)}-tuple"
        return next((why for a, f in zip(args, fields, strict=True) if (why := type_mismatch(a, f, items))), None)
    if origin is typing.Literal:
        enum = items.get(rust)
        if enum is None or enum.kind != "enum":
            return f"{rust} is not an enum of this module"
        lowercase = 'rename_all = "lowercase"' in enum.attrs
        variants = {v.lower() if lowercase else v for v, _, _ in enum.members}
        return None if variants == set(args) else f"enum {rust} reads {sorted(variants)}, Python writes {sorted(args)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return None if rust == annotation.__name__ else f"{rust} is not the struct {annotation.__name__}"
    if annotation in SCALARS:
        return None if rust in SCALARS[annotation] else f"{rust} does not hold a Python {annotation.__name__}"
    return f"no rule for the Python type {annotation!r}"


def model_mismatches(model: type[BaseModel], items: dict[str, RustItem]) -> list[str]:
    """Every way the Rust struct of the same name disagrees with ``model``."""
    name = model.__name__
    item = items.get(name)
    if item is None or item.kind != "struct":
        return [f"{name}: no `pub struct {name}` in {RUST_TYPES.name}"]
    problems = []
    if "deny_unknown_fields" not in item.attrs:
        problems.append(f"{name}: the Rust struct lacks #[serde(deny_unknown_fields)]")
    py_fields = list(model.model_fields)
    rust_fields = [field for field, _, _ in item.members]
    for field in sorted(set(py_fields) - set(rust_fields)):
        problems.append(f"{name}.{field}: written by Python, missing from the Rust struct")
    for field in sorted(set(rust_fields) - set(py_fields)):
        problems.append(f"{name}.{field}: in the Rust struct, not written by Python")
    if not problems and py_fields != rust_fields:
        problems.append(f"{name}: field order differs: Python {py_fields}, Rust {rust_fields}")
    for field, rust_type, attrs in item.members:
        if re.search(r"\b(rename|alias|flatten|skip\w*)\b", attrs):
            problems.append(f"{name}.{field}: serde renames/skips it; this test compares names 1:1")
        if field in model.model_fields:
            why = type_mismatch(model.model_fields[field].annotation, rust_type, items)
            if why:
                problems.append(f"{name}.{field}: {why}")
    return problems


def nested_models(model: type[BaseModel]) -> set[type[BaseModel]]:
    """``model`` and every pydantic model its fields hold, however deeply."""
    found = {model}
    for info in model.model_fields.values():
        pending = [info.annotation]
        while pending:
            t = pending.pop()
            pending.extend(typing.get_args(t))
            if isinstance(t, type) and issubclass(t, BaseModel) and t not in found:
                found |= nested_models(t)
    return found


# --- the tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rust_items() -> dict[str, RustItem]:
    return parse_rust(RUST_TYPES.read_text(encoding="utf-8"))


def test_every_model_in_the_manifest_has_a_rust_struct(rust_items: dict[str, RustItem]) -> None:
    models = {m.__name__ for m in nested_models(py.Manifest)}
    structs = {name for name, item in rust_items.items() if item.kind == "struct"}
    assert structs == models, "Rust structs and pydantic models of the manifest differ"


MODELS = sorted(nested_models(py.Manifest), key=lambda m: m.__name__)


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_rust_struct_matches_the_pydantic_model(model: type[BaseModel], rust_items: dict[str, RustItem]) -> None:
    assert model_mismatches(model, rust_items) == []


def test_paths_and_version_constants_agree() -> None:
    lib = RUST_LIB.read_text(encoding="utf-8")
    consts = dict(re.findall(r'pub const (\w+): &str = "([^"]*)";', lib))
    assert consts["MANIFEST_PATH"] == py.MANIFEST_PATH
    assert consts["ASSETS_RON_PATH"] == py.ASSETS_RON_PATH
    assert py.MANIFEST_VERSION.split(".")[0] == consts["SUPPORTED_MAJOR_VERSION"]


def test_the_rust_fixture_is_a_valid_python_manifest() -> None:
    """The sample the Rust loader tests read is one the Python models accept and re-dump unchanged."""
    document = json.loads(FIXTURE.read_text(encoding="utf-8"))
    manifest = py.Manifest.model_validate(document)
    assert manifest.model_dump(mode="json") == document


def test_a_written_manifest_has_exactly_the_rust_fields(tmp_path: Path, rust_items: dict[str, RustItem]) -> None:
    """What ``write_manifest`` puts on disk (not just the models) has the Rust field names."""
    document = json.loads(FIXTURE.read_text(encoding="utf-8"))
    entries = [py.ManifestEntry.model_validate(e) for e in document["sprites"]]
    py.write_manifest(tmp_path / "assets", tmp_path / "scratch", entries)
    written = json.loads((tmp_path / "assets" / py.MANIFEST_PATH).read_text(encoding="utf-8"))

    def names(item: str) -> list[str]:
        return [field for field, _, _ in rust_items[item].members]

    assert list(written) == names("Manifest")
    for entry in written["sprites"]:
        assert list(entry) == names("ManifestEntry")
        assert list(entry["atlas"]) == names("AtlasLayout")
        assert list(entry["palette"]) == names("PaletteInfo")


# --- the comparison itself catches one-sided changes ----------------------------------------------


class _Atlas(BaseModel):
    tile_width: int
    tile_height: int


_ATLAS_RS = """
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct _Atlas {
    /// doc
    pub tile_width: u32,
    pub tile_height: u32,
}
"""


@pytest.mark.parametrize(
    ("rust_source", "expected"),
    [
        (_ATLAS_RS, []),
        (_ATLAS_RS.replace("    pub tile_height: u32,\n", ""), ["_Atlas.tile_height: written by Python, missing"]),
        (_ATLAS_RS.replace("}\n", "    pub padding: u32,\n}\n"), ["_Atlas.padding: in the Rust struct, not written"]),
        (_ATLAS_RS.replace("tile_height: u32", "tile_height: String"), ["_Atlas.tile_height: String does not hold"]),
        (_ATLAS_RS.replace("#[serde(deny_unknown_fields)]\n", ""), ["_Atlas: the Rust struct lacks"]),
        (_ATLAS_RS.replace("    pub tile_width", '    #[serde(rename = "w")]\n    pub tile_width'), ["renames"]),
    ],
    ids=["same", "python-only", "rust-only", "retyped", "no-deny", "renamed"],
)
def test_the_comparison_reports_one_sided_changes(rust_source: str, expected: list[str]) -> None:
    problems = model_mismatches(_Atlas, parse_rust(rust_source))
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert start in problem
