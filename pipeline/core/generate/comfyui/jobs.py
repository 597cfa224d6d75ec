"""One generation job as the dispatcher tracks it: what to submit, where it is, and how its caller hears of it.

The caller's thread reads ``future`` and ``progress``; everything else belongs to the dispatcher's loop.
"""

from __future__ import annotations

import copy
import queue
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.core.generate.base import GenerationRequest, GenerationResult
from pipeline.core.generate.comfyui.lifecycle import State

if TYPE_CHECKING:
    from pipeline.core.generate.comfyui.preflight import Need

__all__ = ["Job", "Upload"]


@dataclass(frozen=True)
class Upload:
    """An input image a LoadImage node reads: uploaded (POST /upload/image) before each submission.

    Either a project file (``path``) or, for the frames of an img2img animation, the bytes of the previous
    frame (``data``, its ``path`` then only names it in messages).
    """

    def read(self, sprite: str) -> bytes:
        """The file's bytes, under the same containment and size limits as when the spec was resolved."""
        if self.data is not None:
            return self.data
        from pipeline.core.generate.image import read_input_image
        from pipeline.errors import GenerationError, SpecError

        try:
            return read_input_image(self.project_dir, self.path, sprite)[1]
        except SpecError as exc:
            raise GenerationError(f"'{sprite}': {exc.problems[0].message}") from exc

    project_dir: Path
    path: str  # relative to the project, as the spec wrote it (re-checked when it is read)
    name: str  # content-addressed: the same bytes always have the same name
    sha256: str
    node: str
    input: str
    data: bytes | None = field(default=None, repr=False)


@dataclass(eq=False)
class Job:
    request: GenerationRequest
    graph: dict[str, Any]  # bound, with the placeholder filename_prefix
    save_node: str
    template: str
    needs: frozenset[Need]
    uploads: tuple[Upload, ...] = ()
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    future: Future[GenerationResult] = field(default_factory=Future)
    progress: queue.SimpleQueue[tuple[float, str]] = field(default_factory=queue.SimpleQueue)
    # ---- owned by the dispatcher's loop ----
    state: State = State.PENDING  # moved only through the dispatcher's ``_go`` (lifecycle.transition)
    slot: Any = None
    prompt_id: str | None = None
    prefix: str | None = None
    attempts: int = 0
    created_at: float = field(default_factory=time.monotonic)
    submitted_at: float = 0.0
    confirmed_at: float | None = None  # when POST /prompt answered: only then may a poll call the job lost
    started_at: float | None = None
    cancel_requested: bool = False
    timed_out: bool = False
    moving: bool = False
    excluded: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def sprite(self) -> str:
        return self.request.sprite

    last_fraction: float = 0.0

    def emit(self, fraction: float, message: str, restart: bool = False) -> None:
        """Report progress; the fraction never goes back, except when the job starts over elsewhere."""
        self.last_fraction = fraction if restart else max(fraction, self.last_fraction)
        self.progress.put((self.last_fraction, message))

    def graph_for(self, prompt_id: str) -> tuple[dict[str, Any], str]:
        """The graph to submit as ``prompt_id``: a filename_prefix no other job (or run) shares.

        ComfyUI caches identical graphs and re-reports the files of the earlier run; a unique prefix makes the
        output node execute again and lets us check that every file we download was written by this job.
        """
        prefix = f"sprites/{self.sprite}-{prompt_id[:13]}"
        graph = copy.deepcopy(self.graph)
        graph[self.save_node]["inputs"]["filename_prefix"] = prefix
        return graph, prefix

    def describe_graph_node(self, node: str | None) -> str:
        if node is None or node not in self.graph:
            return f"node {node}"
        return f"{self.graph[node]['class_type']} (node {node})"
