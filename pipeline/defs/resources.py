"""The Dagster resource the sprite assets use: folders, the cache, and generation backends.

Configured explicitly from ``Settings`` by ``definitions.py`` (or by a test). One instance serves one
run (the executor is in-process), so backends are created lazily and closed at the end of the run, and
``prepare_once`` lets a remote backend receive every request of the run up front. ``cancel_event`` is the run's
cancel event: set once Dagster records the run as being terminated (``pipeline.defs.instance``), and
passed to every generation, which the backends honour.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, get_origin

from dagster import ConfigurableResource, DagsterInstance, InitResourceContext
from pydantic import Field, PrivateAttr, create_model

from pipeline.core.generate import Backend, GenerationRequest, GenerationResult, make_backend
from pipeline.settings import SETTINGS, Settings, find_project_dir
from pipeline.state.cache import Claims, ContentCache
from pipeline.state.cache_remote import open_cache

__all__ = ["SpritePipelineResource", "resource_config_class"]


class SpritePipelineResource(ConfigurableResource):
    """Where sprites are built and how they are generated, plus ``offline``.

    Its config fields are the settings the steps read (those declared ``resource=True`` in
    ``pipeline.settings``), added by ``resource_config_class``: ``from_settings`` returns an instance of that
    class; assets name this one as their parameter's type. Each config value is validated by ``Settings``, with
    the same rules and error as the same setting given as a flag or an environment variable.
    """

    offline: bool = False
    #: hand every render of the run to the backend before the first step (off when each step is its own
    #: process, as on Celery workers: that process, and the jobs it submitted, end with the step)
    submit_run_up_front: bool = True

    _settings: Settings | None = PrivateAttr(default=None)
    _backends: dict[str, Backend] = PrivateAttr(default_factory=dict)
    _prepared: set[str] = PrivateAttr(default_factory=set)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _claims: Claims | None = PrivateAttr(default=None)
    _cache: ContentCache | None = PrivateAttr(default=None)
    _generated: dict[str, str] = PrivateAttr(default_factory=dict)
    _cancel: threading.Event = PrivateAttr(default_factory=threading.Event)
    _stop_watching: threading.Event = PrivateAttr(default_factory=threading.Event)
    _watching: bool = PrivateAttr(default=False)

    @classmethod
    def from_settings(
        cls, settings: Settings, offline: bool = False, submit_run_up_front: bool = True
    ) -> SpritePipelineResource:
        return resource_config_class()(
            offline=offline, submit_run_up_front=submit_run_up_front, **settings.resource_config()
        )

    @property
    def settings(self) -> Settings:
        """The settings this resource's config describes (a ConfigError naming the setting when one is invalid)."""
        if self._settings is None:
            config = {info.name: getattr(self, info.name, None) for info in SETTINGS if info.resource}
            self._settings = Settings.for_project(config.pop("project_dir") or find_project_dir(), **config)
        return self._settings

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.settings  # noqa: B018 - an invalid config fails here, before the first step, naming the setting

    @property
    def cache(self) -> ContentCache:
        """The run's cache: the local folder, with the remote tier behind it when ``cache_url`` is set
        (one object per run, so the remote's state, e.g. "unreachable", is shared by the run's steps)."""
        with self._lock:
            if self._cache is None:
                self._cache = open_cache(self.settings.cache_dir, self.settings.cache_url)
            return self._cache

    @property
    def claims(self) -> Claims:
        """This run's claims on cache keys (see ``pipeline.state.cache.Claims``)."""
        cache = self.cache  # outside the lock: the cache property takes it too
        with self._lock:
            if self._claims is None:
                self._claims = Claims(cache)
            return self._claims

    def backend(self, kind: str) -> Backend:
        """The run's backend of ``kind``, created on first use."""
        with self._lock:
            if kind not in self._backends:
                self._backends[kind] = make_backend(kind, self.settings)
            return self._backends[kind]

    def prepare_once(self, kind: str, requests: Callable[[], list[GenerationRequest]]) -> list[str]:
        """Hand every request of this run that the cache lacks to the backend, once, before the first
        generation. Returns the backend's report of its servers when it was contacted (for the run log)."""
        with self._lock:
            if kind in self._prepared or not self.submit_run_up_front:
                return []
            self._prepared.add(kind)
        cache, claims = self.cache, self.claims
        # only what nobody else is producing right now: the others are waited for in generate_stage
        pending = [r for r in requests() if not cache.has("generate", r.key) and claims.try_claim("generate", r.key)]
        if not pending or self.offline:
            claims.release_all()
            return []
        backend = self.backend(kind)
        by_key: dict[str, GenerationRequest] = {}
        for r in pending:
            by_key.setdefault(r.key, r)
        for key, future in backend.prepare(pending).items():
            future.add_done_callback(functools.partial(self._publish, by_key[key]))
        report = getattr(backend, "preflight_report", None)
        return list(report()) if callable(report) else []

    def _publish(self, request: GenerationRequest, future: Future[GenerationResult]) -> None:
        """A prepared render finished: cache it and release its claim right away, not when its step runs.

        Another build waiting for this key (while holding one of the `comfyui` pool's slots) must not wait
        for this run's step, which may itself be waiting for a pool slot: that would be a deadlock.
        """
        try:
            if not future.cancelled() and future.exception() is None:
                result = future.result()
                if len(result.frames) == request.frames:
                    files = {f"frame{i:03d}.png": data for i, data in enumerate(result.frames)}
                    self.cache.put("generate", request.key, files, meta={"sprite": request.sprite, **result.info})
                    self._generated[request.key] = request.sprite
        finally:
            self.claims.release("generate", request.key)

    def generated_for(self, key: str) -> str | None:
        """The sprite whose prepared render with this key this run generated (and cached) itself, if any.

        Its step then finds the render in the cache, but it was made for it: its summary says ``miss``, while
        another sprite sharing the key says ``hit``.
        """
        return self._generated.get(key)

    def cancel_event(self, instance: DagsterInstance, run_id: str) -> threading.Event:
        """The run's cancel event, watched from the first step on: set when the run is marked CANCELING
        (``cancel_run``, a signal to ``sprites build``, the UI's Terminate), whichever process executes it."""
        from pipeline.defs.instance import watch_for_cancel

        with self._lock:
            if not self._watching:
                self._watching = True
                watch_for_cancel(instance, run_id, self._cancel, self._stop_watching)
        return self._cancel

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self._stop_watching.set()
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()
        if self._claims is not None:
            self._claims.release_all()


def _config_type(annotation: Any) -> Any:
    """A setting's type as Dagster config can express it (every value is then validated by ``Settings``)."""
    if annotation in (int, float, bool):
        return annotation
    if get_origin(annotation) in (tuple, list, frozenset):
        return list[str]
    return str  # folders, URLs, names


@functools.cache
def resource_config_class() -> type[SpritePipelineResource]:
    """``SpritePipelineResource`` with one optional config field per resource setting (None: its default)."""
    fields: dict[str, Any] = {
        info.name: (_config_type(info.annotation) | None, Field(default=None, description=info.help))
        for info in SETTINGS
        if info.resource
    }
    return create_model("SpritePipelineResource", __base__=SpritePipelineResource, **fields)
