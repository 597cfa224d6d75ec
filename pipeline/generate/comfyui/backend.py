"""``ComfyUIBackend``: the ``Backend`` interface over templates (binding.py) and servers (dispatch.py).

* ``resolve`` binds a spec into its template: pure, cached per template file, no network. The payload is the
  bound graph (with a placeholder filename_prefix: the unique per-job prefix is set at submission, so it never
  reaches the cache key) plus the init image's content hash.
* ``prepare`` probes every server (/system_stats, /object_info) and submits every request of the run at once;
  the dispatcher keeps each server's queue fed.
* ``generate`` waits for its own job, relaying progress in the caller's thread; ``cancel`` (the run's cancel
  event) withdraws every job of the run from its server, as does an interrupt of the calling thread (how
  Dagster stops a step in a run worker).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError, GenerationCancelled, ServerError
from pipeline.generate.base import Backend, GenerationRequest, GenerationResult, ProgressFn
from pipeline.generate.comfyui.binding import BindValues, Plan, bind, plan
from pipeline.generate.comfyui.dispatch import Dispatcher, DispatchOptions
from pipeline.generate.comfyui.jobs import Job, Upload
from pipeline.generate.comfyui.preflight import ServerProbe, requirements
from pipeline.generate.comfyui.templates import BindingError, Template, load_template, render_size
from pipeline.generate.image import read_input_image

if TYPE_CHECKING:
    from pipeline.settings import Settings
    from pipeline.specs.model import SpriteSpec

__all__ = ["ComfyUIBackend"]


class ComfyUIBackend(Backend):
    """Generation on one or more ComfyUI servers (``SPRITES_COMFYUI_URL``)."""

    kind = "comfyui"
    version = "1"

    def __init__(
        self,
        urls: tuple[str, ...] | list[str] = (),
        options: DispatchOptions | None = None,
        project_dir: Path | None = None,
    ):
        self.urls = tuple(u.rstrip("/") for u in urls)
        self.project_dir = Path(project_dir) if project_dir is not None else Path.cwd()
        self.options = options or DispatchOptions()
        self._templates: dict[tuple[Path, str], tuple[float, float, Template, Plan]] = {}
        self._dispatcher: Dispatcher | None = None
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.probes: list[ServerProbe] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> ComfyUIBackend:
        """Servers from settings; tuning fields are read when the settings define them (see docs/comfyui.md)."""
        fields = {f.name for f in dataclasses.fields(DispatchOptions)}
        tuning = {
            name.removeprefix("comfyui_"): getattr(settings, name)
            for name in type(settings).model_fields
            if name.startswith("comfyui_") and name.removeprefix("comfyui_") in fields
        }
        return cls(settings.comfyui_urls, DispatchOptions(**tuning) if tuning else None, settings.project_dir)

    # ---- resolve (pure) ---------------------------------------------------------------------------------------

    def template(self, workflows_dir: Path, name: str, project_dir: Path | None = None) -> tuple[Template, Plan]:
        """The template and its binding plan, re-read when the JSON or its sidecar changes."""
        path = Path(workflows_dir) / f"{name}.json"
        sidecar = path.with_name(f"{name}.bindings.yaml")
        stamp = (_mtime(path), _mtime(sidecar))
        key = (Path(workflows_dir), name)
        hit = self._templates.get(key)
        if hit is not None and hit[:2] == stamp:
            return hit[2], hit[3]
        template = load_template(workflows_dir, name, display_root=project_dir)
        p = plan(template)
        self._templates[key] = (*stamp, template, p)
        return template, p

    def resolve(self, spec: SpriteSpec, settings: Settings) -> GenerationRequest:
        g = spec.generation
        try:
            template, p = self.template(settings.workflows_dir, g.workflow, settings.project_dir)
            init = _init_image(spec, settings, p) if g.init_image else None
            width, height = render_size(template, spec.size.width, spec.size.height, g.render_scale)
            values = BindValues(
                positive=spec.prompt,
                negative=spec.negative_prompt,
                seed=spec.effective_seed,
                steps=g.steps,
                cfg=g.cfg,
                sampler=g.sampler,
                scheduler=g.scheduler,
                denoise=g.denoise,
                width=width,
                height=height,
                batch=spec.animation.frames,
                checkpoint=g.checkpoint,
                loras=tuple((lora.name, lora.strength) for lora in g.loras),
                init_image=init["name"] if init else None,
                sprite=spec.name,
            )
            graph = bind(p, values)
        except BindingError as exc:
            raise BindingError([dataclasses.replace(pr, sprite=pr.sprite or spec.name) for pr in exc.problems]) from exc
        payload: dict[str, Any] = {
            "workflow": g.workflow,
            "graph": graph,
            "save_node": p.save_node,
            "init_image": init,
        }
        return GenerationRequest(
            sprite=spec.name,
            backend=self.kind,
            backend_version=self.version,
            payload=payload,
            frames=spec.animation.frames,
            width=values.width,
            height=values.height,
            input_files={init["path"]: init["sha256"]} if init else {},
        )

    # ---- run ---------------------------------------------------------------------------------------------------

    def _start(self) -> Dispatcher:
        with self._lock:
            if self._dispatcher is None:
                if not self.urls:
                    raise ConfigError(
                        "no ComfyUI server configured: set SPRITES_COMFYUI_URL=http://HOST:8188 "
                        "(several: comma separated), or use generation.backend: procedural"
                    )
                self._dispatcher = Dispatcher(list(self.urls), self.options)
                self.probes = self._dispatcher.preflight()
            return self._dispatcher

    def preflight_report(self) -> list[str]:
        """One line per server from the last preflight (for the run log)."""
        return [f"{p.url}: {p.describe()}" for p in self.probes]

    def prepare(self, requests: list[GenerationRequest]) -> dict[str, Future[GenerationResult]]:
        """Probe the servers, then submit every request now so that no GPU waits for the pipeline."""
        dispatcher = self._start()
        if not any(p.ok for p in self.probes):
            raise ServerError(
                ", ".join(self.urls),
                "no ComfyUI server answered:\n  " + "\n  ".join(self.preflight_report()),
            )
        jobs = []
        with self._lock:
            for request in requests:
                if request.backend == self.kind and request.key not in self._jobs:
                    self._jobs[request.key] = job = _job_for(request, self.project_dir)
                    jobs.append(job)
        dispatcher.submit(jobs)
        return {job.request.key: job.future for job in jobs}

    def generate(
        self,
        request: GenerationRequest,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        dispatcher = self._start()
        with self._lock:
            job = self._jobs.pop(request.key, None)
        if job is None:
            job = _job_for(request, self.project_dir)
            dispatcher.submit([job])
        else:
            dispatcher.promote(job)
        report = progress or (lambda fraction, message: None)
        try:
            while True:
                try:
                    result = job.future.result(timeout=0.1)
                    break
                except TimeoutError:
                    pass
                _drain(job, report)
                if cancel is not None and cancel.is_set():
                    # the run is being stopped: the jobs submitted for its other sprites leave the queue first,
                    # so that no GPU starts one of them when this one's interrupt takes effect
                    with self._lock:
                        prepared, self._jobs = list(self._jobs.values()), {}
                    for other in [*prepared, job]:
                        dispatcher.cancel(other)
                    _wait_quietly(job, self.options.cancel_grace)
                    raise GenerationCancelled(f"'{request.sprite}': generation cancelled")
        except GenerationCancelled:
            raise
        except BaseException:
            if not job.future.done():  # interrupted while waiting (a Dagster run being stopped): withdraw the job
                dispatcher.cancel(job)
                _wait_quietly(job, min(2.0, self.options.cancel_grace))
            raise
        _drain(job, report)
        return result

    def close(self) -> None:
        with self._lock:
            dispatcher, self._dispatcher = self._dispatcher, None
            self._jobs.clear()
        if dispatcher is not None:
            dispatcher.close()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def _drain(job: Job, report: Callable[[float, str], None]) -> None:
    while not job.progress.empty():
        fraction, message = job.progress.get_nowait()
        report(fraction, message)


def _wait_quietly(job: Job, seconds: float) -> None:
    """Give the dispatcher up to ``seconds`` to settle ``job`` (its result or error is not needed)."""
    with contextlib.suppress(TimeoutError, CancelledError):
        job.future.exception(timeout=seconds)


def _init_image(spec: SpriteSpec, settings: Settings, p: Plan) -> dict[str, Any]:
    rel = spec.generation.init_image
    assert rel is not None
    path, data, _ = read_input_image(settings.project_dir, rel, spec.name)  # inside the project, bounded
    digest = hashlib.sha256(data).hexdigest()
    target = p.targets.get("init_image") or ()
    return {
        "path": str(rel),  # as the spec wrote it (relative to the project): the key stays machine-independent
        "sha256": digest,
        "name": f"sprites-init-{digest[:16]}{path.suffix.lower() or '.png'}",
        "node": target[0].node if target else None,
        "input": target[0].input if target else None,
    }


def _job_for(request: GenerationRequest, project_dir: Path) -> Job:
    payload = request.payload
    init = payload.get("init_image")
    uploads: tuple[Upload, ...] = ()
    if init and init.get("node"):
        uploads = (Upload(project_dir, init["path"], init["name"], init["sha256"], init["node"], init["input"]),)
    return Job(
        request=request,
        graph=payload["graph"],
        save_node=payload["save_node"],
        template=payload["workflow"],
        needs=requirements(payload["graph"]),
        uploads=uploads,
    )
