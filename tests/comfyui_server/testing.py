"""Helpers for the ComfyUI tests: specs, settings and fast dispatcher options (no fixtures: tests define those)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from pipeline.core.generate.comfyui.client import RetryPolicy
from pipeline.core.generate.comfyui.dispatch import DispatchOptions
from pipeline.core.specs.model import SpriteSpec
from pipeline.settings import Settings

__all__ = ["SMOKE_GRAPH", "WORKFLOWS", "collect_ws", "fast_options", "make_spec", "settings_for", "ws_session"]

WORKFLOWS = Path(__file__).resolve().parents[2] / "comfy_workflows"

#: the no-model graph of the real-server transcript
SMOKE_GRAPH: dict[str, Any] = {
    "1": {
        "class_type": "EmptyImage",
        "inputs": {"width": 64, "height": 48, "batch_size": 2, "color": 3368652},
        "_meta": {"title": "Empty"},
    },
    "2": {
        "class_type": "ImageScale",
        "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact", "width": 32, "height": 24, "crop": "disabled"},
    },
    "3": {"class_type": "ImageQuantize", "inputs": {"image": ["2", 0], "colors": 16, "dither": "none"}},
    "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "exp"}},
}


def settings_for(project: Path, workflows: Path = WORKFLOWS) -> Settings:
    return Settings.for_project(project, workflows_dir=str(workflows))


def make_spec(name: str = "goblin", **generation: Any) -> SpriteSpec:
    """A comfyui spec; ``frames``/``method``/``frame_denoise`` (animation.denoise), ``size``, ``prompt``, ``seed`` go
    to their sections, the rest to ``generation``."""
    frames = generation.pop("frames", 1)
    # the dispatcher tests send animations as one batch job; the frame methods have tests of their own
    method = generation.pop("method", "batch")
    denoise = generation.pop("frame_denoise", 0.35)
    size = generation.pop("size", 16)
    prompt = generation.pop("prompt", f"pixel art {name}")
    seed = generation.pop("seed", None)
    # render_scale 8: the test server draws 8 px fake pixels, so a render of size x 8 holds the sprite's size
    gen = {
        "backend": "comfyui",
        "steps": 4,
        "render_scale": 8,
        "loras": [{"name": "pixel-art-xl.safetensors", "strength": 0.9}],
    }
    gen.update(generation)
    return SpriteSpec.model_validate(
        {
            "name": name,
            "category": "enemy",
            "prompt": prompt,
            "seed": seed,
            "size": size,
            "generation": gen,
            "animation": {"frames": frames, "method": method, "denoise": denoise},
        }
    )


def fast_options(**overrides: Any) -> DispatchOptions:
    """Short timeouts so fault tests finish quickly (never used as timing assertions)."""
    values: dict[str, Any] = {
        "retry": RetryPolicy(deadline=3.0, base_delay=0.05, max_delay=0.3, timeout=5.0),
        "silence_timeout": 0.4,
        "poll_interval": 0.1,
        "backstop_interval": 5.0,
        "failover_after": 1.0,
        "ws_connect_wait": 2.0,
        "cancel_grace": 5.0,
    }
    values.update(overrides)
    return DispatchOptions(**values)


@contextmanager
def ws_session(url: str) -> Iterator[tuple[Any, httpx.Client, str]]:
    """A raw client: a WebSocket on /ws?clientId= plus an HTTP client (protocol-level tests)."""
    client_id = uuid.uuid4().hex
    ws_url = url.replace("http://", "ws://") + f"/ws?clientId={client_id}"
    with connect(ws_url, open_timeout=10) as ws, httpx.Client(base_url=url, timeout=10) as http:
        yield ws, http, client_id


def collect_ws(ws: Any, prompt_id: str, timeout: float = 20) -> list[dict[str, Any]]:
    """Messages until ``executing`` with node null for ``prompt_id`` (included)."""
    out = []
    while True:
        raw = ws.recv(timeout=timeout)
        if isinstance(raw, bytes):
            continue
        msg = json.loads(raw)
        out.append(msg)
        data = msg.get("data") or {}
        if msg["type"] == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
            return out
