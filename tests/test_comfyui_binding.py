"""Templates and structural binding (pure: no server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pipeline.core.generate.comfyui import ComfyUIBackend
from pipeline.core.generate.comfyui.binding import PREFIX_PLACEHOLDER, BindValues, bind, plan
from pipeline.core.generate.comfyui.templates import BindingError, list_templates, load_template
from pipeline.errors import SpecError
from tests.comfyui_server.testing import WORKFLOWS, make_spec, settings_for

VALUES = BindValues(
    positive="a goblin",
    negative="blurry",
    seed=1234,
    steps=12,
    cfg=5.5,
    sampler="euler",
    scheduler="karras",
    denoise=0.6,
    width=256,
    height=128,
    batch=4,
    checkpoint="pixel_art_diffusion_xl.safetensors",
    loras=(("pixel-art-xl.safetensors", 0.8),),
)


def _write(tmp: Path, name: str, graph: Any, sidecar: str | None = None) -> Path:
    (tmp / f"{name}.json").write_text(json.dumps(graph))
    if sidecar is not None:
        (tmp / f"{name}.bindings.yaml").write_text(sidecar)
    return tmp


def _sdxl() -> dict[str, Any]:
    return json.loads((WORKFLOWS / "sdxl_pixel_art.json").read_text())


def test_shipped_templates_exist_and_plan() -> None:
    assert {"sdxl_pixel_art", "sdxl_pixel_art_img2img", "smoke_no_models"} <= set(list_templates(WORKFLOWS))
    for name in list_templates(WORKFLOWS):
        p = plan(load_template(WORKFLOWS, name))
        assert p.save_node and p.targets["width"] and p.targets["height"]


@pytest.mark.parametrize(
    ("param", "node", "input_name", "expected"),
    [
        ("positive", "6", "text", "a goblin"),
        ("negative", "7", "text", "blurry"),
        ("seed", "3", "seed", 1234),
        ("steps", "3", "steps", 12),
        ("cfg", "3", "cfg", 5.5),
        ("sampler", "3", "sampler_name", "euler"),
        ("scheduler", "3", "scheduler", "karras"),
        ("denoise", "3", "denoise", 0.6),
        ("width", "5", "width", 256),
        ("height", "5", "height", 128),
        ("batch", "5", "batch_size", 4),
        ("checkpoint", "4", "ckpt_name", "pixel_art_diffusion_xl.safetensors"),
        ("lora", "10", "lora_name", "pixel-art-xl.safetensors"),
        ("lora strength", "10", "strength_clip", 0.8),
        ("filename_prefix", "9", "filename_prefix", PREFIX_PLACEHOLDER),
    ],
)
def test_sdxl_binding_sets_node_inputs(param: str, node: str, input_name: str, expected: Any) -> None:
    graph = bind(plan(load_template(WORKFLOWS, "sdxl_pixel_art")), VALUES)
    assert graph[node]["inputs"][input_name] == expected


def test_binding_is_structural_and_leaves_the_template_untouched() -> None:
    template = load_template(WORKFLOWS, "sdxl_pixel_art")
    before = json.dumps(template.graph, sort_keys=True)
    tricky = BindValues(**{**VALUES.__dict__, "positive": 'a "quoted" {prompt} with ["3", 0] and \\ backslash'})
    graph = bind(plan(template), tricky)
    assert graph["6"]["inputs"]["text"] == tricky.positive
    assert graph["6"]["inputs"]["clip"] == ["10", 1]  # links untouched
    assert json.dumps(template.graph, sort_keys=True) == before


def test_img2img_template_binds_size_batch_and_init_image() -> None:
    p = plan(load_template(WORKFLOWS, "sdxl_pixel_art_img2img"))
    graph = bind(p, BindValues(**{**VALUES.__dict__, "init_image": "sprites-init-abc.png"}))
    assert graph["11"]["inputs"]["image"] == "sprites-init-abc.png"
    assert (graph["12"]["inputs"]["width"], graph["12"]["inputs"]["height"]) == (256, 128)
    assert graph["14"]["inputs"]["amount"] == 4
    assert graph["3"]["inputs"]["denoise"] == 0.6
    with pytest.raises(BindingError, match=r"sets no generation\.init_image"):
        bind(p, VALUES)
    with pytest.raises(BindingError, match="no LoadImage node"):
        bind(plan(load_template(WORKFLOWS, "sdxl_pixel_art")), BindValues(**{**VALUES.__dict__, "init_image": "x.png"}))


def test_smoke_template_uses_the_sidecar_and_ignores_model_settings() -> None:
    p = plan(load_template(WORKFLOWS, "smoke_no_models"))
    graph = bind(p, BindValues(**{**VALUES.__dict__, "seed": 2**40 + 5}))
    assert graph["9"]["inputs"]["width"] == 256 and graph["9"]["inputs"]["height"] == 128  # the upscale to render size
    assert graph["1"]["inputs"]["batch_size"] == 4  # one background per frame
    assert graph["2"]["inputs"]["color"] == (2**40 + 5) % 2**24  # the body colour from the seed
    assert set(graph) == {str(i) for i in range(1, 11)}  # no LoRA inserted into a model-free graph
    assert "not used" in p.summary()["positive"]


def test_more_loras_are_inserted_and_fewer_are_bypassed() -> None:
    p = plan(load_template(WORKFLOWS, "sdxl_pixel_art"))
    three = BindValues(**{**VALUES.__dict__, "loras": (("a", 0.5), ("b", 0.6), ("c", 0.7))})
    graph = bind(p, three)
    chain, node = [], graph["3"]["inputs"]["model"][0]
    while graph[node]["class_type"] == "LoraLoader":
        chain.insert(0, graph[node]["inputs"]["lora_name"])
        assert graph["6"]["inputs"]["clip"][0] in graph  # clip consumers rewired to existing nodes
        node = graph[node]["inputs"]["model"][0]
    assert chain == ["a", "b", "c"] and graph[node]["class_type"] == "CheckpointLoaderSimple"
    assert graph["6"]["inputs"]["clip"] == [graph["3"]["inputs"]["model"][0], 1]
    none = bind(p, BindValues(**{**VALUES.__dict__, "loras": ()}))
    assert "10" not in none
    assert none["3"]["inputs"]["model"] == ["4", 0] and none["6"]["inputs"]["clip"] == ["4", 1]


def test_sidecar_targets_by_title_and_id(tmp_path: Path) -> None:
    graph = _sdxl()
    graph["6"]["_meta"]["title"] = "Hero prompt"
    sidecar = (
        "bindings:\n"
        '  positive: {title: "Hero prompt", input: text}\n'
        "  negative: null\n"
        "  seed: [{node: 3, input: seed}]\n"
    )
    p = plan(load_template(_write(tmp_path, "custom", graph, sidecar), "custom"))
    bound = bind(p, VALUES)
    assert bound["6"]["inputs"]["text"] == "a goblin"
    assert bound["7"]["inputs"]["text"] == graph["7"]["inputs"]["text"]  # negative: not bound


@pytest.mark.parametrize(
    ("mutate", "sidecar", "message"),
    [
        (lambda g: g.update({"20": {**g["3"]}}), None, "2 sampler nodes"),
        (lambda g: g.update({"21": {**g["9"]}}), None, "2 SaveImage nodes"),
        (lambda g: g.pop("9"), None, "no SaveImage node"),
        (
            lambda g: g["3"]["inputs"].update(positive=["5", 0]),
            None,
            "'positive' input does not lead to a CLIPTextEncode",
        ),
        (lambda g: g["6"]["inputs"].update(text=["30", 0]), None, "is a link, not a value"),
        (lambda g: None, "bindings:\n  seed: {node: 99, input: seed}\n", "has no node 99"),
        (lambda g: None, "bindings:\n  seed: {node: 3, input: sed}\n", "has no input 'sed'"),
        (lambda g: None, "bindings:\n  colour: {node: 3, input: seed}\n", "unknown parameter 'colour'"),
        (lambda g: None, "bindings:\n  positive: {title: Nope, input: text}\n", "no node has the title 'Nope'"),
    ],
)
def test_bad_templates_are_errors_naming_the_template(
    tmp_path: Path, mutate: Any, sidecar: str | None, message: str
) -> None:
    graph = _sdxl()
    mutate(graph)
    _write(tmp_path, "broken", graph, sidecar)
    with pytest.raises(BindingError, match=message) as info:
        plan(load_template(tmp_path, "broken"))
    assert "broken" in str(info.value)


def test_ui_format_and_missing_templates_are_explained(tmp_path: Path) -> None:
    _write(tmp_path, "ui", {"nodes": [], "links": [], "version": 0.4})
    with pytest.raises(BindingError, match=r"Export \(API\)"):
        load_template(tmp_path, "ui")
    with pytest.raises(BindingError, match=r"'nope' does not exist.*ui"):
        load_template(tmp_path, "nope")


def test_frames_need_a_batch_target(tmp_path: Path) -> None:
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
        "2": {
            "class_type": "ImageScale",
            "inputs": {
                "image": ["1", 0],
                "upscale_method": "nearest-exact",
                "width": 8,
                "height": 8,
                "crop": "disabled",
            },
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
    }
    p = plan(load_template(_write(tmp_path, "nobatch", graph), "nobatch"))
    with pytest.raises(BindingError, match="4 animation frames"):
        bind(p, BindValues(**{**VALUES.__dict__, "init_image": "x.png"}))
    assert bind(p, BindValues(**{**VALUES.__dict__, "init_image": "x.png", "batch": 1}))["2"]["inputs"]["width"] == 256


# ---- through the backend's resolve() -------------------------------------------------------------------------


def test_resolve_payload_and_key(tmp_path: Path) -> None:
    backend = ComfyUIBackend(project_dir=tmp_path)
    settings = settings_for(tmp_path)
    req = backend.resolve(make_spec("goblin", frames=3, size=16, render_scale=8, seed=7), settings)
    assert (req.width, req.height, req.frames) == (128, 128, 3)
    graph = req.payload["graph"]
    assert graph[req.payload["save_node"]]["inputs"]["filename_prefix"] == PREFIX_PLACEHOLDER
    assert graph["5"]["inputs"]["batch_size"] == 3
    same = backend.resolve(make_spec("goblin", frames=3, size=16, render_scale=8, seed=7), settings)
    assert same.key == req.key
    other_prompt = backend.resolve(make_spec("goblin", frames=3, size=16, seed=7, prompt="other"), settings)
    assert other_prompt.key != req.key
    renamed = backend.resolve(
        make_spec("orc", frames=3, size=16, render_scale=8, seed=7, prompt="pixel art goblin"), settings
    )
    assert renamed.key == req.key  # the sprite's name is not part of the render
    assert "orc" not in json.dumps(renamed.payload)


def test_resolve_errors_name_sprite_template_and_fix(tmp_path: Path) -> None:
    backend = ComfyUIBackend(project_dir=tmp_path)
    settings = settings_for(tmp_path)
    with pytest.raises(SpecError) as info:
        backend.resolve(make_spec("hero", workflow="sdxl_pixel_art_img2img"), settings)
    text = str(info.value)
    assert "hero" in text and "sdxl_pixel_art_img2img.json" in text and "init_image" in text
    with pytest.raises(SpecError, match=r"init_image 'missing\.png' is not readable"):
        backend.resolve(make_spec("hero", workflow="sdxl_pixel_art_img2img", init_image="missing.png"), settings)


def test_resolve_init_image_is_content_addressed(tmp_path: Path) -> None:
    Image.new("RGB", (16, 16), (200, 10, 10)).save(tmp_path / "ref.png")
    backend = ComfyUIBackend(project_dir=tmp_path)
    settings = settings_for(tmp_path)
    spec = make_spec("hero", workflow="sdxl_pixel_art_img2img", init_image="ref.png", denoise=0.5)
    first = backend.resolve(spec, settings)
    name = first.payload["graph"]["11"]["inputs"]["image"]
    assert name.startswith("sprites-init-") and first.payload["init_image"]["path"] == "ref.png"
    Image.new("RGB", (16, 16), (10, 200, 10)).save(tmp_path / "ref.png")
    second = backend.resolve(spec, settings)
    assert second.payload["graph"]["11"]["inputs"]["image"] != name and second.key != first.key


def _structure(graph: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """Nodes, classes and links of a graph: everything a prompt must never be able to change."""
    return sorted(
        (nid, node["class_type"], name, value)
        for nid, node in graph.items()
        for name, value in node["inputs"].items()
        if isinstance(value, list)
    ) + sorted((nid, node["class_type"], "", None) for nid, node in graph.items())


@settings(max_examples=300, deadline=None)
@given(positive=st.text(max_size=300), negative=st.text(max_size=100))
def test_prompt_text_can_never_alter_the_workflow_structure(positive: str, negative: str) -> None:
    template = load_template(WORKFLOWS, "sdxl_pixel_art")
    graph = bind(plan(template), BindValues(**{**VALUES.__dict__, "positive": positive, "negative": negative}))
    assert _structure(graph) == _structure(bind(plan(template), VALUES))
    texts = sorted(node["inputs"]["text"] for node in graph.values() if node["class_type"] == "CLIPTextEncode")
    assert texts == sorted([positive, negative])


@pytest.mark.parametrize(
    ("size", "render_scale", "expected"),
    [
        pytest.param(32, None, (1024, 1024), id="square-sprite-native-1024"),
        pytest.param(16, None, (1024, 1024), id="tiny-sprite-still-1024"),
        pytest.param("48x32", None, (1216, 832), id="wide-sprite-nearest-bucket"),
        pytest.param("16x48", None, (640, 1536), id="tall-sprite-nearest-bucket"),
        pytest.param(32, 8, (256, 256), id="explicit-render-scale-overrides"),
    ],
)
def test_render_size_is_the_templates_native_size_unless_the_spec_sets_a_scale(
    tmp_path: Path, size: object, render_scale: int | None, expected: tuple[int, int]
) -> None:
    backend = ComfyUIBackend(project_dir=tmp_path)
    settings = settings_for(tmp_path)
    req = backend.resolve(make_spec("goblin", size=size, seed=7, render_scale=render_scale), settings)
    assert (req.width, req.height) == expected
    graph = req.payload["graph"]
    assert [n["inputs"]["width"] for n in graph.values() if "width" in n["inputs"]] == [expected[0]]


def test_a_template_without_a_declared_size_renders_at_8x_and_a_bad_declaration_names_the_file(
    tmp_path: Path,
) -> None:
    from pipeline.core.generate.comfyui.templates import load_template, render_size

    root = Path(__file__).resolve().parents[1] / "comfy_workflows"
    smoke = load_template(root, "smoke_no_models")
    assert smoke.render_sizes == () and render_size(smoke, 24, 16, None) == (192, 128)
    (tmp_path / "t.json").write_text((root / "sdxl_pixel_art.json").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "t.bindings.yaml").write_text("render: {native: [1024]}\n", encoding="utf-8")
    with pytest.raises(BindingError, match=r"t\.bindings\.yaml.*\[1024\] is not a size \[W, H\]"):
        load_template(tmp_path, "t")
