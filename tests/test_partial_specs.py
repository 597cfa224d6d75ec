"""A long-running process loads the valid specs and keeps the problems of the others (issue 15 item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey

from pipeline.core.previews import INLINE_MARKDOWN_LIMIT, preview_markdown
from pipeline.core.specs import load_spec_set, load_specs
from pipeline.core.specs.problems import by_file, file_slug, summary_line
from pipeline.defs.automation.spec_checks import build_spec_problem_assets, spec_problem_evaluations
from pipeline.defs.location import build_definitions
from pipeline.errors import SpecError, SpecProblem

TWO = """\
defaults: {category: item}
sprites:
  - name: gem
    prompt: "blue gem"
  - name: coin
    prompt: "gold coin"
    palete: nes
"""
SLIME = "name: slime\ncategory: enemy\nprompt: slime\n"


def write(root: Path, files: dict[str, str]) -> Path:
    specs = root / "sprite_specs"
    for rel, text in files.items():
        (specs / rel).parent.mkdir(parents=True, exist_ok=True)
        (specs / rel).write_text(text)
    (root / "comfy_workflows").mkdir(exist_ok=True)
    return specs


@pytest.mark.parametrize(
    ("files", "loaded", "bad_files"),
    [
        ({"items.yaml": TWO, "slime.yaml": SLIME}, {"gem", "slime"}, {"items.yaml"}),  # a typo hides one sprite
        ({"items.yaml": "sprites: [\n", "slime.yaml": SLIME}, {"slime"}, {"items.yaml"}),  # YAML: the file
        ({"a.yaml": SLIME, "b.yaml": SLIME}, {"slime"}, {"b.yaml"}),  # a duplicate: the first one stays
        ({"_defaults.yaml": "defaults: {palete: x}\n", "slime.yaml": SLIME}, set(), {"_defaults.yaml"}),  # all
        ({"slime.yaml": SLIME}, {"slime"}, set()),
    ],
    ids=["typo-in-one-sprite", "yaml-error", "duplicate", "bad-defaults", "valid"],
)
def test_partial_load(tmp_path: Path, files: dict[str, str], loaded: set[str], bad_files: set[str]) -> None:
    spec_set = load_spec_set(write(tmp_path, files))
    assert set(spec_set.specs) == loaded
    assert set(by_file(spec_set.problems)) == bad_files
    assert set(spec_set.file_hashes) >= set(files)  # the sensor compares every file, the bad ones included
    if bad_files:
        with pytest.raises(SpecError) as caught:
            load_specs(tmp_path / "sprite_specs")
        assert caught.value.problems == list(spec_set.problems)


def test_problem_names_and_lines() -> None:
    assert file_slug("enemies/goblin.yaml") == "enemies__goblin_yaml"
    assert file_slug("a b/c.d.yml") == "a_b__c_d_yml"
    problems = [
        SpecProblem("x.yaml", "unknown field", line=3, sprite="coin", field="palete"),
        SpecProblem("x.yaml", "m"),
    ]
    assert (
        summary_line("x.yaml", problems)
        == "INVALID spec x.yaml:3: sprite 'coin': field 'palete': unknown field (+1 more)"
    )


def test_definitions_hold_the_good_sprites_and_one_failing_item_per_bad_file(tmp_path: Path) -> None:
    from pipeline.settings import Settings

    write(tmp_path, {"items.yaml": TWO, "slime.yaml": SLIME, "broken.yaml": "name: [\n"})
    settings = Settings.for_project(tmp_path)
    graph = build_definitions(settings).resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"gem/gem_bevy", "slime/slime_bevy", "bevy/manifest", "spec/items_yaml", "spec/broken_yaml"} <= keys
    assert not {k for k in keys if k.startswith("coin/")}
    item = graph.get(AssetKey(["spec", "items_yaml"]))
    assert (item.description or "").startswith("INVALID spec items.yaml:7: sprite 'coin': field 'palete'")
    assert item.group_name == "spec_errors"
    (evaluation,) = [
        e for e in spec_problem_evaluations(load_spec_set(settings.specs_dir)) if "items" in str(e.asset_key)
    ]
    assert not evaluation.passed and evaluation.metadata["line"].value == 7
    assert evaluation.metadata["field"].value == "palete"


def test_a_sprite_whose_workflow_cannot_be_bound_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    from pipeline.settings import Settings

    comfy = "name: orc\ncategory: enemy\nprompt: orc\ngeneration: {backend: comfyui, workflow: missing.json}\n"
    write(tmp_path, {"orc.yaml": comfy, "slime.yaml": SLIME})
    graph = build_definitions(Settings.for_project(tmp_path)).resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert "slime/slime_bevy" in keys and "orc/orc_bevy" not in keys and "spec/orc_yaml" in keys


def test_no_problem_no_item() -> None:
    assert build_spec_problem_assets(load_specs(Path(__file__).resolve().parent.parent / "sprite_specs")) == ([], [])


def test_previews_fit_inline_for_every_sample(tmp_path: Path) -> None:
    import io

    from PIL import Image

    samples = sorted((Path(__file__).resolve().parent.parent / "bevy_target/assets/sprites").rglob("*.png"))
    assert samples
    for png in samples:
        text = preview_markdown(png.read_bytes(), png.stem)
        assert len(text) < INLINE_MARKDOWN_LIMIT and text.startswith(f"![{png.stem}](data:image/png;base64,")
    # a large, noisy render shrinks until it fits too
    rng = __import__("numpy").random.default_rng(1)
    noisy = Image.fromarray(rng.integers(0, 255, (512, 512, 3), dtype="uint8"))
    buf = io.BytesIO()
    noisy.save(buf, "PNG")
    assert len(preview_markdown(buf.getvalue(), "render")) < INLINE_MARKDOWN_LIMIT


def test_without_the_sensor_the_bad_file_has_no_check_that_would_look_passed(tmp_path: Path) -> None:
    from pipeline.defs.automation import AutomationSettings
    from pipeline.settings import Settings

    write(tmp_path, {"items.yaml": TWO})
    settings = Settings.for_project(tmp_path)
    item = AssetKey(["spec", "items_yaml"])
    with_sensor = build_definitions(settings).resolve_asset_graph()
    assert {k.name for k in with_sensor.asset_check_keys if k.asset_key == item} == {"valid"}
    without = build_definitions(settings, automation=AutomationSettings(enabled="none")).resolve_asset_graph()
    assert item in without.get_all_asset_keys()
    assert not [k for k in without.asset_check_keys if k.asset_key == item]
