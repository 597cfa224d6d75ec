"""Headless Chromium screenshots (and rendered DOMs) of a page served on 127.0.0.1, for tests where the
picture, or the text the page's scripts rendered, is the truth.

Debian's ``chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it). Without it the tests that
need it are skipped, saying how to install it, except where ``SPRITES_REQUIRE_CHROMIUM=1`` (CI): there a
missing browser is a failure. The flags are those that work on a machine without network: background
networking off (else Chromium's own connections are refused, many at a time), a fresh profile.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

__all__ = ["dump_dom", "find_image", "screenshot"]

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "headless Chromium is needed for this check: apt-get install -y chromium (Debian)"
    if os.environ.get("SPRITES_REQUIRE_CHROMIUM") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _run(url: str, output: str, size: tuple[int, int], wait_ms: int) -> subprocess.CompletedProcess[str]:
    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [
            binary,
            *_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}",
            f"--virtual-time-budget={wait_ms}",
            output,
            url,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def dump_dom(url: str, size: tuple[int, int] = (1400, 1400), wait_ms: int = 20000) -> str:
    """The DOM of the page at ``url`` as its scripts left it after ``wait_ms`` of (virtual) time."""
    done = _run(url, "--dump-dom", size, wait_ms)
    if "</html>" not in done.stdout:
        raise AssertionError(f"chromium dumped no page (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def screenshot(url: str, out: Path, size: tuple[int, int] = (1400, 1400), wait_ms: int = 20000) -> Image.Image:
    """The page at ``url`` after ``wait_ms`` of (virtual) time, as an RGB image saved at ``out``."""
    done = _run(url, f"--screenshot={out}", size, wait_ms)
    if not out.is_file():
        raise AssertionError(f"chromium wrote no screenshot (exit {done.returncode}):\n{done.stderr[-2000:]}")
    with Image.open(out) as image:
        return image.convert("RGB")


def find_image(page: Image.Image, needle: Image.Image) -> tuple[int, int] | None:
    """Where ``needle``'s opaque pixels appear in ``page`` exactly (top-left corner), or None."""
    hay = np.asarray(page.convert("RGB"), dtype=np.int16)
    rgba = np.asarray(needle.convert("RGBA"))
    mask = rgba[..., 3] == 255
    want = rgba[..., :3].astype(np.int16)
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    y0, x0 = int(ys[0]), int(xs[0])
    h, w = mask.shape
    candidates = np.argwhere(np.all(hay == want[y0, x0], axis=-1))
    for cy, cx in candidates:
        top, left = int(cy) - y0, int(cx) - x0
        if top < 0 or left < 0 or top + h > hay.shape[0] or left + w > hay.shape[1]:
            continue
        window = hay[top : top + h, left : left + w]
        if np.array_equal(window[mask], want[mask]):
            return left, top
    return None
