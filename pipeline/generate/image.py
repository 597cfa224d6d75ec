"""The ``image`` generation backend: an existing picture is the render (``deploy_to_bevy``'s way in).

A spec with ``generation: {backend: image, init_image: sprite_specs/mcp/images/<name>.png}`` materializes
like any other sprite: ``raw/<name>`` is the file (its key is the file's sha256, so editing the picture
regenerates and nothing else does), then the pixel stage and the Bevy export run as usual.

It is local (no server), so ``--offline`` builds may use it.
"""

from __future__ import annotations

import hashlib
import io
import threading
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from pipeline.errors import GenerationError, SpecError, SpecProblem, UnsafePathError
from pipeline.export.atomic import safe_target
from pipeline.generate.base import Backend, GenerationRequest, GenerationResult, ProgressFn

if TYPE_CHECKING:
    from pipeline.settings import Settings
    from pipeline.specs.model import SpriteSpec

__all__ = ["ImageFileBackend"]


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
        try:
            path = safe_target(settings.project_dir, relative)
            data = path.read_bytes()
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (UnsafePathError, OSError, UnidentifiedImageError) as exc:
            problem = SpecProblem(
                spec.name, f"init_image '{relative}' is not a readable image: {exc}", sprite=spec.name
            )
            raise SpecError([problem]) from exc
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
        path = safe_target(self.settings.project_dir, request.payload["path"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise GenerationError(f"{request.sprite}: cannot read {request.payload['path']}: {exc.strerror}") from exc
        if hashlib.sha256(data).hexdigest() != request.payload["image_sha256"]:
            raise GenerationError(f"{request.sprite}: {request.payload['path']} changed while building; build again")
        if progress:
            progress(1.0, "image read")
        return GenerationResult(frames=[data], info={"backend": self.kind, "source": request.payload["path"]})
