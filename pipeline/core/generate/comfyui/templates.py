"""Workflow templates: ComfyUI "Save (API format)" exports in ``comfy_workflows/`` and their binding sidecars.

``comfy_workflows/<name>.json`` is ``{node_id: {class_type, inputs, _meta}}``; an optional
``<name>.bindings.yaml`` names targets explicitly::

    bindings:
      positive: {title: "Positive prompt", input: text}   # by node title (survives re-export) ...
      seed: {node: "3", input: seed}                       # ... or by node id
      negative: null                                       # this template takes no negative prompt

Loading checks the shape (API format, not the UI format) and every explicit target (the node exists, has that
input). Pure: no network, no dagster.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import SpecError, SpecProblem

__all__ = [
    "DEFAULT_RENDER_SCALE",
    "PARAMS",
    "BindingError",
    "Target",
    "Template",
    "list_templates",
    "load_template",
    "problem",
    "render_size",
]

#: render px per sprite px for a template that declares no native render size (and a spec without render_scale)
DEFAULT_RENDER_SCALE = 8

#: every parameter a spec can bind into a template
PARAMS = (
    "positive",
    "negative",
    "seed",
    "steps",
    "cfg",
    "sampler",
    "scheduler",
    "denoise",
    "width",
    "height",
    "batch",
    "checkpoint",
    "init_image",
    "filename_prefix",
)


class BindingError(SpecError):
    """A template cannot take a spec: each problem names the template file, the node and input, and the fix."""


@dataclass(frozen=True)
class Target:
    node: str
    input: str
    modulo: int | None = None

    def __str__(self) -> str:
        return f"node {self.node}.{self.input}"


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    graph: dict[str, Any]
    explicit: dict[str, tuple[Target, ...] | None]
    sidecar: Path | None = None
    shown: str = ""  # the path as messages show it (relative to the project when possible)
    render_sizes: tuple[tuple[int, int], ...] = ()  # native size first, then the other aspect buckets

    def describe(self, node: str) -> str:
        return f"node {node} ({self.graph[node]['class_type']})"


def list_templates(workflows_dir: Path) -> list[str]:
    return sorted(p.stem for p in Path(workflows_dir).glob("*.json"))


def problem(template_path: Path | str, message: str, sprite: str | None = None) -> SpecProblem:
    return SpecProblem(file=str(template_path), message=message, sprite=sprite, field="generation.workflow")


def load_template(workflows_dir: Path, name: str, display_root: Path | None = None) -> Template:
    """Read ``<name>.json`` (API format) and its optional ``<name>.bindings.yaml``. Raises BindingError."""
    path = Path(workflows_dir) / f"{name}.json"
    shown = _shown(path, display_root)
    if not path.is_file():
        known = ", ".join(list_templates(workflows_dir)) or "none"
        raise BindingError(
            [problem(shown, f"workflow template '{name}' does not exist (templates in {workflows_dir}: {known})")]
        )
    try:
        graph = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BindingError([problem(shown, f"not readable JSON: {exc}")]) from exc
    if isinstance(graph, dict) and "nodes" in graph and "links" in graph:
        raise BindingError(
            [
                problem(
                    shown,
                    "this is ComfyUI's UI (graph) format; export it with Workflow > Export (API) "
                    "(or 'Save (API Format)' with dev mode enabled) and save that file instead",
                )
            ]
        )
    problems = []
    if not isinstance(graph, dict) or not graph:
        raise BindingError(
            [problem(shown, "an API-format workflow is a JSON object of nodes {id: {class_type, inputs}}")]
        )
    for node_id, node in graph.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            problems.append(problem(shown, f"node {node_id} has no class_type: is this an API-format export?"))
        elif not isinstance(node.get("inputs", {}), dict):
            problems.append(problem(shown, f"node {node_id} ({node['class_type']}): inputs must be an object"))
    if problems:
        raise BindingError(problems)
    sidecar = path.with_name(f"{name}.bindings.yaml")
    explicit, sizes = _load_sidecar(sidecar, graph, display_root) if sidecar.is_file() else ({}, ())
    return Template(name, path, graph, explicit, sidecar if sidecar.is_file() else None, shown, sizes)


def render_size(template: Template, width: int, height: int, render_scale: int | None) -> tuple[int, int]:
    """The render size for a ``width`` x ``height`` sprite: ``size x render_scale`` when the spec sets one,
    else the template's native size or the declared bucket nearest the sprite's aspect ratio, else 8x."""
    if render_scale is not None:
        return width * render_scale, height * render_scale
    if not template.render_sizes:
        return width * DEFAULT_RENDER_SCALE, height * DEFAULT_RENDER_SCALE
    aspect = math.log(width / height)
    return min(template.render_sizes, key=lambda wh: abs(math.log(wh[0] / wh[1]) - aspect))


def _render_sizes(raw: Any, shown: str) -> tuple[tuple[int, int], ...]:
    """``render: {native: [W, H], buckets: [[W, H], ...]}`` -> ((W, H), ...), native first."""
    if not isinstance(raw, dict) or "native" not in raw or set(raw) - {"native", "buckets"}:
        raise BindingError([problem(shown, "'render' is {native: [W, H], buckets: [[W, H], ...]} (buckets optional)")])
    sizes = []
    for item in [raw["native"], *(raw.get("buckets") or [])]:
        ok = isinstance(item, list) and len(item) == 2 and all(isinstance(v, int) and 64 <= v <= 8192 for v in item)
        if not ok:
            raise BindingError([problem(shown, f"'render': {item!r} is not a size [W, H] of 64 to 8192 px")])
        sizes.append((int(item[0]), int(item[1])))
    return tuple(dict.fromkeys(sizes))


def _shown(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def _load_sidecar(
    path: Path, graph: dict[str, Any], root: Path | None
) -> tuple[dict[str, tuple[Target, ...] | None], tuple[tuple[int, int], ...]]:
    shown = _shown(path, root)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BindingError([problem(shown, f"not readable YAML: {exc}")]) from exc
    if not isinstance(data, dict) or set(data) - {"bindings", "render"}:
        raise BindingError([problem(shown, "expected a mapping with the keys 'bindings' and (optionally) 'render'")])
    sizes = _render_sizes(data["render"], shown) if "render" in data else ()
    bindings = data.get("bindings") or {}
    if not isinstance(bindings, dict):
        raise BindingError([problem(shown, "'bindings' must map parameter names to targets")])
    titles: dict[str, list[str]] = {}
    for nid, node in graph.items():
        title = (node.get("_meta") or {}).get("title")
        if title:
            titles.setdefault(title, []).append(nid)
    out: dict[str, tuple[Target, ...] | None] = {}
    problems = []
    for param, raw in bindings.items():
        if param not in PARAMS:
            problems.append(problem(shown, f"unknown parameter '{param}'; bindable: {', '.join(PARAMS)}"))
            continue
        if raw is None:
            out[param] = None
            continue
        targets = []
        for item in raw if isinstance(raw, list) else [raw]:
            if not isinstance(item, dict) or "input" not in item or not ({"node", "title"} & set(item)):
                problems.append(
                    problem(shown, f"'{param}': a target is {{node: ID, input: NAME}} or {{title: ..., input: ...}}")
                )
                continue
            if "title" in item:
                ids = titles.get(str(item["title"]), [])
                if len(ids) != 1:
                    what = "no node has" if not ids else f"{len(ids)} nodes ({', '.join(ids)}) have"
                    problems.append(problem(shown, f"'{param}': {what} the title '{item['title']}'"))
                    continue
                nid = ids[0]
            else:
                nid = str(item["node"])
            node = graph.get(nid)
            if node is None:
                problems.append(problem(shown, f"'{param}': the template has no node {nid}"))
                continue
            inp = str(item["input"])
            if inp not in node.get("inputs", {}):
                have = ", ".join(node.get("inputs", {})) or "none"
                problems.append(
                    problem(
                        shown, f"'{param}': node {nid} ({node['class_type']}) has no input '{inp}' (it has: {have})"
                    )
                )
                continue
            modulo = item.get("modulo")
            targets.append(Target(nid, inp, int(modulo) if modulo is not None else None))
        out[param] = tuple(targets)
    if problems:
        raise BindingError(problems)
    return out, sizes
