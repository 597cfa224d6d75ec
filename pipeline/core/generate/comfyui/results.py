"""Reading a finished job: its /history entry -> the files to download (or the error), and checks on the images.

ComfyUI caches identical graphs and re-reports the files of the earlier run, so every job writes under its own
``filename_prefix`` and only files carrying that prefix are accepted: a re-report of another job's files is
refused, never handed back as this sprite's render.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from pipeline.core.generate.comfyui.client import ExecutionFailed
from pipeline.core.generate.comfyui.jobs import Job
from pipeline.errors import GenerationCancelled, GenerationError, ServerError

__all__ = ["MAX_RENDER_PIXELS", "check_frames", "images_of", "max_download_bytes", "png_dimensions"]

_PNG = b"\x89PNG\r\n\x1a\n"


def max_download_bytes(width: int, height: int) -> int:
    """The most a PNG of ``width`` x ``height`` may take: uncompressed RGBA twice over, plus 16 MiB of chunks
    (ComfyUI's SaveImage embeds the prompt as text). Anything bigger is refused before it is read."""
    return 2 * (width * 4 + 1) * height + 16 * 2**20


def png_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the IHDR chunk, without decoding anything; None when it is not there."""
    if len(data) < 24 or not data.startswith(_PNG) or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


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


#: a render larger than this is refused from its PNG header, before it is decoded (8192 x 8192)
MAX_RENDER_PIXELS = 8192 * 8192


def check_frames(frames: list[bytes], images: list[dict[str, Any]], job: Job, server: str) -> None:
    """Every download is a complete PNG at the render size the spec asked for.

    Decoded in full here, before anything is cached: a download cut short must fail now, not become a
    cache entry that breaks every later build.
    """
    for im, data in zip(images, frames, strict=True):
        if not data.startswith(_PNG):
            raise ServerError(server, f"'{job.sprite}': {im['filename']} is not a PNG")
        declared = png_dimensions(data)
        if declared is not None and declared[0] * declared[1] > MAX_RENDER_PIXELS:  # before decoding a byte
            raise _too_large(server, job, declared)
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
        # Any render size up to MAX_RENDER_PIXELS is accepted: a model may draw at another size than asked;
        # the pixel stage finds the grid and the sprite in whatever comes back.
        del size


def _too_large(server: str, job: Job, size: tuple[int, int]) -> GenerationError:
    return GenerationError(
        f"{server}: '{job.sprite}': workflow '{job.template}' rendered {size[0]}x{size[1]}, more than the "
        f"{MAX_RENDER_PIXELS} pixels a render may have (asked for {job.request.width}x{job.request.height}); "
        "check the template's width/height binding"
    )
