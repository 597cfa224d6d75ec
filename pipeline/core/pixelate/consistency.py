"""Frame-to-frame consistency of an animation: do its frames belong together? (pure numpy)

Measured on the finished frames (logical size, RGBA, binary alpha):

* ``unchanged``: for each pair of consecutive frames, the share of the pixels opaque in either frame that
  are identical in both (colour and alpha). A walk cycle moves its legs and keeps its body: roughly 0.6 to
  0.9. Independent samples of one prompt share little: under 0.5 is typical. 1.0 means no motion at all.
* ``palette_identical``: every frame uses exactly the same colours (all frames always map to one shared
  palette; this says whether they use the same entries of it). ``palette_overlap``: the smallest share of
  colours a frame has in common with frame 0 (intersection over union).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["frame_consistency"]


def _colours(frame: np.ndarray) -> set[tuple[int, int, int]]:
    opaque = frame[..., 3] > 0
    return {(int(r), int(g), int(b)) for r, g, b in np.unique(frame[opaque][:, :3], axis=0)}


def _unchanged(a: np.ndarray, b: np.ndarray) -> float:
    either = (a[..., 3] > 0) | (b[..., 3] > 0)
    total = int(either.sum())
    if total == 0:
        return 1.0
    same = np.all(a == b, axis=-1) & either
    return int(same.sum()) / total


def frame_consistency(frames: Sequence[np.ndarray]) -> dict[str, Any]:
    """The consistency figures of (h, w, 4) uint8 frames, JSON-able (it goes into the asset metadata)."""
    unchanged = [round(_unchanged(a, b), 4) for a, b in itertools.pairwise(frames)]
    colours = [_colours(f) for f in frames]
    first = colours[0]
    overlap = min((len(c & first) / len(c | first) if c | first else 1.0) for c in colours)
    return {
        "unchanged": unchanged,
        "unchanged_min": min(unchanged, default=1.0),
        "unchanged_mean": round(float(np.mean(unchanged)), 4) if unchanged else 1.0,
        "palette_identical": all(c == first for c in colours),
        "palette_overlap": round(overlap, 4),
        "colours_per_frame": [len(c) for c in colours],
    }
