"""Named palettes, explicit hex lists and palette files (no Dagster, no I/O beyond reading a file)."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["NAMED_PALETTES", "load_palette_file", "normalize_hex", "parse_palette_arg"]


def _split(s: str) -> tuple[str, ...]:
    return tuple("#" + c.lower() for c in s.split())


NAMED_PALETTES: dict[str, tuple[str, ...]] = {
    "pico-8": _split(
        "000000 1d2b53 7e2553 008751 ab5236 5f574f c2c3c7 fff1e8 "
        "ff004d ffa300 ffec27 00e436 29adff 83769c ff77a8 ffccaa"
    ),
    "db16": _split(
        "140c1c 442434 30346d 4e4a4e 854c30 346524 d04648 757161 "
        "597dce d27d2c 8595a1 6daa2c d2aa99 6dc2ca dad45e deeed6"
    ),
    "db32": _split(
        "000000 222034 45283c 663931 8f563b df7126 d9a066 eec39a fbf236 99e550 6abe30 37946e "
        "4b692f 524b24 323c39 3f3f74 306082 5b6ee1 639bff 5fcde4 cbdbfc ffffff 9badb7 847e87 "
        "696a6a 595652 76428a ac3232 d95763 d77bba 8f974a 8a6f30"
    ),
    "endesga-32": _split(
        "be4a2f d77643 ead4aa e4a672 b86f50 733e39 3e2731 a22633 e43b44 f77622 feae34 fee761 "
        "63c74d 3e8948 265c42 193c3e 124e89 0099db 2ce8f5 ffffff c0cbdc 8b9bb4 5a6988 3a4466 "
        "262b44 181425 ff0044 68386c b55088 f6757a e8b796 c28569"
    ),
    "gameboy": _split("0f380f 306230 8bac0f 9bbc0f"),
    "nes": _split(
        "7c7c7c 0000fc 0000bc 4428bc 940084 a80020 a81000 881400 503000 007800 006800 005800 004058 000000 "
        "bcbcbc 0078f8 0058f8 6844fc d800cc e40058 f83800 e45c10 ac7c00 00b800 00a800 00a844 008888 "
        "f8f8f8 3cbcfc 6888fc 9878f8 f878f8 f85898 f87858 fca044 f8b800 b8f818 58d854 58f898 00e8d8 787878 "
        "fcfcfc a4e4fc b8b8f8 d8b8f8 f8b8f8 f8a4c0 f0d0b0 fce0a8 f8d878 d8f878 b8f8b8 b8f8d8 00fcfc f8d8f8"
    ),
}
# Common spellings people type.
NAMED_PALETTES["pico8"] = NAMED_PALETTES["pico-8"]
NAMED_PALETTES["endesga32"] = NAMED_PALETTES["endesga-32"]
NAMED_PALETTES["gameboy-4"] = NAMED_PALETTES["gameboy"]

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def normalize_hex(value: str) -> str:
    """'#AbC123' or 'abc123' -> '#abc123'; anything else raises ValueError."""
    m = _HEX.match(value.strip())
    if not m:
        raise ValueError(f"'{value}' is not a colour like #rrggbb")
    return "#" + m.group(1).lower()


def load_palette_file(path: Path) -> tuple[str, ...]:
    """Read a Lospec-style ``.hex`` file (one colour per line) or a GIMP ``.gpl`` palette."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    colours: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or (line.startswith(("#", ";", "GIMP", "Name:", "Columns:")) and not _HEX.match(line)):
            continue
        nums = line.split()
        if len(nums) >= 3 and all(n.isdigit() for n in nums[:3]):  # .gpl: "r g b name"
            r, g, b = (int(n) for n in nums[:3])
            colours.append(f"#{r:02x}{g:02x}{b:02x}")
        else:
            colours.append(normalize_hex(nums[0]))
    if len(colours) < 2:
        raise ValueError(f"{path}: a palette needs at least 2 colours, found {len(colours)}")
    return tuple(dict.fromkeys(colours))


def parse_palette_arg(value: str) -> str | tuple[str, ...] | int:
    """CLI form: a name (``pico-8``), ``adaptive:16``, a file path, or comma-separated hex colours."""
    v = value.strip()
    if v.lower().startswith("adaptive:"):
        return int(v.split(":", 1)[1])
    if v.lower() in NAMED_PALETTES:
        return v.lower()
    if Path(v).is_file():
        return load_palette_file(Path(v))
    if "," in v:
        return tuple(normalize_hex(c) for c in v.split(",") if c.strip())
    raise ValueError(
        f"palette '{value}': use a name ({', '.join(sorted(NAMED_PALETTES))}), adaptive:N, "
        "a .hex/.gpl file or comma-separated #rrggbb colours"
    )
