#!/usr/bin/env python3
"""Draw docs/candidates.png: one spec's four candidates (render and pixel art), the pick, and its spec edit.

    .venv/bin/python scripts/candidates_picture.py            # -> docs/candidates.png
    .venv/bin/python scripts/candidates_picture.py --out FILE

Made with the pipeline's own functions on the embedded procedural backend (``pipeline.state.candidates``: the
candidate requests, their renders and the pixel stage; ``pipeline.core.specs.edit``: the pick's one-line
edit), in a throwaway cache. Same code, same bytes.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pipeline.core.generate.procedural import ProceduralBackend
from pipeline.core.specs import LoadedSpec, SpriteSpec
from pipeline.core.specs.edit import set_candidate_pick
from pipeline.settings import Settings
from pipeline.state.cache import ContentCache
from pipeline.state.candidates import candidate_requests, collect
from pipeline.state.stages import generate_stage

ROOT = Path(__file__).resolve().parent.parent
SPEC = 'name: slime\ncategory: enemy\nseed: 40\nprompt: "pixel art green slime"\ncandidates: 4   # pick one\n'
PICK = 2
SIDE, PAD, LABEL = 128, 14, 34
BACKGROUND, CARD = (32, 36, 48, 255), (46, 52, 68, 255)
PICKED, TEXT, DIM = (0, 228, 54, 255), (236, 238, 244, 255), (160, 168, 186, 255)

Box = tuple[int, int, int, int]


def _png(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGBA")


def picture() -> tuple[Image.Image, dict[str, Box]]:
    """The picture, and where each candidate's render and pixel art are in it (for the test)."""
    import yaml

    spec = SpriteSpec.model_validate(yaml.safe_load(SPEC))
    loaded = LoadedSpec(spec, "enemies/slime.yaml", 1)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.for_project(Path(tmp))
        cache, backend = ContentCache(Path(tmp) / "cache"), ProceduralBackend()
        requests = candidate_requests(spec, backend, settings)
        for request in requests:
            generate_stage(request, backend, cache)
        cands = collect(loaded, requests, cache)
    font = ImageFont.load_default()
    n = len(cands.candidates)
    width = PAD + n * (SIDE + PAD)
    top = PAD + LABEL
    height = top + 2 * SIDE + 3 * PAD + LABEL + 3 * 16 + PAD
    image = Image.new("RGBA", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text(
        (PAD, PAD),
        "sprites pick slime: four seeds, each rendered and cached (top) and the pixel art it becomes (bottom)",
        fill=TEXT,
        font=font,
    )
    boxes: dict[str, Box] = {}
    for c in cands.candidates:
        x = PAD + c.index * (SIDE + PAD)
        assert c.png is not None and c.pixel_png is not None
        render = _png(c.png).resize((SIDE, SIDE), Image.Resampling.BOX)
        pixel = _png(c.pixel_png)
        pixel = pixel.resize((SIDE, SIDE), Image.Resampling.NEAREST)
        frame = PICKED if c.index == PICK else CARD
        draw.rectangle((x - 4, top - 4, x + SIDE + 3, top + 2 * SIDE + PAD + 3), outline=frame, width=3)
        for name, y, shown in (("render", top, render), ("pixel", top + SIDE + PAD, pixel)):
            backdrop = Image.new("RGBA", (SIDE, SIDE), CARD)
            image.alpha_composite(Image.alpha_composite(backdrop, shown), (x, y))
            boxes[f"{c.index}-{name}"] = (x, y, x + SIDE, y + SIDE)
        label = f"{c.index}: seed {c.seed}" + ("  picked" if c.index == PICK else "")
        draw.text((x, top + 2 * SIDE + PAD + 10), label, fill=PICKED if c.index == PICK else DIM, font=font)
    edited = set_candidate_pick(SPEC, "slime", cands.candidates[PICK].seed, 4)
    y = top + 2 * SIDE + 2 * PAD + LABEL
    draw.text((PAD, y), f"$ sprites pick slime {PICK}   (one line of enemies/slime.yaml changes; commit it)", fill=TEXT,
              font=font)  # fmt: skip
    draw.text((PAD, y + 16), "- " + SPEC.splitlines()[-1], fill=DIM, font=font)
    draw.text((PAD, y + 32), "+ " + edited.splitlines()[-1], fill=PICKED, font=font)
    return image, boxes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "candidates.png")
    args = parser.parse_args()
    image, _boxes = picture()
    image.convert("RGB").save(args.out, optimize=True)
    print(f"wrote {args.out} ({image.width}x{image.height})")


if __name__ == "__main__":
    main()
