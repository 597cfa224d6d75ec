"""ComfyUIBackend end to end against test servers on 127.0.0.1: prepare, generate, faults, cancel, many servers."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from pipeline.core.generate.base import GenerationRequest
from pipeline.core.generate.comfyui import ComfyUIBackend, ExecutionFailed, WorkflowRejected
from pipeline.core.generate.comfyui.client import RetryPolicy
from pipeline.errors import ConfigError, GenerationCancelled, GenerationError, ServerError
from tests.comfyui_server import DEFAULT_MODELS, FakeComfyServer
from tests.comfyui_server.testing import WORKFLOWS, fast_options, make_spec, settings_for

# Slow jobs below use many sampler steps: like a real server, the test server notices an interrupt only
# between steps (or nodes), so a step must be short for a cancel to take effect quickly.

pytestmark = pytest.mark.slow


def _requests(backend: ComfyUIBackend, tmp_path: Path, *specs: object) -> list[GenerationRequest]:
    settings = settings_for(tmp_path)
    return [backend.resolve(spec, settings) for spec in specs]  # type: ignore[arg-type]


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as im:
        return im.size


def test_prepare_then_generate_returns_every_frame_with_progress(server, make_backend, tmp_path) -> None:
    backend = make_backend(server.url)
    reqs = _requests(backend, tmp_path, make_spec("goblin"), make_spec("slime", frames=3, size=[16, 8]))
    backend.prepare(reqs)
    assert "ComfyUI 0.3.64" in backend.preflight_report()[0]
    messages: list[tuple[float, str]] = []
    goblin = backend.generate(reqs[0], progress=lambda f, m: messages.append((f, m)))
    slime = backend.generate(reqs[1])
    assert len(goblin.frames) == 1 and _size(goblin.frames[0]) == (128, 128)
    assert len(slime.frames) == 3 and all(_size(f) == (128, 64) for f in slime.frames)
    assert len(set(slime.frames)) == 3  # one distinct image per animation frame
    assert goblin.info["server"] == server.url and goblin.info["prompt_id"] in server.history()
    text = [m for _, m in messages]
    assert any(m.startswith("running on") for m in text)
    assert "KSampler (node 3) 4/4" in " ".join(text)
    assert messages[-1][0] == 1.0
    assert [f for f, _ in messages] == sorted(f for f, _ in messages)
    # every job used its own filename_prefix; the payload (the cache key) did not
    assert goblin.info["filename_prefix"] != slime.info["filename_prefix"]
    assert "sprites/render" in json.dumps(reqs[0].payload)
    saved = server.history()[goblin.info["prompt_id"]]["prompt"][2]["9"]["inputs"]["filename_prefix"]
    assert saved == goblin.info["filename_prefix"] and saved.startswith("sprites/goblin-")


def test_identical_graphs_each_get_their_own_files(server, make_backend, tmp_path) -> None:
    backend = make_backend(server.url)
    a, b = _requests(backend, tmp_path, make_spec("a", seed=5, prompt="same"), make_spec("b", seed=5, prompt="same"))
    assert a.key == b.key
    first = backend.generate(a)
    second = backend.generate(b)  # same graph: ComfyUI's cache serves the sampler, SaveImage runs again
    assert first.info["filename_prefix"] != second.info["filename_prefix"]
    out = server.history()[second.info["prompt_id"]]["outputs"]["9"]["images"]
    assert all(im["filename"].startswith(second.info["filename_prefix"].split("/")[1]) for im in out)


def test_a_cached_rereport_of_another_jobs_files_is_refused(server, make_backend, tmp_path) -> None:
    backend = make_backend(server.url)
    first, second = _requests(backend, tmp_path, make_spec("knight"), make_spec("wizard"))
    backend.generate(first)
    server.faults.stale_outputs = True
    with pytest.raises(ServerError, match=r"did not write .*knight-.*refusing to use them"):
        backend.generate(second)


def test_preflight_reports_what_is_missing_where_before_any_gpu_time(make_backend, tmp_path) -> None:
    with FakeComfyServer() as a, FakeComfyServer(models={"checkpoints": ["other.safetensors"], "loras": []}) as b:
        backend = make_backend(a.url, b.url)
        (req,) = _requests(backend, tmp_path, make_spec("goblin", checkpoint="nope.safetensors"))
        backend.prepare([req])
        with pytest.raises(GenerationError) as info:
            backend.generate(req)
        text = str(info.value)
        assert f"{a.url}: missing checkpoint 'nope.safetensors'" in text
        assert f"{b.url}: missing checkpoint 'nope.safetensors'" in text and "LoRA 'pixel-art-xl.safetensors'" in text
        assert "sprites doctor" in text
        assert a.count("POST", "/prompt") == b.count("POST", "/prompt") == 0


def test_a_value_out_of_the_servers_range_is_refused_before_queueing(server, make_backend, tmp_path) -> None:
    workflows = tmp_path / "wf"
    workflows.mkdir()
    graph = json.loads((WORKFLOWS / "smoke_no_models.json").read_text())
    graph["11"] = {"class_type": "ImageQuantize", "inputs": {"image": ["9", 0], "colors": 0, "dither": "none"}}
    graph["10"]["inputs"]["images"] = ["11", 0]
    (workflows / "quantized.json").write_text(json.dumps(graph))
    backend = make_backend(server.url)
    req = backend.resolve(make_spec("goblin", workflow="quantized"), settings_for(tmp_path, workflows))
    with pytest.raises(GenerationError) as info:
        backend.generate(req)
    assert f"{server.url}: refuses value 0 for node 11: ImageQuantize.colors" in str(info.value)
    assert "(min 1, max 256)" in str(info.value) and server.count("POST", "/prompt") == 0


def test_a_job_needing_a_model_one_server_lacks_runs_on_the_other(make_backend, tmp_path) -> None:
    lacking = {"checkpoints": DEFAULT_MODELS["checkpoints"], "loras": []}
    with FakeComfyServer(models=lacking) as a, FakeComfyServer() as b:
        backend = make_backend(a.url, b.url)
        reqs = _requests(backend, tmp_path, *(make_spec(f"s{i}") for i in range(4)))
        backend.prepare(reqs)
        assert {backend.generate(r).info["server"] for r in reqs} == {b.url}
        assert a.count("POST", "/prompt") == 0


def test_validation_error_fails_the_job_once_naming_template_node_and_input(server, make_backend, tmp_path) -> None:
    workflows = tmp_path / "wf"
    workflows.mkdir()
    graph = json.loads((WORKFLOWS / "smoke_no_models.json").read_text())
    # a link of the wrong type: only ComfyUI's own validation sees it (preflight checks classes, lists, ranges)
    graph["12"] = {"class_type": "ImageToMask", "inputs": {"image": ["9", 0], "channel": "red"}}
    graph["11"] = {"class_type": "ImageQuantize", "inputs": {"image": ["12", 0], "colors": 16, "dither": "none"}}
    graph["10"]["inputs"]["images"] = ["11", 0]
    (workflows / "quantized.json").write_text(json.dumps(graph))
    backend = make_backend(server.url)
    req = backend.resolve(make_spec("goblin", workflow="quantized"), settings_for(tmp_path, workflows))
    with pytest.raises(WorkflowRejected) as info:
        backend.generate(req)
    text = str(info.value)
    assert "workflow 'quantized'" in text and "node 11 (ImageQuantize) input 'image'" in text
    assert "received_type(MASK) mismatch input_type(IMAGE)" in text and "comfy_workflows/quantized.json" in text
    assert server.count("POST", "/prompt") == 1  # a 400 is an answer: never retried


def test_execution_error_names_node_and_exception_without_tensor_dumps(server, make_backend, tmp_path) -> None:
    server.faults.fail_node = {"KSampler": ("torch.OutOfMemoryError", "Allocation on device 0 (out of memory)")}
    backend = make_backend(server.url)
    (req,) = _requests(backend, tmp_path, make_spec("dragon"))
    with pytest.raises(ExecutionFailed) as info:
        backend.generate(req)
    text = str(info.value)
    assert text.startswith(server.url) and "node 3 (KSampler)" in text and "torch.OutOfMemoryError" in text
    assert "'dragon'" in text and "tensor(" not in text


def test_dropped_socket_is_reconnected_and_jobs_complete(server, make_backend, tmp_path) -> None:
    server.faults.drop_ws_after = 4
    backend = make_backend(server.url)
    reqs = _requests(backend, tmp_path, *(make_spec(f"s{i}") for i in range(4)))
    backend.prepare(reqs)
    results = [backend.generate(r) for r in reqs]
    assert all(len(r.frames) == 1 for r in results)
    assert server.ws_connections > 1


def test_silent_socket_falls_back_to_polling(server, make_backend, tmp_path) -> None:
    server.faults.silent_ws = True
    backend = make_backend(server.url)
    reqs = _requests(backend, tmp_path, make_spec("a"), make_spec("b", frames=2))
    backend.prepare(reqs)
    assert [len(backend.generate(r).frames) for r in reqs] == [1, 2]
    assert server.count("GET", "/queue") >= 1


def test_without_any_websocket_jobs_are_followed_by_polling(server, make_backend, tmp_path) -> None:
    server.faults.refuse_ws = True
    backend = make_backend(server.url)
    reqs = _requests(backend, tmp_path, *(make_spec(f"s{i}") for i in range(3)))
    backend.prepare(reqs)
    assert [len(backend.generate(r).frames) for r in reqs] == [1, 1, 1]
    assert server.ws_connections == 0


def test_restart_that_wipes_history_resubmits_the_lost_job(make_backend, tmp_path) -> None:
    with FakeComfyServer(latency=1.0) as server:
        backend = make_backend(server.url)
        (req,) = _requests(backend, tmp_path, make_spec("golem"))
        backend.prepare([req])
        _wait_for(lambda: bool(server.queue()[0]), "the job to run")
        lost = server.queue()[0][0][1]
        server.restart(downtime=0.3)
        result = backend.generate(req)
        assert result.info["attempts"] == 2 and result.info["prompt_id"] != lost
        assert result.info["prompt_id"] in server.history()


def test_5xx_on_submit_is_retried(server, make_backend, tmp_path) -> None:
    server.faults.http_errors, server.faults.http_error_paths = 3, ("/prompt",)
    backend = make_backend(server.url)
    (req,) = _requests(backend, tmp_path, make_spec("bat"))
    assert backend.generate(req).info["attempts"] == 1
    assert server.faults.http_errors == 0


def test_cancel_interrupts_the_running_job(make_backend, tmp_path) -> None:
    with FakeComfyServer(latency=30.0) as server:
        backend = make_backend(server.url)
        (req,) = _requests(backend, tmp_path, make_spec("ogre", steps=150))
        backend.prepare([req])
        cancel = threading.Event()
        _wait_for(lambda: bool(server.queue()[0]), "the job to run")
        prompt_id = server.queue()[0][0][1]
        threading.Timer(0.1, cancel.set).start()
        with pytest.raises(GenerationCancelled):
            backend.generate(req, cancel=cancel)
        _wait_for(lambda: prompt_id in server.history(), "the interrupted job's history")
        status = server.history()[prompt_id]["status"]
        assert status["messages"][-1][0] == "execution_interrupted"


def test_cancel_of_a_waiting_job_deletes_it_from_the_queue(make_backend, tmp_path) -> None:
    with FakeComfyServer(latency=30.0) as server:
        backend = make_backend(server.url)
        first, second = _requests(backend, tmp_path, make_spec("ogre", steps=150), make_spec("troll", steps=150))
        backend.prepare([first, second])
        _wait_for(lambda: len(server.queue()[1]) == 1, "the second job to wait in the queue")
        waiting = server.queue()[1][0][1]
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(GenerationCancelled):
            backend.generate(second, cancel=cancel)
        assert server.queue()[1] == [] and waiting not in server.executions()


def test_an_interrupt_of_the_waiting_thread_withdraws_the_job(make_backend, tmp_path) -> None:
    """Dagster stops a step by raising in its thread: the job must not keep the GPU busy."""
    with FakeComfyServer(latency=30.0) as server:
        backend = make_backend(server.url)
        (req,) = _requests(backend, tmp_path, make_spec("ogre", steps=150))

        def progress(fraction: float, message: str) -> None:
            if message.startswith("KSampler"):
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            backend.generate(req, progress=progress)
        _wait_for(lambda: not server.queue()[0] and bool(server.history()), "the job to be interrupted")
        (entry,) = server.history().values()
        assert entry["status"]["messages"][-1][0] == "execution_interrupted"


def test_jobs_spread_over_servers_and_move_off_a_dead_one(make_backend, tmp_path) -> None:
    with FakeComfyServer(latency=0.3) as a, FakeComfyServer(latency=0.3) as b:
        backend = make_backend(a.url, b.url)
        reqs = _requests(backend, tmp_path, *(make_spec(f"s{i}") for i in range(6)))
        backend.prepare(reqs)
        _wait_for(lambda: bool(a.queue()[0]) and bool(b.queue()[0]), "both servers to run")
        a.go_down()  # and it stays down
        results = [backend.generate(r) for r in reqs]
        assert all(len(r.frames) == 1 for r in results)
        moved = [r for r in results if r.info["attempts"] > 1]
        assert moved and all(r.info["server"] == b.url for r in moved)
        a.come_back()


def test_a_slow_server_gets_less_work(make_backend, tmp_path) -> None:
    with FakeComfyServer(latency=0.05) as fast, FakeComfyServer(latency=0.6) as slow:
        backend = make_backend(fast.url, slow.url)
        reqs = _requests(backend, tmp_path, *(make_spec(f"s{i}") for i in range(14)))
        backend.prepare(reqs)
        servers = [backend.generate(r).info["server"] for r in reqs]
        assert servers.count(fast.url) > 2 * servers.count(slow.url)


def test_img2img_uploads_the_init_image(server, make_backend, tmp_path) -> None:
    Image.new("RGB", (16, 16), (200, 40, 40)).save(tmp_path / "ref.png")
    backend = make_backend(server.url)
    spec = make_spec("hero", workflow="sdxl_pixel_art_img2img", init_image="ref.png", denoise=0.5, frames=2)
    (req,) = _requests(backend, tmp_path, spec)
    result = backend.generate(req)
    assert len(result.frames) == 2 and _size(result.frames[0]) == (128, 128)
    uploaded = req.payload["init_image"]["name"]
    assert (server.root / "input" / uploaded).read_bytes() == (tmp_path / "ref.png").read_bytes()
    assert server.count("POST", "/upload/image") == 1


def test_configuration_and_unreachable_errors(make_backend, tmp_path) -> None:
    backend = ComfyUIBackend(project_dir=tmp_path)
    (req,) = _requests(backend, tmp_path, make_spec("a"))  # resolve needs no server
    with pytest.raises(ConfigError, match="SPRITES_COMFYUI_URL"):
        backend.prepare([req])
    with FakeComfyServer() as gone:
        url = gone.url
    dead = make_backend(url, options=fast_options(retry=RetryPolicy(deadline=0.3, base_delay=0.02, max_delay=0.05)))
    with pytest.raises(ServerError, match="no ComfyUI server answered") as info:
        dead.prepare([req])
    assert url in str(info.value)


def test_an_idle_server_takes_over_a_job_waiting_on_a_slow_one(make_backend, tmp_path) -> None:
    with FakeComfyServer(latency=0.05) as fast, FakeComfyServer(latency=30.0) as slow:
        backend = make_backend(fast.url, slow.url)
        reqs = _requests(backend, tmp_path, *(make_spec(f"s{i}", steps=150) for i in range(4)))
        backend.prepare(reqs)
        # one running there and one waiting (a prompt being picked up is still listed as pending, alone)
        _wait_for(lambda: [len(part) for part in slow.queue()] == [1, 1], "a job waiting behind slow's running one")
        waiting = slow.queue()[1][0][1]
        results = [backend.generate(r) for r in (reqs[0], reqs[2], reqs[3])]  # not the one running on slow
        assert all(r.info["server"] == fast.url for r in results)
        assert slow.queue()[1] == [] and waiting not in slow.executions()


def test_a_server_back_from_failover_gets_its_moved_jobs_withdrawn(make_backend, tmp_path) -> None:
    with FakeComfyServer(latency=30.0) as sick, FakeComfyServer(latency=0.05) as healthy:
        backend = make_backend(sick.url, healthy.url)
        reqs = _requests(backend, tmp_path, make_spec("a", steps=150), make_spec("b", steps=150))
        backend.prepare(reqs)
        _wait_for(lambda: len(sick.queue()[0]) == 1, "a job to run on the sick server")
        (running,) = (item[1] for item in sick.queue()[0])
        sick.faults.http_errors = 10**9  # answers 500 to everything, keeps its queue
        results = [backend.generate(r) for r in reqs]
        assert {r.info["server"] for r in results} == {healthy.url}
        sick.faults.http_errors = 0
        _wait_for(lambda: running in sick.history(), "the moved job to be interrupted on the sick server")
        assert sick.history()[running]["status"]["messages"][-1][0] == "execution_interrupted"
        assert sick.queue() == ([], [])


def test_a_model_gone_after_preflight_moves_the_job_to_another_server(make_backend, tmp_path) -> None:
    with FakeComfyServer() as a, FakeComfyServer() as b:
        backend = make_backend(a.url, b.url)
        reqs = _requests(backend, tmp_path, *(make_spec(f"s{i}") for i in range(3)))
        backend.generate(reqs[0])  # preflight saw the LoRA on both servers
        a.call(lambda: a.models["loras"].clear())
        results = [backend.generate(r) for r in reqs[1:]]
        assert {r.info["server"] for r in results} == {b.url}


def test_a_lost_answer_to_post_prompt_does_not_run_the_job_twice(server, make_backend, tmp_path) -> None:
    server.faults.lose_prompt_answers = 1  # queued, then 502
    backend = make_backend(server.url)
    (req,) = _requests(backend, tmp_path, make_spec("imp"))
    result = backend.generate(req)
    time.sleep(0.3)  # a wrong retry would be on its way now (backoff 0.05-0.3 s)
    assert server.executions() == [result.info["prompt_id"]]
    assert server.count("POST", "/prompt") == 1


def test_close_withdraws_every_uncollected_job(make_backend, tmp_path) -> None:
    with FakeComfyServer(latency=30.0) as server:
        backend = make_backend(server.url)
        backend.prepare(_requests(backend, tmp_path, *(make_spec(f"s{i}", steps=150) for i in range(3))))
        _wait_for(lambda: len(server.queue()[0]) == 1 and len(server.queue()[1]) == 1, "one running, one waiting")
        (running,) = (item[1] for item in server.queue()[0])
        backend.close()
        assert server.queue()[1] == []
        _wait_for(lambda: running in server.history(), "the running job to be interrupted")
        assert len(server.executions()) == 1


def test_a_never_finishing_job_fails_clearly_and_is_interrupted(make_backend, tmp_path) -> None:
    with FakeComfyServer(latency=60.0) as server:
        backend = make_backend(server.url, options=fast_options(job_timeout=1.0))
        (req,) = _requests(backend, tmp_path, make_spec("slowpoke", steps=150))
        with pytest.raises(GenerationError, match=r"'slowpoke' was still running after 1s, so it was interrupted"):
            backend.generate(req)
        (running,) = server.executions()
        _wait_for(lambda: running in server.history(), "the job to be interrupted on the server")
        assert server.history()[running]["status"]["messages"][-1][0] == "execution_interrupted"


def test_settings_tune_the_dispatcher(tmp_path) -> None:
    settings = settings_for(tmp_path).model_copy(
        update={"comfyui_urls": ("http://127.0.0.1:1",), "comfyui_job_timeout": 7.0, "comfyui_max_inflight": 3}
    )
    backend = ComfyUIBackend.from_settings(settings)
    assert backend.options.job_timeout == 7.0 and backend.options.max_inflight == 3


@pytest.mark.parametrize("path", ["/history", "/queue", "/prompt"])
def test_malformed_answers_end_in_a_retry_or_a_clear_failure(server, make_backend, tmp_path, path: str) -> None:
    server.faults.garbage_answers, server.faults.garbage_paths = 2, (path,)
    backend = make_backend(server.url)
    (req,) = _requests(backend, tmp_path, make_spec("imp", frames=2))
    try:
        result = backend.generate(req)
    except ServerError as exc:
        assert server.url in str(exc) and "not JSON" in str(exc), str(exc)
    else:  # recovered: then it is this job's own two frames, never another image
        assert len(result.frames) == 2 and result.info["prompt_id"] in server.executions()
        assert all(_size(f) == (128, 128) for f in result.frames)


def test_a_truncated_download_is_never_returned_as_a_render(server, make_backend, tmp_path) -> None:
    server.faults.truncate_views = True
    backend = make_backend(server.url)
    (req,) = _requests(backend, tmp_path, make_spec("imp"))
    with pytest.raises(ServerError, match=r"'imp': .*\.png is truncated or corrupt") as info:
        backend.generate(req)
    assert server.url in str(info.value)
