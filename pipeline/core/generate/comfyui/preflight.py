"""Preflight: can this server run that graph? Checked against ``/object_info`` before any GPU time is spent.

A graph *needs* every node class it uses, every choice it makes from a list (checkpoint, LoRA, sampler,
scheduler, ...) and every number to be within the input's min/max (a seed of -1, a cfg of 200): exactly what
ComfyUI's own validation would reject later, after queueing. ``/object_info`` lists each class and, per input,
the accepted values (for list inputs, the models installed on that server) and the numeric range.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.generate.comfyui.client import ComfyClient, RetryPolicy
from pipeline.errors import ServerError

__all__ = ["Missing", "ServerProbe", "missing_on", "probe_servers", "requirements"]

#: list inputs filled at submit time (uploaded files), not checked against the server's list
_UPLOADED = {("LoadImage", "image")}
_KIND = {
    "ckpt_name": "checkpoint",
    "lora_name": "LoRA",
    "vae_name": "VAE",
    "unet_name": "diffusion model",
    "clip_name": "text encoder",
    "control_net_name": "ControlNet",
    "model_name": "model",
}


@dataclass(frozen=True)
class Need:
    class_type: str
    input: str | None = None  # None: the class itself
    value: Any = None
    node: str = ""  #: the graph's node id (messages name it; a template's ids are stable)
    kind: str = "choice"  #: choice (a string: checked when the input is a list) | range (a number: min/max)

    @property
    def where(self) -> str:
        node = f"node {self.node}: " if self.node else ""
        return f"{node}{self.class_type}.{self.input}" if self.input else f"{node}{self.class_type}"

    def __str__(self) -> str:
        if self.input is None:
            return f"node class '{self.class_type}' ({self.where}; install the custom node)"
        if self.kind == "range":
            return f"value {self.value} for {self.where}"
        kind = _KIND.get(self.input)
        if kind:
            return f"{kind} '{self.value}' ({self.where})"
        return f"value '{self.value}' for {self.where}"


@dataclass(frozen=True)
class Missing:
    need: Need
    options: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = str(self.need)
        if self.need.kind == "range":
            text += f" is outside what the server accepts ({', '.join(self.options)})"
        elif self.need.input is not None and self.options:
            shown = ", ".join(self.options[:8]) + (", ..." if len(self.options) > 8 else "")
            text += f"; the server has: {shown}"
        elif self.need.input is not None:
            text += "; the server lists none"
        return text


def requirements(graph: Mapping[str, Any]) -> frozenset[Need]:
    """Every class, literal list-choice and literal number in ``graph`` (checked against object_info later)."""
    needs = set()
    for node_id, node in graph.items():
        cls = node["class_type"]
        needs.add(Need(cls, node=str(node_id)))
        for name, value in node.get("inputs", {}).items():
            if isinstance(value, str) and (cls, name) not in _UPLOADED:
                needs.add(Need(cls, name, value, str(node_id)))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                needs.add(Need(cls, name, value, str(node_id), kind="range"))
    return frozenset(needs)


def _out_of_range(value: Any, config: Any) -> tuple[str, ...]:
    """The bounds ``value`` breaks (``min 0``, ``max 100``) of an INT/FLOAT input; empty when it is inside."""
    if not isinstance(config, list) or len(config) < 2 or config[0] not in ("INT", "FLOAT"):
        return ()
    options = config[1] if isinstance(config[1], dict) else {}
    low, high = options.get("min"), options.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        return tuple(f"{k} {v}" for k, v in (("min", low), ("max", high)) if v is not None)
    return ()


def _options(config: Any) -> list[Any] | None:
    """The accepted values of a list input: ``[[a, b], {...}]`` or (newer) ``["COMBO", {"options": [...]}]``."""
    if not isinstance(config, list) or not config:
        return None
    if isinstance(config[0], list):
        return config[0]
    if config[0] == "COMBO" and len(config) > 1 and isinstance(config[1], dict):
        return list(config[1].get("options", []))
    return None


def missing_on(needs: Iterable[Need], object_info: Mapping[str, Any]) -> list[Missing]:
    """What ``object_info`` (one server) lacks of ``needs``, sorted for stable messages."""
    out = []
    for need in needs:
        info = object_info.get(need.class_type)
        if info is None:
            if need.input is None:
                out.append(Missing(need))
            continue
        if need.input is None:
            continue
        inputs = info.get("input", {}) if isinstance(info, dict) else {}
        config = (inputs.get("required") or {}).get(need.input) or (inputs.get("optional") or {}).get(need.input)
        if need.kind == "range":
            bounds = _out_of_range(need.value, config)
            if bounds:
                out.append(Missing(need, bounds))
            continue
        options = _options(config)
        if options is not None and need.value not in options:
            out.append(Missing(need, tuple(str(o) for o in options)))
    return sorted(out, key=lambda m: (m.need.input is not None, str(m)))


@dataclass
class ServerProbe:
    """What one server said to /system_stats and /object_info (or why it said nothing)."""

    url: str
    object_info: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        if self.error:
            return f"UNREACHABLE: {self.error}"
        system = self.stats.get("system", {})
        parts = [f"ComfyUI {system.get('comfyui_version', '?')}"]
        for dev in self.stats.get("devices", []) or []:
            total, free = dev.get("vram_total") or 0, dev.get("vram_free") or 0
            parts.append(f"{dev.get('name', '?')} ({total / 2**30:.0f} GiB VRAM, {free / 2**30:.0f} GiB free)")
        parts.append(f"{len(self.object_info)} node classes")
        return ", ".join(parts)


async def probe(client: ComfyClient, retry: RetryPolicy | None = None) -> ServerProbe:
    """/system_stats and /object_info of one server, asked at once (one round trip before the first job)."""
    result = ServerProbe(client.url)
    answers = await asyncio.gather(
        client.system_stats(retry=retry), client.object_info(retry=retry), return_exceptions=True
    )
    for answer in answers:
        if isinstance(answer, ServerError):
            result.error = str(answer).removeprefix(f"{client.url}: ")
            return result
        if isinstance(answer, BaseException):
            raise answer
    stats, info = answers
    assert isinstance(stats, dict) and isinstance(info, dict)
    result.stats, result.object_info = stats, info
    return result


def probe_servers(urls: Iterable[str], retry: RetryPolicy | None = None) -> list[ServerProbe]:
    """Probe every server concurrently (synchronous wrapper for the CLI)."""

    async def run() -> list[ServerProbe]:
        clients = [ComfyClient(u, "sprites-doctor", retry) for u in urls]
        try:
            return list(await asyncio.gather(*(probe(c, retry) for c in clients)))
        finally:
            for c in clients:
                await c.aclose()

    return asyncio.run(run())
