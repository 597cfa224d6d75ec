"""Renders made like diffusion output from known pixel art: case families for the pixel-stage tests and benchmark.

Known art: procedural sprites (``pixel_fixtures.make_sprite``: creature, item, tile) and real CC0 pixel art
(Kenney's top-down tank bodies, ``tests/art/kenney``, see its README). A :class:`Scene` draws one frame of art
onto a canvas the way a diffusion model draws "pixel art": any pitch (non-integer), a sub-pixel phase, a pitch
that drifts across the image, the sprite somewhere inside a margin, an off-white, gradient or vignette
background, per-cell shade jitter, blur, noise, brightness drift and JPEG.

The expected output (the *truth*) follows the stage's documented window rule: when the canvas holds exactly
the sprite's cells it is the art as drawn; otherwise the art's content (bounding box) centred in a frame of
the requested size, the extra cell of an odd difference to the right and bottom.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from pipeline.core.pixelate.color import hex_to_rgb, rgb_to_hex, srgb_to_oklab
from pipeline.core.pixelate.palettes import NAMED_PALETTES
from tests.pixel_fixtures import make_sprite

__all__ = ["FAMILIES", "Case", "Scene", "kenney_art", "make_case", "render_scene", "window_truth"]

ART = Path(__file__).parent / "art" / "kenney"
KENNEY = ("tankBody_blue", "tankBody_red", "tankBody_bigRed", "tankBody_huge", "tankBody_darkLarge", "tankBody_dark")
_MERGE = 0.06  # OKLab: anti-aliasing shades closer than this to a commoner colour are that colour


@dataclass(frozen=True)
class Scene:
    """How one frame of art lands on the canvas."""

    canvas: tuple[int, int] = (1024, 1024)
    pitch: float = 8.0  # render px per art pixel at the canvas centre
    drift: tuple[float, float] = (0.0, 0.0)  # relative pitch change from one side of the canvas to the other
    origin: tuple[float, float] = (0.0, 0.0)  # render px where the art's first cell starts
    background: str = "flat"  # flat | offwhite | gradient | vignette
    blur: float | None = None  # Gaussian radius, None: pitch / 8
    noise: float = 6.0
    jitter: float = 6.0  # per-cell shade jitter (levels, +-)
    brightness: float = 0.05  # brightness drift across the image
    jpeg: int | None = 85


@dataclass
class Case:
    name: str
    family: str
    frames: list[bytes]  # PNG per frame
    truths: list[np.ndarray]  # (h, w, 4) expected sprite per frame
    size: tuple[int, int]
    palette: tuple[str, ...]  # the art's colours (a fixed palette that contains them)
    background: bool  # the render has a background around the sprite

    def images(self) -> list[Image.Image]:
        out = []
        for data in self.frames:
            im = Image.open(io.BytesIO(data))
            im.load()
            out.append(im)
        return out


@cache
def kenney_art(name: str) -> np.ndarray:
    """A CC0 sprite as (h, w, 4) truth: binary alpha, anti-aliasing shades merged, on its own 2x2 grid."""
    rgba = np.asarray(Image.open(ART / f"{name}.png").convert("RGBA")).copy()
    opaque = rgba[..., 3] >= 128
    colours, inverse, counts = np.unique(rgba[opaque][:, :3], axis=0, return_inverse=True, return_counts=True)
    lab = srgb_to_oklab(colours)
    target = np.arange(len(colours))
    for i in np.argsort(counts):  # rare shades first: each goes to the commonest colour near it
        d = np.linalg.norm(lab - lab[i], axis=1)
        near = np.flatnonzero((d < _MERGE) & (counts > counts[i]))
        if len(near):
            target[i] = near[np.argmax(counts[near])]
    while not np.array_equal(target[target], target):
        target = target[target]
    out = np.zeros_like(rgba)
    out[opaque, :3] = colours[target[inverse.ravel()]]
    out[opaque, 3] = 255
    return _halve(out)


def _halve(art: np.ndarray) -> np.ndarray:
    """The art on its own grid: these sprites are drawn in 2x2 blocks (98 % of blocks are one colour);
    each block becomes the colour most of its four pixels have (the first of them on a tie), in a frame one
    transparent cell wider."""
    h, w = art.shape[0] // 2 * 2, art.shape[1] // 2 * 2
    packed = art[:h, :w].astype(np.uint32)
    key = (packed[..., 0] << 24) | (packed[..., 1] << 16) | (packed[..., 2] << 8) | packed[..., 3]
    quads = np.stack([key[0::2, 0::2], key[0::2, 1::2], key[1::2, 0::2], key[1::2, 1::2]])
    votes = (quads[:, None] == quads[None, :]).sum(axis=1)  # (4, h/2, w/2): how many of the four agree
    best = np.take_along_axis(quads, votes.argmax(axis=0)[None], axis=0)[0]
    out = np.stack([(best >> 24) & 255, (best >> 16) & 255, (best >> 8) & 255, best & 255], axis=-1)
    # one transparent cell around it: the sprite touches its frame, and a render of it has a background
    return np.pad(out.astype(np.uint8), ((1, 1), (1, 1), (0, 0)))


def _coords(length: int, pitch: float, drift: float, origin: float) -> np.ndarray:
    """Art coordinate of each render pixel's centre along one axis (pitch varying linearly with position)."""
    x = np.arange(length, dtype=np.float64) + 0.5
    if abs(drift) < 1e-9:
        return (x - origin) / pitch
    # p(x) = pitch * (1 + drift * (x / length - 0.5)); s(x) = integral of dx / p from the origin
    a = drift / length

    def s(v: np.ndarray | float) -> np.ndarray:
        return np.log(1 + a * np.asarray(v) - drift / 2) / (pitch * a)

    return s(x) - s(origin)


def _background(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    w, h = scene.canvas
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if scene.background == "flat":
        return np.broadcast_to(np.array([232, 228, 218], np.float32), (h, w, 3)).copy()
    if scene.background == "offwhite":
        return np.broadcast_to(np.array([246, 243, 236], np.float32), (h, w, 3)).copy()
    if scene.background == "gradient":
        top, bottom = np.array([238, 234, 226], np.float32), np.array([196, 206, 224], np.float32)
        t = (yy / h)[..., None]
        return top * (1 - t) + bottom * t
    r2 = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) / 0.5
    base = np.array([240, 236, 228], np.float32)
    return base * (1 - 0.2 * r2[..., None])


def render_scene(art: np.ndarray, scene: Scene, seed: int) -> bytes:
    """PNG bytes of ``art`` (h, w, 4) drawn under ``scene``."""
    rng = np.random.default_rng(seed)
    h, w = art.shape[:2]
    cw, ch = scene.canvas
    sx = _coords(cw, scene.pitch, scene.drift[0], scene.origin[0])
    sy = _coords(ch, scene.pitch, scene.drift[1], scene.origin[1])
    ix, iy = np.floor(sx).astype(np.intp), np.floor(sy).astype(np.intp)
    inside = ((iy >= 0) & (iy < h))[:, None] & ((ix >= 0) & (ix < w))[None, :]
    shade = art[..., :3].astype(np.float32) + rng.uniform(-scene.jitter, scene.jitter, (h, w, 1))
    shade += rng.uniform(-scene.jitter / 2, scene.jitter / 2, (h, w, 3))
    cells = shade[np.clip(iy, 0, h - 1)][:, np.clip(ix, 0, w - 1)]
    alpha = art[..., 3][np.clip(iy, 0, h - 1)][:, np.clip(ix, 0, w - 1)] > 0
    img = np.where((inside & alpha)[..., None], cells, _background(scene, rng))
    im = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8), "RGB")
    radius = scene.pitch / 8 if scene.blur is None else scene.blur
    if radius > 0:
        im = im.filter(ImageFilter.GaussianBlur(radius=radius))
    arr = np.asarray(im).astype(np.float32)
    if scene.brightness:
        gx, gy = rng.uniform(-1, 1, size=2)
        yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
        arr *= (1 + scene.brightness * (gx * (xx / cw - 0.5) + gy * (yy / ch - 0.5)) * 2)[..., None]
    if scene.noise:
        arr += rng.normal(0, scene.noise, size=arr.shape).astype(np.float32)
    im = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")
    if scene.jpeg is not None:
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=scene.jpeg)
        im = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def window_truth(art: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The art's content centred in a ``size`` frame (the stage's window rule)."""
    opaque = art[..., 3] > 0
    rows, cols = np.flatnonzero(opaque.any(axis=1)), np.flatnonzero(opaque.any(axis=0))
    content = art[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    w, h = size
    out = np.zeros((h, w, 4), np.uint8)
    y, x = (h - content.shape[0]) // 2, (w - content.shape[1]) // 2
    out[y : y + content.shape[0], x : x + content.shape[1]] = content
    return out


def _procedural(kind: str, cells: int, rng: np.random.Generator, seed: int) -> tuple[np.ndarray, tuple[str, ...]]:
    name = ("pico-8", "db32", "endesga-32")[seed % 3]
    pal = hex_to_rgb(NAMED_PALETTES[name])
    # keep colours clearly apart from the light backgrounds (a model does not paint the sprite in them)
    light = np.linalg.norm(srgb_to_oklab(pal) - srgb_to_oklab(np.array([[232, 228, 218]]))[0], axis=1) < 0.15
    light |= srgb_to_oklab(pal)[:, 0] > 0.86
    choice = rng.choice(np.flatnonzero(~light), int(rng.integers(5, 10)), replace=False)
    return make_sprite(kind, cells, cells, pal[choice], seed), NAMED_PALETTES[name]


def _art(index: int, rng: np.random.Generator, seed: int, cells: int) -> tuple[str, np.ndarray, tuple[str, ...]]:
    """Even indices: procedural (creature, item, tile in turn); odd: a Kenney CC0 sprite."""
    if index % 2 == 0:
        kind = ("creature", "item", "tile")[(index // 2) % 3]
        art, palette = _procedural(kind, cells, rng, seed)
        return kind, art, palette
    name = KENNEY[(index // 2) % len(KENNEY)]
    art = kenney_art(name)
    colours = np.unique(art[art[..., 3] > 0][:, :3], axis=0)
    return name, art, tuple(rgb_to_hex(colours))


def _sheet(art: np.ndarray, frames: int) -> list[np.ndarray]:
    """Animation frames with one bounding box: the art with interior colours cycled per frame."""
    opaque = art[..., 3] > 0
    colours = np.unique(art[opaque][:, :3], axis=0)
    out = [art]
    for f in range(1, frames):
        frame = art.copy()
        inner = opaque & np.roll(opaque, 1, 0) & np.roll(opaque, -1, 0) & np.roll(opaque, 1, 1) & np.roll(opaque, -1, 1)
        ys, xs = np.nonzero(inner)
        pick = (ys + xs + f) % 5 == 0
        idx = (np.argmax((colours[None] == frame[ys[pick], xs[pick], :3][:, None]).all(-1), axis=1) + f) % len(colours)
        frame[ys[pick], xs[pick], :3] = colours[idx]
        out.append(frame)
    return out


#: family -> description (README and benchmark table)
FAMILIES = {
    "integer": "integer scale (8, 16 or 24), grid phase off by up to half a cell; render = size x scale",
    "non-integer": "non-integer pitch on a fixed 1024 px canvas (32.4 cells and the like)",
    "margins": "sprite frame covering 50-80 % of the canvas, flat background",
    "backgrounds": "off-white, top-to-bottom gradient or vignette background, 60-75 % of the canvas",
    "degraded": "per-cell jitter +-8, noise 8, blur pitch/6, JPEG q75, 70 % of the canvas",
    "drift": "pitch drifting 3-5 % across the image on both axes",
    "sheet": "4 frames, each drawn at its own position, phase and pitch (+-1 %)",
    "all": "everything at once: margins, non-integer pitch, drift, soft background, degradation, 4 frames",
}


def make_case(family: str, index: int) -> Case:
    """Case ``index`` of ``family`` (deterministic)."""
    seed = 7919 * (list(FAMILIES).index(family) + 1) + 101 * index
    rng = np.random.default_rng(seed)
    cells = int(rng.choice([24, 32, 40]))
    kind, art, palette = _art(index, rng, seed, cells)
    h, w = art.shape[:2]
    size = (w, h)
    frames = 4 if family in ("sheet", "all") else 1
    arts = _sheet(art, frames)
    scene = Scene()
    if family == "integer":
        scale = int(rng.choice([8, 16, 24]))
        phase = rng.uniform(-scale / 2 + 1, scale / 2 - 1, 2).round()  # exactly half a cell is a tie
        scene = Scene(canvas=(w * scale, h * scale), pitch=float(scale), origin=(float(phase[0]), float(phase[1])))
    else:
        share = {"non-integer": 1.0, "margins": rng.uniform(0.5, 0.8), "degraded": 0.7, "drift": 0.7}.get(
            family, rng.uniform(0.6, 0.75)
        )
        # non-integer: the canvas holds the art's cells and a fraction of one more
        pitch = 1024 / (max(w, h) + rng.uniform(0.1, 0.9)) if family == "non-integer" else share * 1024 / max(w, h)
        drift = tuple(rng.uniform(0.03, 0.05, 2) * rng.choice([-1, 1], 2)) if family in ("drift", "all") else (0, 0)
        background = "flat"
        if family in ("backgrounds", "all"):
            background = ("offwhite", "gradient", "vignette")[index % 3]
        extra = {}
        if family in ("degraded", "all"):
            extra = {"jitter": 8.0, "noise": 8.0, "blur": pitch / 6, "jpeg": 75}
        scene = Scene(pitch=float(pitch), drift=(float(drift[0]), float(drift[1])), background=background, **extra)  # type: ignore[arg-type]
    pngs = []
    for f, frame_art in enumerate(arts):
        s = scene
        if family != "integer":
            pitch = s.pitch * (1 + (rng.uniform(-0.01, 0.01) if frames > 1 else 0.0))
            span = (w * pitch, h * pitch)
            free = (s.canvas[0] - span[0], s.canvas[1] - span[1])
            origin = tuple(float(rng.uniform(min(0, v), max(0, v))) for v in free)
            s = replace(s, pitch=pitch, origin=origin)  # type: ignore[arg-type]
        pngs.append(render_scene(frame_art, s, seed + f))
    # The canvas holds exactly the art's cells (up to partial edge cells): the art as drawn is the answer.
    tiles = all(abs(c / scene.pitch - n) <= 0.95 for c, n in zip(scene.canvas, size, strict=True))
    truths = arts if tiles else [window_truth(a, size) for a in arts]
    surrounded = not (tiles and kind == "tile")
    return Case(f"{family}-{index}-{kind}", family, pngs, truths, size, palette, background=surrounded)
