"""The HTTP client against the test server: error translation, retries and their limits, uploads."""

from __future__ import annotations

import asyncio
import copy
import io
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from pipeline.core.generate.comfyui.client import (
    ComfyClient,
    ExecutionFailed,
    RetryPolicy,
    ServerUnavailable,
    WorkflowRejected,
)
from pipeline.errors import ServerError
from tests.comfyui_server import FakeComfyServer
from tests.comfyui_server.testing import SMOKE_GRAPH

FAST = RetryPolicy(deadline=2.0, base_delay=0.02, max_delay=0.1, timeout=5.0)


@pytest.fixture
def server() -> Iterator[FakeComfyServer]:
    with FakeComfyServer() as s:
        yield s


def _run(url: str, work: Any, retry: RetryPolicy = FAST) -> Any:
    async def main() -> Any:
        client = ComfyClient(url, uuid.uuid4().hex, retry)
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def _checkpoint_graph(name: str) -> dict[str, Any]:
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": name}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "x"}},
    }


def test_validation_error_names_node_class_input_and_message_and_is_not_retried(server: FakeComfyServer) -> None:
    with pytest.raises(WorkflowRejected) as info:
        _run(
            server.url, lambda c: c.post_prompt(_checkpoint_graph("x.safetensors"), str(uuid.uuid4()), "sdxl_pixel_art")
        )
    err = info.value
    text = str(err)
    assert text.startswith(server.url)
    assert "workflow 'sdxl_pixel_art'" in text
    assert "node 4 (CheckpointLoaderSimple) input 'ckpt_name'" in text
    assert "ckpt_name: 'x.safetensors' not in ['sd_xl_base_1.0.safetensors'" in text
    assert "models/checkpoints" in text  # what to do
    assert err.server_specific and err.problems[0].input == "ckpt_name"
    assert server.count("POST", "/prompt") == 1


def test_unknown_node_class_is_server_specific(server: FakeComfyServer) -> None:
    with pytest.raises(WorkflowRejected, match="install the custom node") as info:
        _run(server.url, lambda c: c.post_prompt({"1": {"class_type": "PixelArtDetector", "inputs": {}}}, "p"))
    assert info.value.server_specific


def test_5xx_is_retried_with_backoff_until_it_succeeds(server: FakeComfyServer) -> None:
    server.faults.http_errors, server.faults.http_error_status, server.faults.http_error_paths = 3, 503, ("/prompt",)
    prompt_id = str(uuid.uuid4())
    answer = _run(server.url, lambda c: c.post_prompt(copy.deepcopy(SMOKE_GRAPH), prompt_id))
    assert answer["prompt_id"] == prompt_id
    assert server.faults.http_errors == 0 and server.count("POST", "/prompt") == 1


def test_5xx_past_the_deadline_is_server_unavailable(server: FakeComfyServer) -> None:
    server.faults.http_errors = 10_000
    with pytest.raises(ServerUnavailable, match=r"GET /queue failed: HTTP 500.*tried \d+x over 0.5s") as info:
        _run(server.url, lambda c: c.queue(), RetryPolicy(deadline=0.5, base_delay=0.02, max_delay=0.05))
    assert info.value.server == server.url


def test_connection_refused_is_server_unavailable_naming_the_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(ServerUnavailable, match="is ComfyUI running there") as info:
        _run(url, lambda c: c.object_info(), RetryPolicy(deadline=0.3, base_delay=0.02, max_delay=0.05))
    assert str(info.value).startswith(url)


def test_slow_responses_are_waited_for(server: FakeComfyServer) -> None:
    server.faults.http_delay = 0.3
    assert _run(server.url, lambda c: c.queue()).running == ()


def test_execution_failed_keeps_node_and_exception_but_not_tensors() -> None:
    data = {
        "prompt_id": "p",
        "node_id": "3",
        "node_type": "KSampler",
        "executed": ["4", "5"],
        "exception_message": "Allocation on device 0 would exceed allowed memory. (out of memory)\n",
        "exception_type": "torch.OutOfMemoryError",
        "traceback": ["  File ...\n"],
        "current_inputs": {"latent_image": ["tensor([[[[0., 0., 0.],\n" * 50]},
        "current_outputs": ["3"],
    }
    err = ExecutionFailed("http://gpu:8188", data, "sdxl_pixel_art", "goblin")
    text = str(err)
    assert "node 3 (KSampler)" in text and "torch.OutOfMemoryError: Allocation on device 0" in text
    assert "'goblin'" in text and "sdxl_pixel_art" in text and "VRAM" in text
    assert "tensor(" not in text and "File ..." not in text


def test_upload_and_view_and_ws_url(server: FakeComfyServer) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, format="PNG")

    async def work(c: ComfyClient) -> tuple[str, str]:
        first = await c.upload_image(buf.getvalue(), "ref.png", subfolder="sprites")
        again = await c.upload_image(buf.getvalue(), "ref.png", subfolder="sprites")
        return first, again

    first, again = _run(server.url, work)
    assert first == again == "sprites/ref.png"
    assert (server.root / "input" / "sprites" / "ref.png").read_bytes() == buf.getvalue()
    assert ComfyClient("https://gpu.example/comfy/", "abc").ws_url == "wss://gpu.example/comfy/ws?clientId=abc"
    assert ComfyClient("http://10.0.0.5:8188", "abc").ws_url == "ws://10.0.0.5:8188/ws?clientId=abc"


def test_an_upload_answered_with_a_proxy_page_is_a_server_error(server: FakeComfyServer) -> None:
    server.faults.garbage_answers, server.faults.garbage_paths = 1, ("/upload/image",)

    async def work(c: ComfyClient) -> str:
        return await c.upload_image(b"\x89PNG not really", "ref.png")

    with pytest.raises(ServerError, match=r"POST /upload/image ref.png answered .*not ComfyUI's JSON") as info:
        _run(server.url, work)
    assert info.value.server == server.url
