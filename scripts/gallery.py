#!/usr/bin/env python3
"""Render a gallery of the built sprites (the Bevy assets the manifest lists) into one labelled PNG.

    .venv/bin/python scripts/gallery.py                       # -> docs/gallery.png
    .venv/bin/python scripts/gallery.py --assets DIR --out FILE --width 1280

Each sprite is shown as built (after the pixel stage), every animation frame side by side, scaled up
with nearest-neighbour to about 96 px high, on a checkerboard that shows its transparency, with its
name, category, size, frame count and palette. Same assets, same bytes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
TARGET_HEIGHT = 96
PAD, GAP, LABEL = 12, 10, 34
BACKGROUND = (32, 36, 48, 255)
CARD = (46, 52, 68, 255)
CHECKER = ((58, 64, 82, 255), (66, 72, 92, 255))
TEXT, DIM = (236, 238, 244, 255), (160, 168, 186, 255)
TITLE = "Sample sprites: sprite_specs/ built by the embedded procedural backend, after the pixel stage"


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default()


def _checker(width: int, height: int, cell: int) -> Image.Image:
    board = Image.new("RGBA", (width, height), CHECKER[0])
    draw = ImageDraw.Draw(board)
    for y in range(0, height, cell):
        for x in range(0, width, cell):
            if (x // cell + y // cell) % 2:
                draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=CHECKER[1])
    return board


def _palette_name(entry: dict) -> str:
    palette = entry.get("palette") or {}
    if palette.get("kind") == "named":
        return str(palette.get("name"))
    return f"{palette.get('kind', '?')}:{len(palette.get('colors', []))}"


Box = tuple[int, int, int, int]


def card(assets: Path, entry: dict) -> tuple[Image.Image, Box]:
    """One sprite's card (its frames, scaled up crisply, above two lines of text) and where the frames are."""
    sheet = Image.open(assets / entry["path"]).convert("RGBA")
    atlas = entry["atlas"]
    fw, fh = atlas["tile_width"], atlas["tile_height"]
    scale = max(1, TARGET_HEIGHT // fh)
    cols = atlas["columns"]
    boxes = [
        ((i % cols) * fw, (i // cols) * fh, (i % cols + 1) * fw, (i // cols + 1) * fh) for i in range(entry["frames"])
    ]
    frames = [sheet.crop(box) for box in boxes]
    strip_w = len(frames) * fw * scale + (len(frames) - 1) * GAP
    font = _font()
    name = entry["name"]
    info = f"{entry['category']} · {fw}x{fh}" + (f" · {entry['frames']} frames" if entry["frames"] > 1 else "")
    info += f" · {_palette_name(entry)}"
    text_w = max(ImageDraw.Draw(Image.new("RGBA", (1, 1))).textlength(t, font=font) for t in (name, info))
    width = max(strip_w, int(text_w) + 2) + 2 * PAD
    height = fh * scale + LABEL + 2 * PAD
    out = Image.new("RGBA", (width, height), CARD)
    x = PAD + (width - 2 * PAD - strip_w) // 2
    strip = (x, PAD, x + strip_w, PAD + fh * scale)
    for frame in frames:
        big = frame.resize((fw * scale, fh * scale), Image.Resampling.NEAREST)
        board = _checker(big.width, big.height, max(4, scale * 2))
        board.alpha_composite(big)
        out.alpha_composite(board, (x, PAD))
        x += big.width + GAP
    draw = ImageDraw.Draw(out)
    draw.text((PAD, PAD + fh * scale + 6), name, fill=TEXT, font=font)
    draw.text((PAD, PAD + fh * scale + 20), info, fill=DIM, font=font)
    return out, strip


def gallery(assets: Path, width: int = 1280, title: str = "") -> tuple[Image.Image, dict[str, Box]]:
    """The gallery image, and where each sprite's frames are in it (by name)."""
    manifest = json.loads((assets / "sprites" / "manifest.json").read_text(encoding="utf-8"))
    entries = sorted(manifest["sprites"], key=lambda e: (e["category"], e["name"]))
    cards = [(e["name"], *card(assets, e)) for e in entries]
    rows: list[list[tuple[str, Image.Image, Box]]] = [[]]
    for c in cards:
        used = sum(x[1].width for x in rows[-1]) + GAP * len(rows[-1])
        if rows[-1] and used + c[1].width > width - 2 * PAD:
            rows.append([])
        rows[-1].append(c)
    header = 30
    height = header + sum(max(c[1].height for c in row) for row in rows) + GAP * (len(rows) - 1) + 2 * PAD
    out = Image.new("RGBA", (width, height), BACKGROUND)
    ImageDraw.Draw(out).text((PAD, PAD), title, fill=TEXT, font=_font())
    strips: dict[str, Box] = {}
    y = PAD + header
    for row in rows:
        x = PAD
        for name, image, (x0, y0, x1, y1) in row:
            out.alpha_composite(image, (x, y))
            strips[name] = (x + x0, y + y0, x + x1, y + y1)
            x += image.width + GAP
        y += max(c[1].height for c in row) + GAP
    return out, strips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=Path, default=ROOT / "bevy_target" / "assets")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery.png")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    image, _ = gallery(args.assets, args.width, TITLE)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(args.out, format="PNG", optimize=True)
    print(f"wrote {args.out} ({image.width}x{image.height}, {args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
