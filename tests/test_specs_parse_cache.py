"""The parse cache of spec files: the same SpecSet as a full parse, whatever state the cache is in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.specs import load_spec_set, load_specs
from pipeline.core.specs import loader as loader_module
from pipeline.errors import SpecError
from tests.conftest import make_project


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The labels of the files the loader parsed as YAML (not taken from the cache)."""
    seen: list[str] = []
    real = loader_module.load_yaml_file

    def counting(path: Path, label: str, data: bytes | None = None) -> Any:
        seen.append(label)
        return real(path, label, data)

    monkeypatch.setattr(loader_module, "load_yaml_file", counting)
    return seen


def test_a_warm_cache_gives_the_full_parse_and_parses_only_what_changed(tmp_path: Path, parses: list[str]) -> None:
    settings = make_project(tmp_path / "p")
    cache = tmp_path / "state" / "specs-parse.json"
    full = load_specs(settings.specs_dir)
    files = sorted(set(parses))
    parses.clear()
    assert load_specs(settings.specs_dir, cache) == full  # cold: parses and fills the cache
    assert sorted(set(parses)) == files and cache.is_file()
    parses.clear()
    assert load_specs(settings.specs_dir, cache) == full  # warm: only _defaults.yaml is parsed
    assert parses == ["_defaults.yaml"]

    goblin = settings.specs_dir / "enemies" / "goblin.yaml"
    goblin.write_text(goblin.read_text().replace("goblin", "hobgoblin", 1))
    parses.clear()
    edited = load_specs(settings.specs_dir, cache)
    assert parses == ["_defaults.yaml", "enemies/goblin.yaml"]
    assert edited == load_specs(settings.specs_dir)
    assert "hobgoblin" in edited.specs and "goblin" not in edited.specs


def test_an_edit_of_the_defaults_reaches_every_cached_sprite(tmp_path: Path) -> None:
    settings = make_project(tmp_path / "p")
    cache = tmp_path / "specs-parse.json"
    before = load_specs(settings.specs_dir, cache)
    defaults = settings.specs_dir / "_defaults.yaml"
    defaults.write_text(defaults.read_text().replace("pixel-art-xl.safetensors", "other-lora.safetensors"))
    after = load_specs(settings.specs_dir, cache)
    assert after == load_specs(settings.specs_dir) != before
    assert any(lora.name == "other-lora.safetensors" for s in after for lora in s.spec.generation.loras)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other-key", "wrong-shape"])
def test_a_damaged_or_foreign_cache_is_ignored_and_rewritten(tmp_path: Path, damage: str) -> None:
    settings = make_project(tmp_path / "p")
    cache = tmp_path / "specs-parse.json"
    full = load_specs(settings.specs_dir, cache)
    data = json.loads(cache.read_text())
    if damage == "garbage":
        cache.write_bytes(b"\x00\xff not json")
    elif damage == "truncated":
        cache.write_text(cache.read_text()[: len(cache.read_text()) // 2])
    elif damage == "other-key":
        cache.write_text(json.dumps({**data, "key": "0" * 64}))
    else:
        label = next(iter(data["files"]))
        data["files"][label]["sprites"] = [["not a mapping", "no line"]]
        cache.write_text(json.dumps(data))
    assert load_specs(settings.specs_dir, cache) == full
    assert load_specs(settings.specs_dir, cache) == full


def test_a_cached_sprite_the_model_now_refuses_is_reported_with_its_file_and_line(tmp_path: Path) -> None:
    """What a model made stricter under an existing cache looks like: the loader parses again for lines."""
    settings = make_project(tmp_path / "p")
    cache = tmp_path / "specs-parse.json"
    load_specs(settings.specs_dir, cache)
    data = json.loads(cache.read_text())
    merged, line = data["files"]["enemies/goblin.yaml"]["sprites"][0]
    data["files"]["enemies/goblin.yaml"]["sprites"][0] = [{**merged, "size": "huge"}, line]
    cache.write_text(json.dumps(data))
    # the file itself is fine: a full parse loads it
    assert load_specs(settings.specs_dir, cache) == load_specs(settings.specs_dir)


def test_an_invalid_spec_is_never_cached_and_keeps_its_line(tmp_path: Path) -> None:
    settings = make_project(tmp_path / "p", {"enemies/orc.yaml": "name: orc\ncategory: enemy\n\npalete: db16\n"})
    cache = tmp_path / "specs-parse.json"
    for _ in range(2):
        with pytest.raises(SpecError) as err:
            load_specs(settings.specs_dir, cache)
        (problem,) = [p for p in err.value.problems if p.file == "enemies/orc.yaml" and "palete" in p.message]
        assert problem.line == 4
    assert "enemies/orc.yaml" not in json.loads(cache.read_text())["files"]
    assert "orc" not in load_spec_set(settings.specs_dir, cache).specs


def test_a_deleted_file_leaves_the_cache_and_the_result(tmp_path: Path) -> None:
    settings = make_project(tmp_path / "p")
    cache = tmp_path / "specs-parse.json"
    load_specs(settings.specs_dir, cache)
    (settings.specs_dir / "enemies" / "slime.yaml").unlink()
    after = load_specs(settings.specs_dir, cache)
    assert after == load_specs(settings.specs_dir) and "slime" not in after.specs
    assert "enemies/slime.yaml" not in json.loads(cache.read_text())["files"]


def test_an_unwritable_cache_folder_only_costs_the_cache(tmp_path: Path) -> None:
    settings = make_project(tmp_path / "p")
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder would go")
    assert load_specs(settings.specs_dir, blocker / "specs-parse.json") == load_specs(settings.specs_dir)
