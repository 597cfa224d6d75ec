"""The methods ``bench_pixelate.py`` compares: ours and its peers, each from PNG bytes to a sprite.

Every method gets the same job (the render's PNG bytes, the sprite size, the grid scale, the
palette or the number of colours) and returns an (h, w, 3 or 4) uint8 array; decoding the PNG is
part of each method's time. Peers are optional: a peer that does not import says why in
``unavailable`` and the table shows it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pipeline.core.pixelate import PixelParams, pixelate_frames

__all__ = ["METHODS", "Job", "Method"]


@dataclass(frozen=True)
class Job:
    png: bytes
    size: tuple[int, int]  # logical sprite size
    scale: int  # render px per art pixel (what a spec's size and render size imply)
    palette: tuple[str, ...] | None  # fixed palette, or None for adaptive
    palette_name: str | None
    colours: int  # adaptive: colours the art uses
    background: bool  # the render has a flat background around the sprite


@dataclass(frozen=True)
class Method:
    name: str
    run: Callable[[Job], np.ndarray]
    unavailable: str | None = None
    note: str = ""


def _decode(png: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(png))
    im.load()
    return im


def ours(job: Job) -> np.ndarray:
    palette = job.palette_name if job.palette is not None else job.colours
    params = PixelParams(job.size[0], job.size[1], palette=palette, background="auto" if job.background else "none")
    return np.asarray(pixelate_frames([_decode(job.png)], params).frames[0])


def _pillow_palette(colours: tuple[str, ...]) -> Image.Image:
    flat = [int(c[i : i + 2], 16) for c in colours for i in (1, 3, 5)]
    pal = Image.new("P", (1, 1))
    pal.putpalette(flat + flat[:3] * (256 - len(colours)))
    return pal


def pillow(job: Job) -> np.ndarray:
    """Pillow: box-filter resize to the sprite size, then quantize (RGB distance, no dithering)."""
    small = _decode(job.png).convert("RGB").resize(job.size, Image.Resampling.BOX)
    if job.palette is not None:
        q = small.quantize(palette=_pillow_palette(job.palette), dither=Image.Dither.NONE)
    else:
        n = job.colours + (1 if job.background else 0)  # a slot for the background it cannot remove
        q = small.quantize(colors=n, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
    return np.asarray(q.convert("RGB"))


def _unfake(job: Job, given_scale: bool = True) -> np.ndarray:
    from unfake import process_image_sync

    kwargs: dict[str, object] = {"manual_scale": job.scale} if given_scale else {}
    if job.palette is not None:
        kwargs["fixed_palette"] = list(job.palette)
    else:
        kwargs["max_colors"] = job.colours + (1 if job.background else 0)
    return np.asarray(process_image_sync(_decode(job.png), **kwargs)["image"].convert("RGB"))


def _unfake_auto(job: Job) -> np.ndarray:
    return _unfake(job, given_scale=False)


def _pixeloe(job: Job) -> np.ndarray:
    from pixeloe.pixelize import pixelize

    rgb = np.asarray(_decode(job.png).convert("RGB"))
    colours = None if job.palette is not None else job.colours + (1 if job.background else 0)
    out = pixelize(
        rgb[..., ::-1].copy(),
        target_size=job.size[0],
        patch_size=job.scale,
        thickness=0,
        colors=colours,
        no_upscale=True,
    )
    small = np.ascontiguousarray(out[..., ::-1])
    if job.palette is not None:  # pixeloe has no fixed palette: map its colours to the nearest entry
        from pipeline.core.pixelate.color import hex_to_rgb, nearest_palette_index

        pal = hex_to_rgb(job.palette)
        small = pal[nearest_palette_index(small, pal)]
    return small


def _probe(module: str, hint: str = "") -> str | None:
    """None when ``module`` imports, else why not (a missing dependency is named)."""
    try:
        __import__(module)
    except ImportError as exc:
        missing = (getattr(exc, "name", None) or "").split(".")[0]
        if missing and missing != module.split(".")[0]:
            return f"not installed (needs {missing})"
        return "not installed" + (f" ({hint})" if hint else "")
    return None


METHODS = [
    Method("ours", ours, note="grid + phase detection, per-cell robust colour, OKLab palette, background removal"),
    Method("pillow", pillow, note="resize(BOX) to the sprite size + quantize"),
    Method(
        "unfake",
        _unfake,
        _probe("unfake"),
        note="unfake 1.0.x given the scale (manual_scale); fixed_palette or max_colors",
    ),
    Method("unfake-auto", _unfake_auto, _probe("unfake"), note="unfake 1.0.x detecting the scale itself"),
    Method(
        "pixeloe",
        _pixeloe,
        _probe("pixeloe.pixelize", "every release imports torch"),
        note="pixeloe contrast mode, thickness 0 (pip install pixeloe: it needs torch, a multi-GB wheel)",
    ),
]


# ---- the case families (renders made like diffusion output): each method gets PNG bytes, size, palette ----


@dataclass(frozen=True)
class FamilyJob:
    png: bytes
    size: tuple[int, int]
    palette: tuple[str, ...]
    background: bool


def _to_palette(rgb: np.ndarray, palette: tuple[str, ...]) -> np.ndarray:
    from pipeline.core.pixelate.color import hex_to_rgb, nearest_palette_index

    pal = hex_to_rgb(palette)
    return pal[nearest_palette_index(rgb[..., :3], pal)]


def family_ours(job: FamilyJob) -> np.ndarray:
    params = PixelParams(job.size[0], job.size[1], palette=job.palette, background="auto" if job.background else "none")
    return np.asarray(pixelate_frames([_decode(job.png)], params).frames[0])


def family_pillow(job: FamilyJob) -> np.ndarray:
    """Pillow: resize(NEAREST) of the whole canvas to the sprite size, nearest palette colour (OKLab)."""
    small = np.asarray(_decode(job.png).convert("RGB").resize(job.size, Image.Resampling.NEAREST))
    return _to_palette(small, job.palette)


def family_unfake(job: FamilyJob) -> np.ndarray:
    """unfake given the scale the spec implies (canvas / size) and the palette."""
    from unfake import process_image_sync

    im = _decode(job.png)
    scale = max(1, round(im.width / job.size[0]))
    out = process_image_sync(im, manual_scale=scale, fixed_palette=list(job.palette))["image"]
    return np.asarray(out.convert("RGBA"))


def family_proper(job: FamilyJob) -> np.ndarray:
    """proper-pixel-art 2.x with its defaults and a transparent background, then the palette."""
    from proper_pixel_art import PixelateConfig, pixelate

    result = pixelate(_decode(job.png), PixelateConfig(transparent_background=True))
    rgba = np.asarray(result.image.convert("RGBA")).copy()
    rgba[..., :3] = _to_palette(rgba, job.palette)
    return rgba


def family_pixeloe(job: FamilyJob) -> np.ndarray:
    from pixeloe.pixelize import pixelize

    rgb = np.asarray(_decode(job.png).convert("RGB"))
    out = pixelize(rgb[..., ::-1].copy(), target_size=job.size[0], patch_size=max(1, rgb.shape[1] // job.size[0]))
    return _to_palette(np.ascontiguousarray(out[..., ::-1]), job.palette)


FAMILY_METHODS = [
    Method("ours", family_ours, note="free pitch, per-line grid, window in the canvas, background field"),  # type: ignore[arg-type]
    Method("pillow", family_pillow, note="resize(NEAREST) to the size + nearest palette colour"),  # type: ignore[arg-type]
    Method("unfake", family_unfake, _probe("unfake"), note="unfake 1.0.x, manual_scale = canvas / size"),  # type: ignore[arg-type]
    Method(
        "proper-pixel-art",
        family_proper,  # type: ignore[arg-type]
        _probe("proper_pixel_art"),
        note="proper-pixel-art 2.x defaults, transparent_background; output size is its own",
    ),
    Method(
        "pixeloe",
        family_pixeloe,  # type: ignore[arg-type]
        _probe("pixeloe.pixelize", "every release imports torch"),
        note="pixeloe (needs torch, a multi-GB install)",
    ),
]
