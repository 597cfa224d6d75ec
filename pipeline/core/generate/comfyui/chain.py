"""img2img animations on ComfyUI: frame 0 from the spec's workflow, each next frame from the previous one.

``animation.method: img2img`` resolves to one request whose payload holds two bound graphs: ``graph`` renders
frame 0 (the spec's workflow, one image), ``animation.graph`` renders frame k+1 from frame k (an img2img
template, ``animation.denoise``, the same seed). A :class:`Chain` runs them as N jobs, one after the other:
when frame k arrives, frame k+1 is submitted with frame k uploaded (POST /upload/image, a content-addressed
name) into the template's LoadImage. The chain's ``future`` resolves with all N frames, so it is cached and
published like any render; cancelling it withdraws the job in flight.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from pipeline.core.generate.base import GenerationRequest, GenerationResult, ProgressFn
from pipeline.core.generate.comfyui.jobs import Job, Upload
from pipeline.core.generate.comfyui.preflight import Need, requirements
from pipeline.errors import GenerationCancelled

__all__ = ["PREVIOUS_FRAME", "Chain", "is_chain", "payload_needs"]

#: the LoadImage input of the chain graph in a resolved payload; each job uploads the previous frame instead
PREVIOUS_FRAME = "sprites-previous-frame.png"


def is_chain(request: GenerationRequest) -> bool:
    return (request.payload.get("animation") or {}).get("method") == "img2img"


def payload_needs(payload: dict[str, Any]) -> frozenset[Need]:
    """Node classes and models every graph of a payload needs (both graphs of an img2img chain)."""
    needs = requirements(payload["graph"])
    chain = payload.get("animation") or {}
    return needs | requirements(chain["graph"]) if "graph" in chain else needs


class Chain:
    """The N jobs of one img2img animation, run in order; looks like one job to the backend."""

    def __init__(
        self,
        request: GenerationRequest,
        first: Job,
        submit: Callable[[Job], None],
        project_dir: Path,
    ) -> None:
        self.request = request
        self.current = first
        self.future: Future[GenerationResult] = Future()
        self._submit = submit
        self._project_dir = project_dir
        self._frames: list[bytes] = []
        self._ids: list[str] = []
        self._lock = threading.Lock()
        self._cancelled = False
        self._count = request.frames

    def start(self) -> None:
        self._launch(self.current)

    def _launch(self, job: Job) -> None:
        job.future.add_done_callback(self._arrived)
        self._submit(job)

    def _arrived(self, future: Future[GenerationResult]) -> None:
        if future.cancelled() or future.exception() is not None:
            error = future.exception() or GenerationCancelled(f"'{self.request.sprite}': generation cancelled")
            self._fail(error)
            return
        result = future.result()
        with self._lock:
            self._frames.append(result.frames[0])
            self._ids.append(str(result.info.get("prompt_id", "")))
            done, cancelled = len(self._frames) == self._count, self._cancelled
            if not done and not cancelled:
                self.current = self._next(len(self._frames), result.frames[0])
        if done:
            info = {**result.info, "frame_method": "img2img", "prompt_id": ",".join(self._ids)}
            self.future.set_result(GenerationResult(frames=list(self._frames), info=info))
        elif cancelled:
            self._fail(GenerationCancelled(f"'{self.request.sprite}': generation cancelled"))
        else:
            self._launch(self.current)

    def _fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)

    def _next(self, index: int, previous: bytes) -> Job:
        """The job rendering frame ``index`` from the bytes of frame ``index - 1``."""
        chain = self.request.payload["animation"]
        digest = hashlib.sha256(previous).hexdigest()
        upload = Upload(
            self._project_dir,
            f"frame {index} of '{self.request.sprite}' (rendered by this build)",
            f"sprites-frame-{digest[:16]}.png",
            digest,
            chain["input"]["node"],
            chain["input"]["input"],
            data=previous,
        )
        return Job(
            request=dataclasses.replace(self.request, frames=1),
            graph=chain["graph"],
            save_node=chain["save_node"],
            template=chain["workflow"],
            needs=requirements(chain["graph"]),
            uploads=(upload,),
        )

    # ---- what the backend's wait loop asks of a job ------------------------------------------------------------

    def cancel(self, cancel_job: Callable[[Job], Any]) -> None:
        with self._lock:
            self._cancelled = True
            job = self.current
        cancel_job(job)

    def drain(self, report: ProgressFn) -> None:
        """Relay the current job's progress as the chain's: frame k of N covers k/N .. (k+1)/N."""
        job = self.current
        index = len(self._frames)
        while not job.progress.empty():
            fraction, message = job.progress.get_nowait()
            report(
                (min(index, self._count - 1) + fraction) / self._count, f"frame {index + 1}/{self._count}: {message}"
            )
