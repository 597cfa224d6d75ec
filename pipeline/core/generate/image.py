"""The ``image`` generation backend: an existing picture is the render (``deploy_to_bevy``'s way in).

A spec with ``generation: {backend: image, init_image: sprite_specs/mcp/images/<name>.png}`` materializes
like any other sprite: its render (``<name>/<name>_render``) is the file (its key is the file's sha256, so
editing the picture regenerates and nothing else does), then the pixel stage and the Bevy export run as usual.

It is local (no server), so ``--offline`` builds may use it.
"""

from __future__ import annotations

import hashlib
import io
import stat
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from pipeline.core.export.atomic import safe_target
from pipeline.core.generate.base import Backend, GenerationRequest, GenerationResult, ProgressFn
from pipeline.errors import GenerationError, SpecError, SpecProblem, UnsafePathError

if TYPE_CHECKING:
    from pipeline.core.specs.model import SpriteSpec
    from pipeline.settings import Settings

__all__ = ["MAX_INPUT_IMAGE_BYTES", "MAX_INPUT_IMAGE_PIXELS", "ImageFileBackend", "read_input_image"]

#: an input image (``generation.init_image``) larger than this is refused before it is read
MAX_INPUT_IMAGE_BYTES = 32 * 2**20
#: ... and one whose header declares more pixels than this is refused before it is decoded
MAX_INPUT_IMAGE_PIXELS = 8192 * 8192


def read_input_image(project_dir: Path, relative: str, sprite: str) -> tuple[Path, bytes, tuple[int, int]]:
    """``generation.init_image`` for every backend: a regular file inside the project, of bounded size.

    Refuses absolute paths, ``..``, symlinks, devices and FIFOs (``/dev/zero``), files over
    ``MAX_INPUT_IMAGE_BYTES`` and images whose header declares more than ``MAX_INPUT_IMAGE_PIXELS``; nothing is
    read past the limit and nothing is decoded. Returns the path, the bytes and the (width, height) it declares.
    """

    def refuse(why: str) -> SpecError:
        return SpecError(
            [SpecProblem("", f"init_image '{relative}' {why}", sprite=sprite, field="generation.init_image")]
        )

    try:
        path = safe_target(project_dir, relative)
        info = path.stat()
    except UnsafePathError as exc:
        raise refuse(f"is not allowed: {exc}") from exc
    except OSError as exc:
        raise refuse(f"is not readable: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise refuse("is not a regular file")
    limit = MAX_INPUT_IMAGE_BYTES
    if info.st_size > limit:
        raise refuse(f"is {info.st_size / 2**20:.0f} MiB; input images may be at most {limit // 2**20} MiB")
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise refuse(f"is not readable: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise refuse(f"grew past {limit // 2**20} MiB while it was read")
    try:
        with warnings.catch_warnings():  # the size is compared with our own limit next
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:  # reads the header only
                width, height = image.size
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise refuse(f"is not a readable image: {exc}") from exc
    if width * height > MAX_INPUT_IMAGE_PIXELS:
        raise refuse(f"declares {width}x{height} pixels; input images may have at most {MAX_INPUT_IMAGE_PIXELS} pixels")
    return path, data, (width, height)


class ImageFileBackend(Backend):
    """Reads ``generation.init_image`` (relative to the project folder) as the one render frame."""

    kind = "image"
    remote = False
    version = "1"

    def __init__(self, settings: Settings):
        self.settings = settings

    def resolve(self, spec: SpriteSpec, settings: Settings) -> GenerationRequest:
        relative = spec.generation.init_image
        if not relative:
            raise SpecError([SpecProblem(spec.name, "backend 'image' needs generation.init_image", sprite=spec.name)])
        _, data, (width, height) = read_input_image(settings.project_dir, relative, spec.name)
        digest = hashlib.sha256(data).hexdigest()
        return GenerationRequest(
            sprite=spec.name,
            backend=self.kind,
            backend_version=self.version,
            payload={"image_sha256": digest, "path": relative},
            frames=1,
            width=width,
            height=height,
            input_files={relative: digest},
        )

    def generate(
        self, request: GenerationRequest, progress: ProgressFn | None = None, cancel: threading.Event | None = None
    ) -> GenerationResult:
        try:
            _, data, _ = read_input_image(self.settings.project_dir, request.payload["path"], request.sprite)
        except SpecError as exc:
            raise GenerationError(f"{request.sprite}: {exc.problems[0].message}") from exc
        if hashlib.sha256(data).hexdigest() != request.payload["image_sha256"]:
            raise GenerationError(f"{request.sprite}: {request.payload['path']} changed while building; build again")
        if progress:
            progress(1.0, "image read")
        return GenerationResult(frames=[data], info={"backend": self.kind, "source": request.payload["path"]})
