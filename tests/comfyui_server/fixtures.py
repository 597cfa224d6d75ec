"""pytest fixtures shared by the backend and dispatcher tests: a fast test server and backends closed after."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.core.generate.comfyui import ComfyUIBackend
from pipeline.core.generate.comfyui.slots import DispatchOptions
from tests.comfyui_server import FakeComfyServer
from tests.comfyui_server.testing import fast_options

__all__ = ["make_backend", "server"]


@pytest.fixture
def server() -> Iterator[FakeComfyServer]:
    with FakeComfyServer(latency=0.02) as s:
        yield s


@pytest.fixture
def make_backend(tmp_path: Path) -> Iterator[Callable[..., ComfyUIBackend]]:
    made: list[ComfyUIBackend] = []

    def make(*urls: str, options: DispatchOptions | None = None) -> ComfyUIBackend:
        backend = ComfyUIBackend(urls, options or fast_options(), project_dir=tmp_path)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()
