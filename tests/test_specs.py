"""Spec loading: the sample specs, and bad specs reported with file, line, sprite and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.specs import CATEGORIES, load_specs, read_categories
from pipeline.core.specs.model import AdaptivePalette, SpriteSpec
from pipeline.core.specs.schema import render_schema
from pipeline.errors import SpecError
from tests.conftest import REPO, make_project


def test_sample_specs_cover_every_category_palette_kind_and_an_animation() -> None:
    specs = load_specs(REPO / "sprite_specs")
    assert len(specs) >= 10
    categories = {s.spec.category for s in specs}
    assert {"character", "enemy", "item", "tile", "ui", "effect"} <= categories <= set(CATEGORIES)
    palettes = {type(s.spec.palette).__name__ for s in specs}
    assert {"str", "list", "AdaptivePalette"} <= palettes
    assert any(s.spec.animation.frames == 4 for s in specs)


def test_three_line_spec_gets_defaults(tmp_path: Path) -> None:
    settings = make_project(tmp_path, {"orc.yaml": "name: orc\ncategory: enemy\nprompt: an orc\n"}, copy_samples=False)
    spec = load_specs(settings.specs_dir).specs["orc"].spec
    assert str(spec.size) == "32x32" and spec.palette == "pico-8"
    assert spec.generation.loras[0].name == "pixel-art-xl.safetensors"
    assert spec.output_path == "sprites/enemy/orc.png"
    assert spec.effective_seed == SpriteSpec(name="orc", category="enemy", prompt="x").effective_seed


def test_file_defaults_and_nested_folders(tmp_path: Path) -> None:
    text = (
        "defaults:\n  category: item\n  size: 16x16\n"
        "sprites:\n  - name: a\n    prompt: p\n  - name: b\n    prompt: q\n    size: [24, 8]\n"
    )
    settings = make_project(tmp_path, {"deep/er/items.yml": text}, copy_samples=False)
    specs = load_specs(settings.specs_dir).specs
    assert specs["a"].file == "deep/er/items.yml" and specs["a"].line == 5
    assert (specs["a"].spec.size.width, specs["b"].spec.size.width, specs["b"].spec.size.height) == (16, 24, 8)


BAD = [
    # (yaml, expected fragments of one problem line)
    ("name: Bad Name\ncategory: enemy\nprompt: p\n", ["x.yaml:1", "field 'name'", "Bad Name"]),
    (
        "name: a\ncategory: wizard\nprompt: p\n",
        ["x.yaml:2", "field 'category'", "category 'wizard'", "prop, character"],
    ),
    ("name: a\ncategory: enemy\nprompt: p\nsize: 32by32\n", ["x.yaml:4", "field 'size'", "WIDTHxHEIGHT"]),
    ("name: a\ncategory: enemy\nprompt: p\nsize: 2x2\n", ["field 'size.width'", "greater than or equal to 4"]),
    ("name: a\ncategory: enemy\nprompt: p\npalette: pico9\n", ["x.yaml:4", "unknown palette 'pico9'", "pico-8"]),
    ("name: a\ncategory: enemy\nprompt: p\npalette: ['#12345g', '#000000']\n", ["palette colour #1", "#rrggbb"]),
    ("name: a\ncategory: enemy\nprompt: p\npalette: {adaptive: 1}\n", ["adaptive palette size", "2 to 256"]),
    (
        "name: a\ncategory: enemy\nprompt: p\ngeneration:\n  stepz: 3\n",
        ["x.yaml:5", "unknown field 'stepz'", "did you mean 'steps'"],
    ),
    (
        "name: a\ncategory: enemy\nprompt: p\ngeneration:\n  steps: 900\n",
        ["x.yaml:5", "generation.steps", "200", "900"],
    ),
    ("name: a\ncategory: enemy\nprompt: p\nanimation: {frames: 0}\n", ["animation.frames"]),
    ("name: a\ncategory: enemy\nprompt: p\noutput: {path: ../../etc/x.png}\n", ["output.path", "'..'"]),
    ("name: a\ncategory: enemy\nprompt: p\noutput: {path: /abs/x.png}\n", ["output.path", "relative"]),
    ("name: a\ncategory: enemy\nprompt: p\noutput: {path: a/b.jpg}\n", ["output.path", ".png"]),
    ("name: a\ncategory: enemy\n", ["field 'prompt'", "is required"]),
    ("name: a\ncategory: enemy\nprompt: p\ncolour: red\n", ["unknown field 'colour'", "allowed:"]),
    ("name: a\nname: b\n", ["x.yaml:2", "duplicate key 'name'"]),
    ("name: !!python/object/apply:os.system [ls]\n", ["x.yaml:1", "custom YAML tags are not allowed"]),
    ("a: &x [1]\nb: *x\n", ["anchors/aliases are not allowed"]),
    ("name: [unclosed\n", ["x.yaml", "invalid YAML"]),
    ("- just\n- a list\n", ["x.yaml:1", "must be a sprite"]),
    ("", ["x.yaml", "file is empty"]),
    ("sprites: {}\n", ["'sprites' must be a list"]),
]


@pytest.mark.parametrize(("text", "fragments"), BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_spec_is_reported_with_location(tmp_path: Path, text: str, fragments: list[str]) -> None:
    settings = make_project(tmp_path, {"x.yaml": text}, copy_samples=False)
    with pytest.raises(SpecError) as info:
        load_specs(settings.specs_dir)
    lines = [str(p) for p in info.value.problems]
    assert any(all(f in line for f in fragments) for line in lines), lines


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    specs = {
        "one.yaml": "name: a\ncategory: nope\nprompt: p\nsize: 1x1\n",
        "two.yaml": "sprites:\n  - name: b\n    category: enemy\n    prompt: p\n    seed: -1\n",
    }
    settings = make_project(tmp_path, specs, copy_samples=False)
    with pytest.raises(SpecError) as info:
        load_specs(settings.specs_dir)
    fields = {(p.file, p.field) for p in info.value.problems}
    assert {
        ("one.yaml", "category"),
        ("one.yaml", "size.width"),
        ("one.yaml", "size.height"),
        ("two.yaml", "seed"),
    } <= fields
    assert str(info.value).startswith(f"{len(info.value.problems)} problems in sprite specs:")


def test_duplicate_names_name_both_files(tmp_path: Path) -> None:
    specs = {
        "a.yaml": "name: orc\ncategory: enemy\nprompt: p\n",
        "sub/b.yaml": "\n\nname: orc\ncategory: enemy\nprompt: q\n",
    }
    settings = make_project(tmp_path, specs, copy_samples=False)
    with pytest.raises(SpecError) as info:
        load_specs(settings.specs_dir)
    (problem,) = info.value.problems
    assert "duplicate sprite name 'orc'" in str(problem)
    assert "a.yaml:1" in str(problem) and "sub/b.yaml:3" in str(problem)


def test_two_sprites_cannot_write_the_same_file(tmp_path: Path) -> None:
    specs = {
        "a.yaml": "sprites:\n  - {name: a, category: item, prompt: p, output: {path: x/y.png}}\n"
        "  - {name: b, category: item, prompt: p, output: {path: x/y.png}}\n"
    }
    settings = make_project(tmp_path, specs, copy_samples=False)
    with pytest.raises(SpecError, match=r"output path 'x/y\.png' is also used by sprite 'a'"):
        load_specs(settings.specs_dir)


def test_error_in_defaults_points_at_the_defaults_file(tmp_path: Path) -> None:
    settings = make_project(tmp_path, {"a.yaml": "name: a\ncategory: enemy\nprompt: p\n"}, copy_samples=False)
    (settings.specs_dir / "_defaults.yaml").write_text("defaults:\n  palette: nope\n")
    with pytest.raises(SpecError) as info:
        load_specs(settings.specs_dir)
    assert any(p.file == "_defaults.yaml" and p.line == 2 and p.sprite == "a" for p in info.value.problems)


def test_huge_file_is_refused(tmp_path: Path) -> None:
    settings = make_project(tmp_path, {"big.yaml": "name: a\n" + "#" * 1_100_000 + "\n"}, copy_samples=False)
    with pytest.raises(SpecError, match="spec files are limited to that size"):
        load_specs(settings.specs_dir)


def test_palette_kinds_parse() -> None:
    base = {"name": "a", "category": "item", "prompt": "p"}
    assert SpriteSpec(**base, palette="PICO-8").palette == "pico-8"
    assert SpriteSpec(**base, palette=["FF0000", "#00ff00"]).palette == ["#ff0000", "#00ff00"]
    assert SpriteSpec(**base, palette={"adaptive": 12}).palette == AdaptivePalette(adaptive=12)


def test_committed_json_schema_is_current() -> None:
    committed = (REPO / "sprite_specs" / "sprite-spec.schema.json").read_text()
    assert committed == render_schema(read_categories(REPO / "sprite_specs")), "run `sprites schema --write`"
    schema = json.loads(committed)
    assert "32x32" in schema["$defs"]["Size"]["anyOf"][0]["examples"]
    assert "pico-8" in schema["$defs"]["Sprite"]["properties"]["palette"]["anyOf"][0]["enum"]
