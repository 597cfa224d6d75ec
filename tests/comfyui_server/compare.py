"""Send the same requests to a real ComfyUI and to the test server; print both answers, one pair per case.

    python -m tests.comfyui_server --port 8289 &           # the test server
    python -m tests.comfyui_server.compare http://127.0.0.1:8188 http://127.0.0.1:8289

No model weights are needed: every graph uses core image nodes only. What the last comparison found is in
docs/comfyui.md ("The test server against a real ComfyUI").
"""

from __future__ import annotations

import argparse
import copy
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

GRAPH: dict[str, Any] = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 48, "batch_size": 2, "color": 0}},
    "2": {
        "class_type": "ImageScale",
        "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact", "width": 32, "height": 24, "crop": "disabled"},
    },
    "3": {"class_type": "ImageQuantize", "inputs": {"image": ["2", 0], "colors": 16, "dither": "none"}},
    "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "compare"}},
}
_DROP = object()


def graph(**changes: Any) -> dict[str, Any]:
    """The graph with ``node__input=value`` changes (``_DROP`` removes the input); never cached (random colour)."""
    g = copy.deepcopy(GRAPH)
    g["1"]["inputs"]["color"] = uuid.uuid4().int % 0xFFFFFF
    for path, value in changes.items():
        node, name = path.split("__")
        if value is _DROP:
            g[node]["inputs"].pop(name)
        else:
            g[node]["inputs"][name] = value
    return g


def post(url: str, body_graph: dict[str, Any]) -> list[Any]:
    r = httpx.post(f"{url}/prompt", json={"prompt": body_graph, "client_id": "compare"}, timeout=30)
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text
    for entry in (body.get("node_errors") or {}).values() if isinstance(body, dict) else ():
        for err in entry["errors"]:
            err.get("extra_info", {}).pop("traceback", None)  # file paths differ, by nature
    if isinstance(body, dict) and "prompt_id" in body:
        body["prompt_id"] = "<id>"
        body.pop("number", None)
    return [r.status_code, body]


def right_after_post(url: str) -> dict[str, Any]:
    pid = httpx.post(f"{url}/prompt", json={"prompt": graph(), "client_id": "compare"}).json()["prompt_id"]
    history = httpx.get(f"{url}/history/{pid}").json()
    queue = httpx.get(f"{url}/queue").json()
    where = "pending" if any(i[1] == pid for i in queue["queue_pending"]) else "running"
    where = where if any(i[1] == pid for i in queue["queue_pending"] + queue["queue_running"]) else "done"
    return {"history_is_empty": history == {}, "queue": where}


def object_info(url: str) -> dict[str, Any]:
    def get(name: str) -> dict[str, Any]:
        return dict(httpx.get(f"{url}/object_info/{name}").json()[name])

    quantize, save, sampler = get("ImageQuantize"), get("SaveImage"), get("KSampler")
    return {
        "ImageQuantize.dither": quantize["input"]["required"]["dither"],
        "ImageQuantize.display_name": quantize["display_name"],
        "SaveImage.hidden": save["input"].get("hidden"),
        "SaveImage.display_name": save["display_name"],
        "KSampler.seed": sampler["input"]["required"]["seed"],
        "KSampler.output_tooltips": sampler.get("output_tooltips"),
    }


def interrupt_slow_node(url: str) -> list[Any]:
    """Interrupt while a slow node (a big lanczos upscale) runs: which node reports it, and when."""
    client_id = uuid.uuid4().hex
    slow = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 2048, "height": 2048, "batch_size": 1, "color": 1}},
        "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "lanczos"}},
        "3": {"class_type": "ImageScale", "inputs": {"image": ["2", 0], "upscale_method": "nearest-exact"}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "slow"}},
    }
    slow["1"]["inputs"]["color"] = uuid.uuid4().int % 0xFFFFFF
    slow["2"]["inputs"].update(width=6144, height=6144, crop="disabled")
    slow["3"]["inputs"].update(width=64, height=64, crop="disabled")
    events: list[Any] = []
    with connect(url.replace("http", "ws") + f"/ws?clientId={client_id}") as ws:
        pid = httpx.post(f"{url}/prompt", json={"prompt": slow, "client_id": client_id}).json()["prompt_id"]
        sent = None
        while True:
            raw = ws.recv(timeout=120)
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            data = msg.get("data") or {}
            if data.get("prompt_id") != pid:
                continue
            if msg["type"] == "executing" and data.get("node") == "2" and sent is None:
                time.sleep(0.3)
                sent = time.monotonic()
                httpx.post(f"{url}/interrupt", json={"prompt_id": pid})
            if msg["type"] in ("executing", "execution_interrupted", "execution_success"):
                events.append([msg["type"], data.get("node") or data.get("node_id")])
            if msg["type"] == "executing" and data.get("node") is None:
                return events


CASES: list[tuple[str, Callable[[str], Any]]] = [
    ("a fast job right after POST /prompt", right_after_post),
    ("value below min (colors 0)", lambda u: post(u, graph(**{"3__colors": 0}))),
    ("string converted before the check (colors '300')", lambda u: post(u, graph(**{"3__colors": "300"}))),
    ("float for an INT (width 64.7)", lambda u: post(u, graph(**{"1__width": 64.7}))),
    ("not a number (width 'abc')", lambda u: post(u, graph(**{"1__width": "abc"}))),
    ("link to a missing node", lambda u: post(u, graph(**{"3__image": ["99", 0]}))),
    ("link to a missing output slot", lambda u: post(u, graph(**{"3__image": ["1", 5]}))),
    ("output node links to a missing node", lambda u: post(u, graph(**{"4__images": ["99", 0]}))),
    ("output node lacks an input", lambda u: post(u, graph(**{"4__filename_prefix": _DROP}))),
    ("required input missing upstream", lambda u: post(u, graph(**{"2__crop": _DROP}))),
    ("value not in a COMBO list (dither 'x')", lambda u: post(u, graph(**{"3__dither": "x"}))),
    ("value not in an old-style list (crop 'x')", lambda u: post(u, graph(**{"2__crop": "x"}))),
    ("two nodes wrong", lambda u: post(u, graph(**{"3__colors": 0, "2__width": -5}))),
    ("unknown class", lambda u: post(u, {**graph(), "7": {"class_type": "NoSuchNode", "inputs": {}}})),
    ("/object_info shapes", object_info),
    ("interrupt during a slow node", interrupt_slow_node),
]


CASES_BY_NAME = dict(CASES)
#: cases whose answers do not depend on timing: recorded from a real server, replayed in tests/test_comfyui_server.py
DETERMINISTIC = [
    name for name, _ in CASES if name not in ("a fast job right after POST /prompt", "interrupt during a slow node")
]
RECORDED = Path(__file__).with_name("real_answers.json")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.comfyui_server.compare", description=__doc__)
    parser.add_argument("real", help="URL of a real ComfyUI")
    parser.add_argument("test", help="URL of the test server")
    parser.add_argument(
        "--record", type=Path, help=f"write the real server's answers to its {DETERMINISTIC} cases here"
    )
    args = parser.parse_args(argv)
    if args.record:
        record = {name: CASES_BY_NAME[name](args.real) for name in DETERMINISTIC}
        args.record.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    same = 0
    for name, case in CASES:
        answers = []
        for label, url in (("real", args.real), ("test", args.test)):
            try:
                answers.append(case(url))
            except Exception as exc:  # a comparison tool: show what happened, go on
                answers.append(f"EXC {exc!r}")
            print(f"--- {name} [{label}]: {json.dumps(answers[-1])[:600]}")
        same += answers[0] == answers[1]
        print(f"    {'SAME' if answers[0] == answers[1] else 'DIFFERENT'}")
    print(f"{same} of {len(CASES)} cases answered the same")


if __name__ == "__main__":
    main()
