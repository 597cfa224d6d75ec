"""Fidelity of the test ComfyUI server against what a real v0.3.64 answered (shared/comfyui transcript).

Everything goes through real sockets: a raw WebSocket on /ws and httpx, no client code of the pipeline.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from tests.comfyui_server import FakeComfyServer
from tests.comfyui_server.testing import SMOKE_GRAPH, collect_ws, ws_session


@pytest.fixture(scope="module")
def server() -> Iterator[FakeComfyServer]:
    with FakeComfyServer(latency=0.02) as s:
        yield s


def _post(http: httpx.Client, graph: dict, client_id: str, **extra: object) -> httpx.Response:
    return http.post("/prompt", json={"prompt": graph, "client_id": client_id, **extra})


def test_run_message_order_history_and_view(server: FakeComfyServer) -> None:
    with ws_session(server.url) as (ws, http, client_id):
        hello = json.loads(ws.recv(timeout=10))
        assert hello == {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id}}
        prompt_id = str(uuid.uuid4())
        graph = json.loads(json.dumps(SMOKE_GRAPH))
        graph["4"]["inputs"]["filename_prefix"] = f"order-{prompt_id[:8]}"
        r = _post(http, graph, client_id, prompt_id=prompt_id)
        assert r.status_code == 200
        assert r.json()["prompt_id"] == prompt_id and r.json()["node_errors"] == {}
        messages = collect_ws(ws, prompt_id)
        kinds = [m["type"] for m in messages]
        # the transcript's order: status (put), status (get), start, cached, ..., success, status, executing null
        assert kinds[:4] == ["status", "status", "execution_start", "execution_cached"]
        assert kinds[-3:] == ["execution_success", "status", "executing"]
        executed = [m["data"] for m in messages if m["type"] == "executed"]
        assert executed[0]["node"] == "4" and executed[0]["display_node"] == "4"
        files = executed[0]["output"]["images"]
        assert [f["filename"] for f in files] == [
            f"order-{prompt_id[:8]}_00001_.png",
            f"order-{prompt_id[:8]}_00002_.png",
        ]
        entry = http.get(f"/history/{prompt_id}").json()[prompt_id]
        assert set(entry) == {"prompt", "outputs", "status", "meta"}
        assert [type(x).__name__ for x in entry["prompt"]] == ["int", "str", "dict", "dict", "list"]
        assert entry["status"]["status_str"] == "success" and entry["status"]["completed"] is True
        assert [m[0] for m in entry["status"]["messages"]] == [
            "execution_start",
            "execution_cached",
            "execution_success",
        ]
        view = http.get("/view", params={"filename": files[0]["filename"], "subfolder": "", "type": "output"})
        assert view.status_code == 200 and view.content.startswith(b"\x89PNG")
        with Image.open(io.BytesIO(view.content)) as im:
            assert im.size == (32, 24) and "prompt" in im.text
        assert http.get("/view", params={"filename": "nope.png"}).status_code == 404
        assert http.get("/view", params={"filename": "../secret.png"}).status_code == 400


def test_identical_resubmit_is_cached_and_rereports_old_files(server: FakeComfyServer) -> None:
    with ws_session(server.url) as (ws, http, client_id):
        graph = json.loads(json.dumps(SMOKE_GRAPH))
        graph["4"]["inputs"]["filename_prefix"] = f"same-{uuid.uuid4().hex[:6]}"
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        _post(http, graph, client_id, prompt_id=first)
        collect_ws(ws, first)
        _post(http, graph, client_id, prompt_id=second)
        messages = collect_ws(ws, second)
        cached = next(m["data"] for m in messages if m["type"] == "execution_cached")
        assert cached["nodes"] == ["1", "2", "3", "4"]
        out1 = http.get(f"/history/{first}").json()[first]["outputs"]
        out2 = http.get(f"/history/{second}").json()[second]["outputs"]
        assert out1 == out2  # the second job "produced" the first job's files: why prefixes must be unique


@pytest.mark.parametrize(
    ("graph", "kind"),
    [
        ({"1": {"class_type": "NoSuchNode", "inputs": {}}}, "invalid_prompt"),
        (
            {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}}},
            "prompt_no_outputs",
        ),
    ],
)
def test_validation_errors_without_node_errors(server: FakeComfyServer, graph: dict, kind: str) -> None:
    with httpx.Client(base_url=server.url) as http:
        r = http.post("/prompt", json={"prompt": graph})
    assert r.status_code == 400
    body = r.json()
    assert body["error"]["type"] == kind and body["node_errors"] == {}
    assert set(body["error"]) == {"type", "message", "details", "extra_info"}
    if kind == "invalid_prompt":
        assert body["error"]["message"] == "Cannot execute because node NoSuchNode does not exist."
        assert body["error"]["details"] == "Node ID '#1'"


def test_bad_values_and_missing_model_match_the_transcript(server: FakeComfyServer) -> None:
    bad = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 0, "height": "abc", "batch_size": 1}},
        "2": {
            "class_type": "ImageScale",
            "inputs": {"image": ["1", 0], "upscale_method": "pixelate", "width": 8, "height": 8, "crop": "disabled"},
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
    }
    with httpx.Client(base_url=server.url) as http:
        body = http.post("/prompt", json={"prompt": bad}).json()
        ckpt = http.post(
            "/prompt",
            json={
                "prompt": {
                    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "nope.safetensors"}},
                    "2": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["1", 2]}},
                    "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
                    "4": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
                }
            },
        ).json()
        no_prompt = http.post("/prompt", json={"client_id": "x"})
        not_json = http.post("/prompt", content=b"{not json", headers={"content-type": "application/json"})
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    errors = {e["type"]: e for e in body["node_errors"]["1"]["errors"]}
    assert body["node_errors"]["1"]["class_type"] == "EmptyImage"
    assert body["node_errors"]["1"]["dependent_outputs"] == ["3"]
    assert errors["required_input_missing"]["details"] == "color"
    assert errors["value_smaller_than_min"]["message"] == "Value 0 smaller than min of 1"
    assert errors["invalid_input_type"]["details"].startswith("height, abc, invalid literal for int()")
    scale = body["node_errors"]["2"]["errors"][0]
    assert (
        scale["details"]
        == "upscale_method: 'pixelate' not in ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos']"
    )
    missing = ckpt["node_errors"]["1"]
    assert missing["class_type"] == "CheckpointLoaderSimple"
    assert missing["errors"][0]["type"] == "value_not_in_list"
    assert missing["errors"][0]["details"].startswith("ckpt_name: 'nope.safetensors' not in [")
    assert missing["errors"][0]["extra_info"]["input_name"] == "ckpt_name"
    assert no_prompt.status_code == 400 and no_prompt.json()["error"]["type"] == "no_prompt"
    assert not_json.status_code == 500


def test_runtime_error_message_and_history(server: FakeComfyServer) -> None:
    # the transcript's runtime error: ImageToMask(alpha) on an RGB image raises IndexError inside the node
    graph = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
        "2": {"class_type": "ImageToMask", "inputs": {"image": ["1", 0], "channel": "alpha"}},
        "3": {"class_type": "MaskToImage", "inputs": {"mask": ["2", 0]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "err"}},
    }
    with ws_session(server.url) as (ws, http, client_id):
        prompt_id = str(uuid.uuid4())
        assert _post(http, graph, client_id, prompt_id=prompt_id).status_code == 200
        messages = collect_ws(ws, prompt_id)
        entry = http.get(f"/history/{prompt_id}").json()[prompt_id]
    kinds = [m["type"] for m in messages]
    assert kinds[-3:] == ["execution_error", "status", "executing"]
    assert "execution_success" not in kinds
    err = messages[-3]["data"]
    assert err["node_id"] == "2" and err["node_type"] == "ImageToMask" and err["exception_type"] == "IndexError"
    assert err["exception_message"] == "index 3 is out of bounds for dimension 3 with size 3\n"
    assert err["executed"] == ["1"]
    assert err["exception_message"].endswith("\n") and "tensor(" in json.dumps(err["current_inputs"])
    assert set(err) >= {"executed", "traceback", "current_outputs", "timestamp"}
    assert entry["status"] == {
        "status_str": "error",
        "completed": False,
        "messages": entry["status"]["messages"],
    }
    assert entry["outputs"] == {} and entry["status"]["messages"][-1][0] == "execution_error"


def test_queue_front_delete_interrupt_and_restart() -> None:
    with FakeComfyServer(latency=2.0) as server, ws_session(server.url) as (ws, http, client_id):
        slow = {
            "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
            "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
            "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "a", "clip": ["2", 1]}},
            "4": {
                "class_type": "KSampler",
                "inputs": {
                    "model": ["2", 0],
                    "seed": 1,
                    "steps": 20,
                    "cfg": 7.0,
                    "sampler_name": "euler",
                    "scheduler": "normal",
                    "positive": ["3", 0],
                    "negative": ["3", 0],
                    "latent_image": ["1", 0],
                    "denoise": 1.0,
                },
            },
            "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["2", 2]}},
            "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "slow"}},
        }
        running, front, later = (str(uuid.uuid4()) for _ in range(3))
        _post(http, slow, client_id, prompt_id=running)
        _post(http, SMOKE_GRAPH, client_id, prompt_id=later)
        r = _post(http, SMOKE_GRAPH, client_id, prompt_id=front, front=True)
        assert r.json()["number"] < 0
        # wait until the slow one runs
        while True:
            msg = json.loads(ws.recv(timeout=10))
            if msg["type"] == "progress":
                break
        q = http.get("/queue").json()
        assert [i[1] for i in q["queue_running"]] == [running]
        assert [i[1] for i in q["queue_pending"]] == [front, later]
        assert http.post("/queue", json={"delete": [later]}).status_code == 200
        assert [i[1] for i in http.get("/api/queue").json()["queue_pending"]] == [front]
        assert http.post("/interrupt", json={"prompt_id": running}).status_code == 200
        messages = collect_ws(ws, running)
        interrupted = next(m["data"] for m in messages if m["type"] == "execution_interrupted")
        assert interrupted["node_type"] == "KSampler" and interrupted["node_id"] == "4"
        collect_ws(ws, front)
        assert http.get(f"/history/{later}").json() == {}
        hist = http.get(f"/history/{running}").json()[running]["status"]
        assert hist["status_str"] == "error" and hist["messages"][-1][0] == "execution_interrupted"
        assert http.post("/interrupt").status_code == 200  # idle, no body
        with pytest.raises(httpx.RequestError):
            server.go_down()
            http.get("/queue")
        server.come_back()
        assert http.get(f"/history/{running}").json() == {}  # a restart wipes history
        assert http.get("/queue").json() == {"queue_running": [], "queue_pending": []}


def test_upload_object_info_system_stats_and_origin(server: FakeComfyServer) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (255, 0, 0)).save(buf, format="PNG")
    with httpx.Client(base_url=server.url) as http:
        up = http.post("/upload/image", files={"image": ("sprite_in.png", buf.getvalue(), "image/png")})
        assert up.json() == {"name": "sprite_in.png", "subfolder": "", "type": "input"}
        info = http.get("/object_info").json()
        assert info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] == server.models["checkpoints"]
        assert "sprite_in.png" in info["LoadImage"]["input"]["required"]["image"][0]
        assert info["SaveImage"]["output_node"] is True
        assert http.get("/object_info/KSampler").json()["KSampler"]["name"] == "KSampler"
        stats = http.get("/system_stats").json()
        assert stats["system"]["comfyui_version"] == "0.3.64" and stats["devices"]
        assert http.get("/models/checkpoints").json() == server.models["checkpoints"]
        forged = http.post("/prompt", json={"prompt": SMOKE_GRAPH}, headers={"Origin": "http://evil.example"})
        assert forged.status_code == 403
        assert http.get("/prompt").json() == {"exec_info": {"queue_remaining": 0}}


def test_the_test_server_answers_what_a_real_comfyui_answered(server: FakeComfyServer) -> None:
    """Every timing-independent case of `tests.comfyui_server.compare`, replayed against the answers a real
    ComfyUI 0.3.64 gave (recorded with `--record`): error bodies, conversions, /object_info shapes."""
    from tests.comfyui_server.compare import CASES_BY_NAME, DETERMINISTIC, RECORDED

    recorded = json.loads(RECORDED.read_text())
    assert sorted(recorded) == sorted(DETERMINISTIC)
    for name in DETERMINISTIC:
        assert json.loads(json.dumps(CASES_BY_NAME[name](server.url))) == recorded[name], name


def test_a_fast_job_is_first_seen_pending_with_no_history(server: FakeComfyServer) -> None:
    # long enough that the two GETs below always come first, even on a loaded machine (the default 50 ms did not)
    server.faults.pickup_delay = 2.0
    with ws_session(server.url) as (ws, http, client_id):
        r = _post(http, SMOKE_GRAPH, client_id)
        pid = r.json()["prompt_id"]
        assert http.get(f"/history/{pid}").json() == {}
        assert [i[1] for i in http.get("/queue").json()["queue_pending"]] == [pid]
        collect_ws(ws, pid)
        assert pid in http.get(f"/history/{pid}").json()
