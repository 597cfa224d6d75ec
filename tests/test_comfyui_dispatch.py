"""The dispatcher against a test server on 127.0.0.1: room for the next job during a download, errors logged
where they are caught, and a task that dies of a bug failing its job instead of hanging it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.generate.comfyui import ComfyUIBackend
from pipeline.core.generate.comfyui.client import ComfyClient
from pipeline.core.generate.comfyui.collect import Collection
from pipeline.errors import GenerationError
from tests.comfyui_server import FakeComfyServer
from tests.comfyui_server.testing import fast_options, make_spec, settings_for


def test_the_next_job_is_sent_while_the_previous_one_downloads(
    server: FakeComfyServer, make_backend: Callable[..., ComfyUIBackend], tmp_path: Path, monkeypatch: Any
) -> None:
    """max_inflight counts what keeps the server busy: a job being downloaded does not, so with max_inflight=1
    the second job reaches the server before the first one's images are read."""
    real_view = ComfyClient.view
    posts_at_first_view: list[int] = []

    async def view(self: ComfyClient, *args: Any, **kw: Any) -> bytes:
        if not posts_at_first_view:
            posts = 0
            for _ in range(500):  # up to ~5 s for the second POST /prompt (never reached if the slot stays full)
                posts = await asyncio.to_thread(server.count, "POST", "/prompt")
                if posts >= 2:
                    break
                await asyncio.sleep(0.01)
            posts_at_first_view.append(posts)
        return await real_view(self, *args, **kw)

    monkeypatch.setattr(ComfyClient, "view", view)
    backend = make_backend(server.url, options=fast_options(max_inflight=1))
    settings = settings_for(tmp_path)
    reqs = [backend.resolve(make_spec(name), settings) for name in ("a", "b")]
    backend.prepare(reqs)
    assert [len(backend.generate(r).frames) for r in reqs] == [1, 1]
    assert posts_at_first_view == [2]


def test_a_task_that_dies_of_a_bug_fails_its_job_and_logs_the_traceback(
    server: FakeComfyServer,
    make_backend: Callable[..., ComfyUIBackend],
    tmp_path: Path,
    monkeypatch: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(self: Collection, *args: Any) -> None:
        raise RuntimeError("a bug in collecting")

    monkeypatch.setattr(Collection, "_result", broken)
    backend = make_backend(server.url)
    req = backend.resolve(make_spec("golem"), settings_for(tmp_path))
    with (
        caplog.at_level(logging.ERROR, logger="pipeline.core.generate.comfyui"),
        pytest.raises(GenerationError, match=r"'golem': internal error in the ComfyUI dispatcher: RuntimeError"),
    ):
        backend.generate(req)
    logged = [r for r in caplog.records if r.exc_info and "a bug in collecting" in str(r.exc_info[1])]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR and "golem" in logged[0].getMessage()


def test_a_refused_websocket_is_logged_once_and_polling_follows_the_jobs(
    server: FakeComfyServer,
    make_backend: Callable[..., ComfyUIBackend],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.faults.refuse_ws = True
    backend = make_backend(server.url)
    settings = settings_for(tmp_path)
    reqs = [backend.resolve(make_spec(f"s{i}"), settings) for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="pipeline.core.generate.comfyui"):
        backend.prepare(reqs)
        assert [len(backend.generate(r).frames) for r in reqs] == [1, 1, 1]
    warned = [r.getMessage() for r in caplog.records if "following its jobs by polling" in r.getMessage()]
    assert len(warned) == 1 and server.url in warned[0] and "WebSocket" in warned[0]
    assert server.count("GET", "/queue") >= 1
