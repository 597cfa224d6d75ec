"""Structural parameter binding: set spec values into a template's node inputs. Pure: no network, no dagster.

Binding sets node inputs, never edits text: each parameter has *targets* (node id + input name), named in the
template's sidecar (see ``templates.py``) or found from the graph. Found from the graph: the sampler (the one
KSampler/KSamplerAdvanced) takes seed, steps, cfg, sampler, scheduler, denoise; following its
``positive``/``negative`` links leads to the text encoders; walking upstream from the SaveImage node's ``images``
(through VAEDecode -> KSampler.latent_image -> ...) the first node with width/height takes the render size and
the first with batch_size/amount the batch (one image per animation frame); the CheckpointLoaderSimple takes the
checkpoint; LoraLoader nodes on the sampler's model chain take the spec's LoRAs (missing ones are inserted,
unused ones bypassed by rewiring); LoadImage takes the init image. A binding that matches nothing it must, or
matches more than one node, is an error naming the template.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.core.generate.comfyui.templates import BindingError, Target, Template, problem
from pipeline.errors import SpecProblem

__all__ = ["PREFIX_PLACEHOLDER", "BindValues", "Plan", "bind", "plan"]

#: the filename_prefix in a resolved payload; the dispatcher replaces it with a unique one per job
PREFIX_PLACEHOLDER = "sprites/render"

SAMPLERS: dict[str, dict[str, str]] = {
    "KSampler": {
        "seed": "seed",
        "steps": "steps",
        "cfg": "cfg",
        "sampler": "sampler_name",
        "scheduler": "scheduler",
        "denoise": "denoise",
    },
    "KSamplerAdvanced": {
        "seed": "noise_seed",
        "steps": "steps",
        "cfg": "cfg",
        "sampler": "sampler_name",
        "scheduler": "scheduler",
    },
}
TEXT_ENCODERS = {"CLIPTextEncode": ("text",), "CLIPTextEncodeSDXL": ("text_g", "text_l")}
SAVE_NODES = ("SaveImage",)
CHECKPOINT_LOADERS = {"CheckpointLoaderSimple": "ckpt_name"}
LORA_LOADER = "LoraLoader"
LOAD_IMAGE = "LoadImage"
#: inputs followed upstream from the output when looking for the size and batch
_IMAGE_LINKS = ("images", "image", "pixels", "samples", "latent_image", "latent")
_BATCH_INPUTS = ("batch_size", "amount")


@dataclass(frozen=True)
class Plan:
    """Where each parameter goes in one template (empty tuple: the template does not use it)."""

    template: Template
    targets: dict[str, tuple[Target, ...]]
    save_node: str
    lora_chain: tuple[str, ...]  # LoraLoader ids, from the checkpoint outward
    lora_anchor: str | None  # the node new LoRAs attach after (checkpoint loader or last LoraLoader)
    sampler: str | None = None  # no sampler: a model-free template, which ignores prompts, models and LoRAs

    def summary(self) -> dict[str, str]:
        out = {
            p: ", ".join(f"{self.template.describe(t.node)}.{t.input}" for t in ts) for p, ts in self.targets.items()
        }
        if self.sampler is None:
            out["loras"] = ""
        else:
            out["loras"] = ", ".join(self.template.describe(n) for n in self.lora_chain) or "(inserted as needed)"
        return {k: v or "(not used by this template)" for k, v in out.items()}


@dataclass(frozen=True)
class BindValues:
    """The spec's values for one render."""

    positive: str
    negative: str
    seed: int
    steps: int
    cfg: float
    sampler: str
    scheduler: str
    denoise: float
    width: int
    height: int
    batch: int
    checkpoint: str
    loras: tuple[tuple[str, float], ...] = ()
    init_image: str | None = None  # the name LoadImage will see on the server
    sprite: str | None = None


# ---- graph discovery --------------------------------------------------------------------------------------


def _link(value: Any) -> str | None:
    return str(value[0]) if isinstance(value, list) and len(value) == 2 else None


def _nodes_of(graph: dict[str, Any], classes: Iterable[str]) -> list[str]:
    wanted = set(classes)
    return [nid for nid, node in graph.items() if node["class_type"] in wanted]


def _upstream(graph: dict[str, Any], start: str) -> Iterator[str]:
    """Nodes reached from ``start`` by following image/latent inputs (first match per node)."""
    seen = set()
    nid: str | None = start
    while nid is not None and nid in graph and nid not in seen:
        seen.add(nid)
        yield nid
        inputs = graph[nid].get("inputs", {})
        nid = next((_link(inputs[k]) for k in _IMAGE_LINKS if _link(inputs.get(k))), None)


def _trace_text(graph: dict[str, Any], start: str | None, role: str) -> list[Target]:
    """From a sampler's positive/negative link to the text encoder(s) (through conditioning nodes)."""
    nid, hops = start, 0
    while nid is not None and nid in graph and hops < 16:
        node = graph[nid]
        if node["class_type"] in TEXT_ENCODERS:
            return [Target(nid, i) for i in TEXT_ENCODERS[node["class_type"]] if i in node.get("inputs", {})]
        inputs = node.get("inputs", {})
        nid = next((_link(inputs[k]) for k in (role, "conditioning", "conditioning_to") if _link(inputs.get(k))), None)
        hops += 1
    return []


def plan(template: Template) -> Plan:
    """Find every parameter's targets in ``template``. Raises BindingError (ambiguous or missing targets)."""
    g, ex, shown = template.graph, template.explicit, template.shown or str(template.path)
    problems: list[SpecProblem] = []
    targets: dict[str, tuple[Target, ...]] = {}
    fix = f"name the target in {template.name}.bindings.yaml"

    def found(param: str, auto: list[Target] | None) -> None:
        if param in ex:
            targets[param] = ex[param] or ()
        else:
            targets[param] = tuple(auto or ())

    # the output node and its filename_prefix
    saves = _nodes_of(g, SAVE_NODES)
    save_node = ""
    if ex.get("filename_prefix"):
        save_node = ex["filename_prefix"][0].node  # type: ignore[index]
        found("filename_prefix", None)
    elif len(saves) == 1:
        save_node = saves[0]
        found("filename_prefix", [Target(save_node, "filename_prefix")])
    else:
        what = "no SaveImage node" if not saves else f"{len(saves)} SaveImage nodes ({', '.join(saves)})"
        problems.append(
            problem(shown, f"{what}: the pipeline needs exactly one output to download; {fix} (filename_prefix)")
        )

    # the sampler
    samplers = _nodes_of(g, SAMPLERS)
    sampler = samplers[0] if len(samplers) == 1 else None
    if len(samplers) > 1:
        unnamed = [p for p in ("seed", "steps", "cfg", "sampler", "scheduler", "positive", "negative") if p not in ex]
        if unnamed:
            problems.append(
                problem(
                    shown,
                    f"{len(samplers)} sampler nodes ({', '.join(samplers)}): which one takes "
                    f"{', '.join(unnamed)} is ambiguous; {fix}",
                )
            )
    for param in ("seed", "steps", "cfg", "sampler", "scheduler", "denoise"):
        auto = []
        if sampler is not None:
            name = SAMPLERS[g[sampler]["class_type"]].get(param)
            if name and name in g[sampler].get("inputs", {}):
                auto = [Target(sampler, name)]
        found(param, auto)
    for role in ("positive", "negative"):
        auto = []
        if sampler is not None and role not in ex:
            auto = _trace_text(g, _link(g[sampler]["inputs"].get(role)), role)
            if not auto:
                problems.append(
                    problem(
                        shown,
                        f"{template.describe(sampler)}: its '{role}' input does not lead to a "
                        f"CLIPTextEncode; {fix} ({role})",
                    )
                )
        found(role, auto)

    # size and batch: walk upstream from the output
    size: list[Target] = []
    batch: list[Target] = []
    if save_node:
        start = _link(g[save_node]["inputs"].get("images"))
        for nid in _upstream(g, start) if start else ():
            inputs = g[nid].get("inputs", {})
            if not size and "width" in inputs and "height" in inputs:
                size = [Target(nid, "width"), Target(nid, "height")]
            if not batch:
                name = next((b for b in _BATCH_INPUTS if b in inputs and not _link(inputs[b])), None)
                if name:
                    batch = [Target(nid, name)]
    found("width", size[:1])
    found("height", size[1:])
    found("batch", batch)
    for param in ("width", "height"):
        if not targets[param]:
            problems.append(problem(shown, f"no node sets the render {param} of the output; {fix} ({param})"))

    # checkpoint, LoRAs, init image
    ckpts = _nodes_of(g, CHECKPOINT_LOADERS)
    if len(ckpts) > 1 and "checkpoint" not in ex:
        problems.append(problem(shown, f"{len(ckpts)} checkpoint loaders ({', '.join(ckpts)}); {fix} (checkpoint)"))
    found("checkpoint", [Target(ckpts[0], CHECKPOINT_LOADERS[g[ckpts[0]]["class_type"]])] if len(ckpts) == 1 else [])
    chain: list[str] = []
    anchor = None
    if sampler is not None:
        model = _link(g[sampler]["inputs"].get("model"))
        while model is not None and model in g and g[model]["class_type"] == LORA_LOADER:
            chain.insert(0, model)
            model = _link(g[model]["inputs"].get("model"))
        if model is not None and model in g and g[model]["class_type"] in CHECKPOINT_LOADERS:
            anchor = chain[-1] if chain else model
    loads = _nodes_of(g, [LOAD_IMAGE])
    if len(loads) > 1 and "init_image" not in ex:
        problems.append(problem(shown, f"{len(loads)} LoadImage nodes ({', '.join(loads)}); {fix} (init_image)"))
    found("init_image", [Target(loads[0], "image")] if len(loads) == 1 else [])

    for param, ts in targets.items():
        for t in ts:
            if _link(g[t.node]["inputs"].get(t.input)):
                problems.append(
                    problem(
                        shown,
                        f"'{param}' -> {template.describe(t.node)} input '{t.input}' is a link, not a "
                        f"value; bind the node that holds the value ({fix})",
                    )
                )
    if problems:
        raise BindingError(problems)
    return Plan(template, targets, save_node, tuple(chain), anchor, sampler)


# ---- binding ----------------------------------------------------------------------------------------------


def bind(p: Plan, values: BindValues) -> dict[str, Any]:
    """The template graph with ``values`` set in place (a new dict). Raises BindingError if the spec needs a
    target the template lacks (LoRAs without a checkpoint, frames without a batch input, img2img mismatches)."""
    t = p.template
    shown = t.shown or str(t.path)
    g = copy.deepcopy(t.graph)
    problems = []

    def put(param: str, value: Any) -> None:
        for target in p.targets.get(param, ()):
            v = value % target.modulo if target.modulo else value
            g[target.node]["inputs"][target.input] = v

    put("positive", values.positive)
    put("negative", values.negative)
    put("seed", values.seed)
    put("steps", int(values.steps))
    put("cfg", float(values.cfg))
    put("sampler", values.sampler)
    put("scheduler", values.scheduler)
    put("denoise", float(values.denoise))
    put("width", int(values.width))
    put("height", int(values.height))
    put("checkpoint", values.checkpoint)
    put("filename_prefix", PREFIX_PLACEHOLDER)
    if p.targets.get("batch"):
        put("batch", int(values.batch))
    elif values.batch > 1:
        problems.append(
            problem(
                shown,
                f"the spec has {values.batch} animation frames but nothing in the template sets a batch "
                f"size (EmptyLatentImage.batch_size / RepeatLatentBatch.amount); add one or name it in "
                f"{t.name}.bindings.yaml (batch)",
                values.sprite,
            )
        )
    if values.init_image is not None and not p.targets.get("init_image"):
        problems.append(
            problem(
                shown,
                "the spec sets generation.init_image but the template has no LoadImage node; "
                "use an img2img template (e.g. sdxl_pixel_art_img2img)",
                values.sprite,
            )
        )
    elif values.init_image is None and p.targets.get("init_image"):
        node = p.targets["init_image"][0].node
        problems.append(
            problem(
                shown,
                f"the template loads an input image ({t.describe(node)}) but the spec sets no generation.init_image",
                values.sprite,
            )
        )
    else:
        put("init_image", values.init_image)
    problems += _bind_loras(g, p, values)
    if problems:
        raise BindingError(problems)
    return g


def _bind_loras(g: dict[str, Any], p: Plan, values: BindValues) -> list[SpecProblem]:
    loras = list(values.loras)
    chain = list(p.lora_chain)
    if p.sampler is None:
        return []
    if loras and p.lora_anchor is None:
        return [
            problem(
                str(p.template.path),
                "the spec has LoRAs but the template's sampler model does not come from a "
                "CheckpointLoaderSimple (optionally through LoraLoader nodes) to attach them to",
                values.sprite,
            )
        ]
    for nid, (name, strength) in zip(chain, loras, strict=False):
        inputs = g[nid]["inputs"]
        inputs["lora_name"] = name
        inputs["strength_model"] = float(strength)
        inputs["strength_clip"] = float(strength)
    for nid in chain[len(loras) :]:  # bypass: consumers of its outputs read its inputs instead
        model, clip = g[nid]["inputs"].get("model"), g[nid]["inputs"].get("clip")
        _rewire(g, nid, {0: model, 1: clip})
        del g[nid]
    anchor = chain[min(len(loras), len(chain)) - 1] if loras and chain else p.lora_anchor
    for name, strength in loras[len(chain) :]:
        assert anchor is not None
        new = _new_id(g)
        _rewire(g, anchor, {0: [new, 0], 1: [new, 1]})
        g[new] = {
            "class_type": LORA_LOADER,
            "inputs": {
                "model": [anchor, 0],
                "clip": [anchor, 1],
                "lora_name": name,
                "strength_model": float(strength),
                "strength_clip": float(strength),
            },
            "_meta": {"title": f"LoRA {name} (added by sprites)"},
        }
        anchor = new
    return []


def _rewire(g: dict[str, Any], source: str, slots: dict[int, Any]) -> None:
    for node in g.values():
        for key, value in node.get("inputs", {}).items():
            if _link(value) == source and value[1] in slots and slots[value[1]] is not None:
                node["inputs"][key] = list(slots[value[1]])


def _new_id(g: dict[str, Any]) -> str:
    numeric = [int(k) for k in g if k.isdigit()]
    return str(max(numeric, default=0) + 1) if numeric else f"n{len(g) + 1}"
