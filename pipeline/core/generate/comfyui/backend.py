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

from pipeline.core.generate.base import Backend, GenerationRequest, GenerationResult, ProgressFn
from pipeline.core.generate.comfyui.binding import BindValues, Plan, bind, plan
from pipeline.core.generate.comfyui.chain import PREVIOUS_FRAME, Chain, is_chain
from pipeline.core.generate.comfyui.dispatch import Dispatcher, DispatchOptions
from pipeline.core.generate.comfyui.jobs import Job, Upload
from pipeline.core.generate.comfyui.preflight import ServerProbe, requirements
from pipeline.core.generate.comfyui.templates import BindingError, Template, load_template, render_size
from pipeline.core.generate.image import read_input_image
from pipeline.errors import ConfigError, GenerationCancelled, ServerError, SpecProblem

if TYPE_CHECKING:
    from pipeline.core.specs.model import SpriteSpec
    from pipeline.settings import Settings

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
        self._jobs: dict[str, Job | Chain] = {}
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
        g, anim = spec.generation, spec.animation
        method = anim.method if anim.frames > 1 else None
        try:
            template, p = self.template(settings.workflows_dir, g.workflow, settings.project_dir)
            init = _init_image(spec, settings, p) if g.init_image else None
            cells = spec.sheet_size if method == "sheet" else (spec.size.width, spec.size.height)
            width, height = render_size(template, *cells, g.render_scale)
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
                batch=anim.frames if method == "batch" else 1,  # sheet: one image of all; img2img: one per job
                checkpoint=g.checkpoint,
                loras=tuple((lora.name, lora.strength) for lora in g.loras),
                init_image=init["name"] if init else None,
                sprite=spec.name,
            )
            graph = bind(p, values)
            chain = self._chain(spec, settings, p, values) if method == "img2img" else None
        except BindingError as exc:
            raise BindingError([dataclasses.replace(pr, sprite=pr.sprite or spec.name) for pr in exc.problems]) from exc
        payload: dict[str, Any] = {
            "workflow": g.workflow,
            "graph": graph,
            "save_node": p.save_node,
            "init_image": init,
        }
        if method == "sheet":  # (batch: the graph's batch size says it all, and keeps today's keys)
            payload["animation"] = {"method": "sheet"}
        elif chain is not None:
            payload["animation"] = chain
        return GenerationRequest(
            sprite=spec.name,
            backend=self.kind,
            backend_version=self.version,
            payload=payload,
            frames=1 if method == "sheet" else anim.frames,
            width=values.width,
            height=values.height,
            input_files={init["path"]: init["sha256"]} if init else {},
        )

    def _chain(self, spec: SpriteSpec, settings: Settings, first: Plan, values: BindValues) -> dict[str, Any]:
        """The img2img template bound for frames 1..N-1: the previous frame in, ``animation.denoise``, same seed."""
        anim, g = spec.animation, spec.generation
        name = anim.workflow or (g.workflow if first.targets.get("init_image") else f"{g.workflow}_img2img")
        fix = (
            "set animation.workflow to an img2img template (one with a LoadImage node, e.g. sdxl_pixel_art_img2img), "
            "or use animation.method: sheet"
        )
        try:
            _, p = self.template(settings.workflows_dir, name, settings.project_dir)
        except BindingError as exc:
            raise BindingError(
                [
                    dataclasses.replace(pr, file="", field="animation.workflow", message=f"{pr.message}; {fix}")
                    for pr in exc.problems
                ]
            ) from exc
        target = p.targets.get("init_image") or ()
        if not target:
            shown = p.template.shown or str(p.template.path)
            raise BindingError(
                [
                    SpecProblem(
                        "",  # the spec file: resolve_requests fills it in
                        f"animation.method img2img renders each next frame from the previous one, but template "
                        f"'{name}' ({shown}) has no LoadImage node to take it; {fix}",
                        sprite=spec.name,
                        field="animation.workflow",
                    )
                ]
            )
        graph = bind(p, dataclasses.replace(values, denoise=anim.denoise, init_image=PREVIOUS_FRAME))
        return {
            "method": "img2img",
            "denoise": anim.denoise,
            "workflow": name,
            "graph": graph,
            "save_node": p.save_node,
            "input": {"node": target[0].node, "input": target[0].input},
        }

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
        jobs: list[Job] = []
        chains: list[Chain] = []
        futures: dict[str, Future[GenerationResult]] = {}
        with self._lock:
            for request in requests:
                if request.backend == self.kind and request.key not in self._jobs:
                    self._jobs[request.key] = handle = self._handle_for(request, dispatcher)
                    if isinstance(handle, Chain):
                        chains.append(handle)
                    else:
                        jobs.append(handle)
                    futures[request.key] = handle.future
        dispatcher.submit(jobs)
        for chain in chains:
            chain.start()
        return futures

    def _handle_for(self, request: GenerationRequest, dispatcher: Dispatcher) -> Job | Chain:
        """One job, or the chain of jobs of an img2img animation (not started)."""
        if not is_chain(request):
            return _job_for(request, self.project_dir)
        first = _job_for(dataclasses.replace(request, frames=1), self.project_dir)
        return Chain(request, first, lambda job: dispatcher.submit([job]), self.project_dir)

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
            job = self._handle_for(request, dispatcher)
            if isinstance(job, Chain):
                job.start()
            else:
                dispatcher.submit([job])
        else:
            dispatcher.promote(job.current if isinstance(job, Chain) else job)
        report = progress or (lambda fraction, message: None)

        def withdraw(grace: float) -> None:
            if isinstance(job, Chain):
                job.cancel(dispatcher.cancel)
            else:
                dispatcher.cancel(job)
            _wait_quietly(job, grace)

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
                    for other in prepared:
                        if isinstance(other, Chain):
                            other.cancel(dispatcher.cancel)
                        else:
                            dispatcher.cancel(other)
                    withdraw(self.options.cancel_grace)
                    raise GenerationCancelled(f"'{request.sprite}': generation cancelled")
        except GenerationCancelled:
            raise
        except BaseException:
            if not job.future.done():  # interrupted while waiting (a Dagster run being stopped): withdraw the job
                withdraw(min(2.0, self.options.cancel_grace))
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


def _drain(job: Job | Chain, report: Callable[[float, str], None]) -> None:
    if isinstance(job, Chain):
        job.drain(report)
        return
    while not job.progress.empty():
        fraction, message = job.progress.get_nowait()
        report(fraction, message)


def _wait_quietly(job: Job | Chain, seconds: float) -> None:
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
        needs=requirements(payload["graph"]),  # (a chain's later jobs: chain.py)
        uploads=uploads,
    )
