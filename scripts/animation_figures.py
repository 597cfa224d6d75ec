#!/usr/bin/env python3
"""Draw docs/animation.md's pictures and figures: one walk cycle made by each ``animation.method``.

    .venv/bin/python scripts/animation_figures.py            # -> docs/animation-methods.png, docs/animation-sheet.png
    .venv/bin/python scripts/animation_figures.py --table    # the consistency table docs/animation.md shows

Everything comes from the embedded procedural backend and the real pixel stage (same inputs, same pixels on
every machine), so the pictures show what the pipeline does, not a mock-up: per method, the render(s) the
backend made and the four frames the pixel stage cut from them, with the frame-to-frame figures the build
records; and the sheet render with the frame cells the pixel stage found drawn on it.
"""

from __future__ import annotations

import argparse
import functools
import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from pipeline.core.generate import make_backend
from pipeline.core.specs.model import SpriteSpec
from pipeline.settings import Settings
from pipeline.state.stages import pixelate_images

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "pixel art knight in silver armor with a blue cape, walking cycle, side view"
#: (label, method, denoise) in the order the picture shows them
CASES = (
    ("sheet", "sheet", 0.35),
    ("img2img, denoise 0.2", "img2img", 0.2),
    ("img2img, denoise 0.35", "img2img", 0.35),
    ("img2img, denoise 0.6", "img2img", 0.6),
    ("batch", "batch", 0.35),
)
SCALE, RENDER_H, PAD, GAP, LABEL = 3, 64, 12, 8, 30
SHEET_SHRINK = 2  # the sheet render is shown at half size
BACKGROUND, CARD = (32, 36, 48, 255), (46, 52, 68, 255)
CHECKER = ((58, 64, 82, 255), (66, 72, 92, 255))
TEXT, DIM, CELL = (236, 238, 244, 255), (160, 168, 186, 255), (255, 80, 64, 255)

Box = tuple[int, int, int, int]


def spec_for(method: str, denoise: float) -> SpriteSpec:
    return SpriteSpec.model_validate(
        {
            "name": "knight-walk",
            "category": "character",
            "prompt": PROMPT,
            "seed": 1001,
            "animation": {"frames": 4, "method": method, "denoise": denoise},
        }
    )


@functools.cache
def make(method: str, denoise: float) -> tuple[list[Image.Image], list[Image.Image], dict[str, Any]]:
    """(renders, pixel frames, pixel metadata) of the walk cycle made by ``method``."""
    settings = Settings.for_project(ROOT)
    backend = make_backend("procedural", settings)
    spec = spec_for(method, denoise)
    raw = backend.generate(backend.resolve(spec, settings))
    renders = [Image.open(io.BytesIO(f)).convert("RGB") for f in raw.frames]
    result = pixelate_images(spec, renders)
    return renders, result.frames, result.metadata


def _checker(width: int, height: int, cell: int) -> Image.Image:
    board = Image.new("RGBA", (width, height), CHECKER[0])
    draw = ImageDraw.Draw(board)
    for y in range(0, height, cell):
        for x in range(0, width, cell):
            if (x // cell + y // cell) % 2:
                draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=CHECKER[1])
    return board


def summary(meta: dict[str, Any]) -> str:
    c = meta["consistency"]
    palette = "one palette, same colours" if c["palette_identical"] else f"colours overlap {c['palette_overlap']:.0%}"
    return f"unchanged between frames {c['unchanged_mean']:.0%} (min {c['unchanged_min']:.0%}) · {palette}"


def methods_picture() -> tuple[Image.Image, dict[str, Box]]:
    """Per method a row: its render(s), scaled to one height, then its frames at 3x; and where the frames are."""
    rows = []
    for label, method, denoise in CASES:
        renders, frames, meta = make(method, denoise)
        thumbs = [r.resize((round(r.width * RENDER_H / r.height), RENDER_H), Image.Resampling.LANCZOS) for r in renders]
        fw, fh = frames[0].width * SCALE, frames[0].height * SCALE
        rows.append((label, thumbs, frames, meta, fw, fh))
    font = ImageFont.load_default()
    thumbs_w = max(sum(t.width for t in r[1]) + GAP * (len(r[1]) - 1) for r in rows)
    frames_w = max(len(r[2]) * (r[4] + GAP) - GAP for r in rows)
    width = 2 * PAD + thumbs_w + 3 * GAP + frames_w
    row_h = LABEL + max(RENDER_H, rows[0][5]) + PAD
    out = Image.new("RGBA", (width, PAD + len(rows) * row_h), BACKGROUND)
    draw = ImageDraw.Draw(out)
    boxes: dict[str, Box] = {}
    y = PAD
    for label, thumbs, frames, meta, fw, fh in rows:
        draw.rectangle((PAD // 2, y - 4, width - PAD // 2, y + row_h - PAD + 2), fill=CARD)
        draw.text((PAD, y), label, fill=TEXT, font=font)
        draw.text((PAD, y + 13), summary(meta), fill=DIM, font=font)
        x, top = PAD, y + LABEL
        for t in thumbs:
            out.alpha_composite(t.convert("RGBA"), (x, top))
            x += t.width + GAP
        x = PAD + thumbs_w + 3 * GAP
        start = x
        for frame in frames:
            big = frame.resize((fw, fh), Image.Resampling.NEAREST)
            board = _checker(fw, fh, SCALE * 4)
            board.alpha_composite(big)
            out.alpha_composite(board, (x, top))
            x += fw + GAP
        boxes[label] = (start, top, x - GAP, top + fh)
        y += row_h
    return out, boxes


def sheet_picture() -> tuple[Image.Image, list[Box]]:
    """The sheet render (at half size) with the frame cells the pixel stage found outlined; the cells' boxes."""
    renders, _, meta = make("sheet", 0.35)
    full = renders[0]
    size = (full.width // SHEET_SHRINK, full.height // SHEET_SHRINK)
    render = full.resize(size, Image.Resampling.LANCZOS).convert("RGBA")
    cells = [tuple(round(v / SHEET_SHRINK) for v in f["window"]["px"]) for f in meta["frames"]]
    draw = ImageDraw.Draw(render)
    for x0, y0, x1, y1 in cells:
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=CELL, width=2)
    return render, [(c[0], c[1], c[2], c[3]) for c in cells]


def table() -> str:
    """The consistency figures of every case, as docs/animation.md shows them."""
    lines = [
        "| method | unchanged between frames (mean, min) | same colours in every frame | colour overlap |",
        "|---|---|---|---|",
    ]
    for label, method, denoise in CASES:
        c = make(method, denoise)[2]["consistency"]
        same = "yes" if c["palette_identical"] else "no"
        lines.append(
            f"| {label} | {c['unchanged_mean']:.0%}, {c['unchanged_min']:.0%} | {same} | {c['palette_overlap']:.0%} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", action="store_true", help="print the consistency table instead")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    if args.table:
        print(table())
        return
    for name, (image, _) in (("animation-methods.png", methods_picture()), ("animation-sheet.png", sheet_picture())):
        path = args.out / name
        image.convert("RGB").save(path, optimize=True)
        print(f"wrote {path} ({image.width}x{image.height}, {path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
