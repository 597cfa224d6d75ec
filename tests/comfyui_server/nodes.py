"""The fake node classes: the same names, inputs and outputs as ComfyUI's core nodes, fake (but deterministic) work.

Each class is described by what a real ComfyUI 0.3.64 served for it at ``/object_info`` (``object_info.json``,
served as is and used for validation like ``execution.validate_inputs``) and has a function that returns a
tuple of outputs. "Model" nodes pass small dicts along; ``VAEDecode`` draws a seeded pattern of fake pixel art
upscaled 8x (a row of poses of one sprite when the prompt asks for "sprite sheet, N frames", as a sprite-sheet
LoRA draws them), so a render looks like what a pixel-art LoRA produces and depends on everything that should change
it (seed, prompt, checkpoint, LoRAs, size). Images travel as uint8 arrays of shape (batch, height, width, 3).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

__all__ = ["ExecContext", "NodeClass", "fake_render", "fake_sheet", "node_classes", "save_images"]


@dataclass
class ExecContext:
    """What a node may use while executing: the server's folders and models, and a progress hook."""

    output_dir: Path
    input_dir: Path
    temp_dir: Path
    prompt: dict[str, Any]
    node_id: str
    # called by KSampler once per step: (value, max); awaited by the engine between steps
    step_hook: Callable[[int, int], None] | None = None
    steps_seen: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class NodeClass:
    name: str
    describe: Callable[[dict[str, list[str]]], dict[str, Any]]  # models -> the class's /object_info entry
    outputs: tuple[str, ...]
    fn: Callable[..., tuple[Any, ...]]
    output_node: bool = False
    category: str = "sampling"
    # sampler-like nodes get their per-image latency from the engine
    slow: bool = False

    def info(self, models: dict[str, list[str]]) -> dict[str, Any]:
        """This class as ``/object_info`` describes it (``server.py::node_info``)."""
        return self.describe(models)

    def inputs(self, models: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
        """``INPUT_TYPES()``: required, optional and hidden inputs with their configs."""
        return dict(self.info(models)["input"])


def _seed_of(*parts: Any) -> int:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _blob(rng: np.random.Generator, gw: int, gh: int) -> np.ndarray:
    """(gh, gw) colour indices of a seeded symmetric sprite (0: background)."""
    half = (gw + 1) // 2
    ys, xs = np.mgrid[0:gh, 0:half]
    dist = np.hypot((xs - half) / max(half, 1), (ys - gh / 2) / max(gh / 2, 1))
    keep = rng.random((gh, half)) < np.clip(1.1 - dist, 0, 1)
    shade = rng.integers(1, 5, size=(gh, half))
    idx = np.where(keep, shade, 0)
    return np.concatenate([idx, idx[:, ::-1][:, gw % 2 :]], axis=1)[:, :gw]


def fake_render(seed: int, width: int, height: int, cell: int = 8) -> np.ndarray:
    """A (height, width, 3) uint8 image: a seeded symmetric sprite of ``cell``-sized fake pixels on a flat colour."""
    gw, gh = max(1, width // cell), max(1, height // cell)
    rng = np.random.default_rng(seed)
    colors = rng.integers(0, 256, size=(5, 3), dtype=np.uint8)
    small = colors[_blob(rng, gw, gh)]
    big = small.repeat(cell, axis=0).repeat(cell, axis=1)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    out[:] = colors[0]
    out[: big.shape[0], : big.shape[1]] = big[:height, :width]
    return out


def fake_sheet(seed: int, width: int, height: int, frames: int, cell: int = 8) -> np.ndarray:
    """What a sprite-sheet LoRA draws: ``frames`` poses of ONE seeded sprite side by side on one flat colour
    (in every other pose its lowest rows step a fake pixel aside), each in its slot, a cell from its edges."""
    gw, gh = max(frames * 3, width // cell), max(3, height // cell)
    rng = np.random.default_rng(seed)
    colors = rng.integers(0, 256, size=(5, 3), dtype=np.uint8)
    slot = gw // frames
    blob = _blob(rng, slot - 2, gh - 3)
    grid = np.zeros((gh, gw), dtype=np.intp)
    for f in range(frames):
        pose = blob.copy()
        pose[-2:] = np.roll(blob[-2:], f % 2, axis=1)
        grid[1 : 1 + pose.shape[0], f * slot + 1 : f * slot + 1 + pose.shape[1]] = pose
    big = colors[grid].repeat(cell, axis=0).repeat(cell, axis=1)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    out[:] = colors[0]
    out[: big.shape[0], : big.shape[1]] = big[:height, :width]
    return out


def _counter_path(out_dir: Path, prefix: str, width: int, height: int) -> tuple[Path, str, str, int]:
    """ComfyUI's ``folder_paths.get_save_image_path``: subfolder from the prefix, next free counter."""
    prefix = prefix.replace("%width%", str(width)).replace("%height%", str(height))
    subfolder, _, base = prefix.rpartition("/")
    full = (out_dir / subfolder).resolve()
    if out_dir.resolve() not in (full, *full.parents):
        raise ValueError(f"Saving image outside the output folder is not allowed. prefix: {prefix}")
    full.mkdir(parents=True, exist_ok=True)
    counters = []
    for p in full.glob(f"{base}_*_.png"):
        digits = p.name[len(base) + 1 : -5]
        if digits.isdigit():
            counters.append(int(digits))
    return full, subfolder, base, max(counters, default=0) + 1


def save_images(images: np.ndarray, prefix: str, ctx: ExecContext, kind: str = "output") -> dict[str, Any]:
    """Write PNGs like ``SaveImage`` (with the prompt as PNG text) and return its UI output."""
    out_dir = ctx.output_dir if kind == "output" else ctx.temp_dir
    height, width = images.shape[1:3]
    full, subfolder, base, counter = _counter_path(out_dir, prefix, width, height)
    results = []
    for image in images:
        meta = PngInfo()
        meta.add_text("prompt", json.dumps(ctx.prompt))
        name = f"{base}_{counter:05}_.png"
        Image.fromarray(image, "RGB").save(full / name, pnginfo=meta, compress_level=1)
        results.append({"filename": name, "subfolder": subfolder, "type": kind})
        counter += 1
    return {"images": results}


# ---- node implementations -------------------------------------------------------------------------------------


def _checkpoint(ctx: ExecContext, ckpt_name: str) -> tuple[Any, ...]:
    model = {"ckpt": ckpt_name, "loras": []}
    return (model, {"ckpt": ckpt_name, "loras": []}, {"vae": ckpt_name})


def _lora(ctx: ExecContext, model: dict, clip: dict, lora_name: str, strength_model: float, strength_clip: float):
    m = {**model, "loras": [*model["loras"], [lora_name, strength_model]]}
    c = {**clip, "loras": [*clip["loras"], [lora_name, strength_clip]]}
    return (m, c)


def _text(ctx: ExecContext, text: str, clip: dict) -> tuple[Any, ...]:
    return ({"text": text, "clip": clip},)


def _empty_latent(ctx: ExecContext, width: int, height: int, batch_size: int) -> tuple[Any, ...]:
    return ({"width": width, "height": height, "batch": batch_size, "base": None},)


def _repeat_latent(ctx: ExecContext, samples: dict, amount: int) -> tuple[Any, ...]:
    return ({**samples, "batch": samples["batch"] * amount},)


def _ksampler(
    ctx: ExecContext,
    model: dict,
    seed: int,
    steps: int,
    cfg: float,
    sampler_name: str,
    scheduler: str,
    positive: dict,
    negative: dict,
    latent_image: dict,
    denoise: float = 1.0,
) -> tuple[Any, ...]:
    for step in range(steps):
        if ctx.step_hook:
            ctx.step_hook(step + 1, steps)
    key = [model, seed, steps, cfg, sampler_name, scheduler, positive["text"], negative["text"], denoise]
    sheet = re.search(r"sprite sheet, (\d+) frames", positive["text"])  # what a sprite-sheet LoRA would obey
    extra = {"sheet": int(sheet.group(1))} if sheet else {}
    return ({**latent_image, "seed": _seed_of(key, latent_image.get("base_seed")), **extra},)


def _vae_decode(ctx: ExecContext, samples: dict, vae: dict) -> tuple[Any, ...]:
    w, h, b = samples["width"] // 8 * 8, samples["height"] // 8 * 8, samples["batch"]
    seed = samples.get("seed", 0)
    if samples.get("sheet"):
        return (np.stack([fake_sheet(_seed_of(seed, i), w, h, samples["sheet"]) for i in range(b)]),)
    return (np.stack([fake_render(_seed_of(seed, i), w, h) for i in range(b)]),)


def _vae_encode(ctx: ExecContext, pixels: np.ndarray, vae: dict) -> tuple[Any, ...]:
    b, h, w = pixels.shape[:3]
    base_seed = int.from_bytes(hashlib.sha256(pixels.tobytes()).digest()[:8], "big")
    return ({"width": w, "height": h, "batch": b, "base": True, "base_seed": base_seed},)


def _save(ctx: ExecContext, images: np.ndarray, filename_prefix: str) -> tuple[Any, ...]:
    return ({"ui": save_images(images, filename_prefix, ctx)},)


def _preview(ctx: ExecContext, images: np.ndarray) -> tuple[Any, ...]:
    return ({"ui": save_images(images, "ComfyUI_temp", ctx, kind="temp")},)


def _load_image(ctx: ExecContext, image: str) -> tuple[Any, ...]:
    with Image.open(ctx.input_dir / image) as im:
        arr = np.asarray(im.convert("RGB"))[None]
    return (arr, np.zeros(arr.shape[:3], dtype=np.float32))


def _image_scale(ctx: ExecContext, image: np.ndarray, upscale_method: str, width: int, height: int, crop: str):
    frames = [
        np.asarray(Image.fromarray(f, "RGB").resize((width or f.shape[1], height or f.shape[0]), Image.NEAREST))
        for f in image
    ]
    return (np.stack(frames),)


def _empty_image(ctx: ExecContext, width: int, height: int, batch_size: int, color: int) -> tuple[Any, ...]:
    rgb = [(color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF]
    img = np.zeros((batch_size, height, width, 3), dtype=np.uint8)
    img[:] = rgb
    return (img,)


def _quantize(ctx: ExecContext, image: np.ndarray, colors: int, dither: str) -> tuple[Any, ...]:
    step = max(1, 256 // max(2, round(colors ** (1 / 3))))
    return ((image // step * step).astype(np.uint8),)


def _image_to_mask(ctx: ExecContext, image: np.ndarray, channel: str) -> tuple[Any, ...]:
    index = ["red", "green", "blue", "alpha"].index(channel)
    if index >= image.shape[-1]:
        # what real ComfyUI raises for an RGB image (see the transcript): an IndexError from torch
        raise IndexError(f"index {index} is out of bounds for dimension 3 with size {image.shape[-1]}")
    return (image[..., index],)


def _mask_to_image(ctx: ExecContext, mask: np.ndarray) -> tuple[Any, ...]:
    return (np.repeat(np.asarray(mask, dtype=np.uint8)[..., None], 3, axis=-1),)


def _invert(ctx: ExecContext, image: np.ndarray) -> tuple[Any, ...]:
    return ((255 - image).astype(np.uint8),)


#: ``GET /object_info`` of a real ComfyUI 0.3.64 for the classes faked here (tooltips, hidden inputs, display
#: names and the ``["COMBO", {"options": [...]}]`` form of newer nodes included); model lists are filled per server
RECORDED: dict[str, dict[str, Any]] = json.loads((Path(__file__).with_name("object_info.json")).read_text())["classes"]

#: list inputs whose choices are the server's own files, not fixed
_FILE_LISTS = {("CheckpointLoaderSimple", "ckpt_name"): "checkpoints", ("LoraLoader", "lora_name"): "loras"}


def _recorded_info(name: str, input_dir: Path) -> Callable[[dict[str, list[str]]], dict[str, Any]]:
    def info(models: dict[str, list[str]]) -> dict[str, Any]:
        entry = json.loads(json.dumps(RECORDED[name]))
        required = entry["input"].get("required", {})
        for (cls, input_name), folder in _FILE_LISTS.items():
            if cls == name:
                required[input_name][0] = list(models.get(folder, []))
        if name == "LoadImage":
            files = sorted(p.relative_to(input_dir).as_posix() for p in input_dir.rglob("*") if p.is_file())
            required["image"][0] = files
        return entry

    return info


def _composite(
    ctx: ExecContext,
    destination: np.ndarray,
    source: np.ndarray,
    x: int,
    y: int,
    resize_source: bool,
    mask: Any = None,
) -> tuple[Any, ...]:
    """``ImageCompositeMasked`` without a mask: ``source`` pasted at (x, y), repeated to the destination's batch."""
    out = destination.copy()
    h, w = out.shape[1:3]
    src = np.resize(source, (out.shape[0], *source.shape[1:]))
    sh, sw = min(src.shape[1], max(0, h - y)), min(src.shape[2], max(0, w - x))
    out[:, y : y + sh, x : x + sw] = src[:, :sh, :sw]
    return (out,)


_IMPLEMENTATIONS: dict[str, tuple[Callable[..., tuple[Any, ...]], bool]] = {
    "CheckpointLoaderSimple": (_checkpoint, False),
    "LoraLoader": (_lora, False),
    "CLIPTextEncode": (_text, False),
    "EmptyLatentImage": (_empty_latent, False),
    "RepeatLatentBatch": (_repeat_latent, False),
    "KSampler": (_ksampler, True),
    "VAEDecode": (_vae_decode, False),
    "VAEEncode": (_vae_encode, False),
    "SaveImage": (_save, False),
    "PreviewImage": (_preview, False),
    "LoadImage": (_load_image, False),
    "ImageScale": (_image_scale, False),
    "EmptyImage": (_empty_image, False),
    "ImageQuantize": (_quantize, False),
    "ImageToMask": (_image_to_mask, False),
    "MaskToImage": (_mask_to_image, False),
    "ImageInvert": (_invert, False),
    "ImageCompositeMasked": (_composite, False),
}


def node_classes(input_dir: Path) -> dict[str, NodeClass]:
    """Every fake class, keyed by ComfyUI class_type, described exactly as the real server describes it."""
    classes = {}
    for name, (fn, slow) in _IMPLEMENTATIONS.items():
        recorded = RECORDED[name]
        classes[name] = NodeClass(
            name,
            _recorded_info(name, input_dir),
            tuple(recorded["output"]),
            fn,
            output_node=bool(recorded["output_node"]),
            category=str(recorded["category"]),
            slow=slow,
        )
    return classes


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, format="PNG")
    return buf.getvalue()
