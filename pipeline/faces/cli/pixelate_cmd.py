"""``sprites pixelate IN.png OUT.png``: the pixel stage on its own, for renders from anywhere."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import click
from PIL import Image

from pipeline.core.pixelate import PixelParams, pixelate_frames
from pipeline.core.pixelate.dither import DITHER_MODES
from pipeline.core.pixelate.palettes import NAMED_PALETTES, normalize_hex, parse_palette_arg
from pipeline.core.pixelate.window import FIT_MODES
from pipeline.errors import PixelateError

__all__ = ["pixelate_cmd"]


def _size(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", value)
    if not m or int(m.group(1)) < 1 or (m.group(2) and int(m.group(2)) < 1):
        raise click.BadParameter(f"'{value}' is not a size like 64x64 (or 64 for a square)")
    w = int(m.group(1))
    return w, int(m.group(2) or w)


def _palette(_ctx: click.Context, _param: click.Parameter, value: str) -> str | tuple[str, ...] | int:
    try:
        palette = parse_palette_arg(value)
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc)) from exc
    if isinstance(palette, int) and not 1 <= palette <= 256:
        raise click.BadParameter(f"adaptive:{palette}: use 1 to 256 colours")
    return palette


def _colour(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_hex(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def describe(meta: dict[str, Any], size_given: bool) -> list[str]:
    """The stage's decisions as the lines ``sprites pixelate`` prints (grid, window, size, palette, background)."""
    sx, sy = meta["scale"]
    scale = _num(sx) if sx == sy else f"{_num(sx)}x{_num(sy)}"
    ox, oy = meta["offset"]
    dx, dy = meta["drift"]
    gw, gh = meta["grid_cells"]
    drift = f", drift {dx * 100:+.1f} % / {dy * 100:+.1f} %" if abs(dx) >= 0.005 or abs(dy) >= 0.005 else ""
    source = "" if meta["grid_source"] == "free" else " (pitch from the sprite size)"
    lines = [
        f"  grid        {scale} px per pixel, offset ({_num(ox)}, {_num(oy)}){drift}, "
        f"{gw}x{gh} cells, confidence {meta['confidence']:.2f}{source}"
    ]
    win = meta["window"]
    x, y, w, h = win["cells"]
    cx, cy, cw, ch = win["content"]
    px = ", ".join(f"{v:g}" for v in win["px"])
    if win["placement"] == "canvas":
        lines.append(f"  window      the whole grid (render = size x pitch), sprite {cw}x{ch}")
    elif win["placement"] == "centred":
        lines.append(f"  window      {w}x{h} cells at ({x}, {y}), render px ({px}), sprite {cw}x{ch} centred in it")
    else:
        scale = win.get("resample_scale", 0)
        how = f"{scale}x, aspect kept" if scale else "stretched"
        lines.append(f"  window      sprite {cw}x{ch} at ({cx}, {cy}) resampled to the size ({how})")
    lines.append(f"  size        {meta['size'][0]}x{meta['size'][1]}" + ("" if size_given else " (size detected)"))
    lines.append(
        f"  palette     {meta['palette_source']}: {meta['colours_used']} of {meta['palette_size']} colours used"
    )
    model = meta.get("background_model")
    if model:
        holes = f", {meta['holes']} px of holes" if meta["holes"] else ""
        corners = "" if model["model"] == "flat" else f" (corners {', '.join(model['corners'])})"
        lines.append(
            f"  background  {model['model']} {model['colour']}{corners} removed ({meta['background_pixels']} px{holes})"
        )
    elif meta["background_colour"]:
        lines.append(f"  background  key {meta['background_colour']} removed ({meta['background_pixels']} px)")
    lines.append(f"  cleaned     {meta['orphans_removed']} orphan px, outline {meta['outline_pixels']} px")
    return lines


def _num(value: float) -> str:
    """12.97 -> '13', 20.833 -> '20.8': whole render pixels read as such."""
    return str(round(value)) if abs(value - round(value)) < 0.1 else f"{value:.1f}"


@click.command("pixelate")
@click.argument("src", metavar="IN", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dst", metavar="OUT", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--size", callback=_size, metavar="WxH", help="Sprite size in art pixels. Detected when absent.")
@click.option(
    "--palette",
    default="pico-8",
    show_default=True,
    callback=_palette,
    help=f"A name ({', '.join(sorted(NAMED_PALETTES))}), adaptive:N, a .hex/.gpl file or #hex,#hex,...",
)
@click.option(
    "--remove-background/--keep-background",
    default=True,
    show_default=True,
    help="Flood-fill the border's dominant colour to transparent.",
)
@click.option("--key-colour", "--key-color", callback=_colour, help="Make this colour transparent everywhere.")
@click.option("--tolerance", type=click.FloatRange(0.0, 1.0), default=0.08, show_default=True, help="OKLab.")
@click.option("--outline", callback=_colour, help="Add a 1 px outline in this colour (snapped to the palette).")
@click.option("--dither", type=click.Choice(DITHER_MODES), default="none", show_default=True)
@click.option(
    "--threshold", type=click.IntRange(0, 255), default=128, show_default=True, help="Alpha threshold (RGBA renders)."
)
@click.option("--cleanup/--no-cleanup", default=True, show_default=True, help="Remove orphan pixels.")
@click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True)
@click.option(
    "--fit",
    type=click.Choice(FIT_MODES),
    default="exact",
    show_default=True,
    help="When the sprite in the render is not --size: refuse (exact) or scale it to the size (resample).",
)
@click.option("--preview", type=click.IntRange(1, 64), default=None, help="Also write OUT upscaled N times.")
@click.option("--json", "as_json", is_flag=True, help="Print everything detected as JSON.")
def pixelate_cmd(
    src: Path,
    dst: Path,
    size: tuple[int, int] | None,
    palette: str | tuple[str, ...] | int,
    remove_background: bool,
    key_colour: str | None,
    tolerance: float,
    outline: str | None,
    dither: str,
    threshold: int,
    cleanup: bool,
    min_confidence: float,
    fit: str,
    preview: int | None,
    as_json: bool,
) -> None:
    """Turn a fake-pixel-art render IN into true pixel art OUT.

    \b
    Examples:
      sprites pixelate render.png hero.png --size 64x64 --palette pico-8
      sprites pixelate render.png hero.png --palette adaptive:16 --outline '#000000'
      sprites pixelate render.jpg tile.png --palette my.hex --keep-background
    """
    background = key_colour or ("auto" if remove_background else "none")
    params = PixelParams(
        width=size[0] if size else None,
        height=size[1] if size else None,
        palette=palette,
        background=background,
        alpha_threshold=threshold,
        outline=outline,
        dither=dither,
        cleanup=cleanup,
        background_tolerance=tolerance,
        min_confidence=min_confidence,
        fit=fit,
    )
    start = time.perf_counter()
    try:
        with Image.open(src) as im:
            im.load()
            decoded = time.perf_counter()
            result = pixelate_frames([im], params)
    except PixelateError as exc:
        raise click.ClickException(f"{src}: {exc}") from exc
    except OSError as exc:
        raise click.ClickException(f"{src}: not a readable image ({exc})") from exc
    elapsed = time.perf_counter() - start
    sprite = result.frames[0]
    try:
        sprite.save(dst, format="PNG")
        if preview and preview > 1:
            big = sprite.resize((sprite.width * preview, sprite.height * preview), Image.Resampling.NEAREST)
            big.save(dst.with_name(f"{dst.stem}@{preview}x{dst.suffix or '.png'}"), format="PNG")
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{dst}: could not write ({exc})") from exc

    meta = result.metadata
    if as_json:
        click.echo(json.dumps({**meta, "palette": list(result.palette), "ms": round(elapsed * 1000, 1)}, indent=2))
        return
    click.echo(f"{src} -> {dst}")
    for line in describe(meta, size_given=size is not None):
        click.echo(line)
    if meta.get("drift_gain"):
        gains = ", ".join(f"{g:.3f}" for g in meta["drift_gain"])
        click.echo(f"  colour      brightness drift corrected (mean gain r, g, b: {gains})")
    click.echo(f"  time        {elapsed * 1000:.1f} ms (decode {(decoded - start) * 1000:.1f} ms)")
