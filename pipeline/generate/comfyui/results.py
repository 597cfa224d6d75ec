"""Reading a finished job: its /history entry -> the files to download (or the error), and checks on the images.

ComfyUI caches identical graphs and re-reports the files of the earlier run, so every job writes under its own
``filename_prefix`` and only files carrying that prefix are accepted: a re-report of another job's files is
refused, never handed back as this sprite's render.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from pipeline.errors import GenerationCancelled, ServerError
from pipeline.generate.comfyui.client import ExecutionFailed
from pipeline.generate.comfyui.jobs import Job

__all__ = ["check_frames", "images_of"]

_PNG = b"\x89PNG\r\n\x1a\n"


def images_of(entry: dict[str, Any], job: Job, server: str) -> list[dict[str, Any]]:
    """The images of ``job``'s output node in a history entry; raises what the entry says went wrong."""
    status = entry.get("status") or {}
    events = {m[0]: m[1] for m in status.get("messages") or [] if isinstance(m, list) and len(m) == 2}
    if "execution_interrupted" in events:
        why = "cancelled by this run" if job.cancel_requested else "interrupted in ComfyUI (someone pressed Cancel?)"
        raise GenerationCancelled(f"{server}: '{job.sprite}' was interrupted: {why}")
    if "execution_error" in events:
        raise ExecutionFailed(server, events["execution_error"], job.template, job.sprite)
    if status.get("status_str") != "success":
        raise ServerError(server, f"'{job.sprite}' ended with status {status.get('status_str')!r}")
    images = ((entry.get("outputs") or {}).get(job.save_node) or {}).get("images") or []
    assert job.prefix is not None
    sub, _, base = job.prefix.rpartition("/")
    mine = [
        im
        for im in images
        if isinstance(im, dict)
        and im.get("type", "output") == "output"
        and (im.get("subfolder") or "") == sub
        and str(im.get("filename", "")).startswith(base + "_")
    ]
    if len(mine) != len(images) or not images:
        names = ", ".join(f"{im.get('subfolder', '')}/{im.get('filename')}" for im in images) or "none"
        raise ServerError(
            server,
            f"'{job.sprite}': node {job.save_node} reported files this job did not write ({names}; expected "
            f"prefix {job.prefix}): a cached result of another job; refusing to use them",
        )
    if len(mine) != job.request.frames:
        raise ServerError(
            server,
            f"'{job.sprite}': workflow '{job.template}' produced {len(mine)} image(s), the spec needs "
            f"{job.request.frames} (one per animation frame): check the template's batch size binding",
        )
    return mine


def check_frames(frames: list[bytes], images: list[dict[str, Any]], job: Job, server: str) -> None:
    """Every download is a complete PNG at the render size the spec asked for.

    Decoded in full here, before anything is cached: a download cut short must fail now, not become a
    cache entry that breaks every later build.
    """
    for im, data in zip(images, frames, strict=True):
        if not data.startswith(_PNG):
            raise ServerError(server, f"'{job.sprite}': {im['filename']} is not a PNG")
        try:
            with Image.open(io.BytesIO(data)) as decoded:
                decoded.load()
                size = decoded.size
        except (OSError, ValueError, SyntaxError) as exc:
            raise ServerError(
                server,
                f"'{job.sprite}': {im['filename']} is truncated or corrupt ({exc}); the download was cut short "
                "or the server's output file is damaged; build again",
            ) from exc
        # Any render size is accepted: a model may draw at another size than asked; the pixel stage finds the
        # grid and the sprite in whatever comes back.
        del size
