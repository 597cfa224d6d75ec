"""Run the fake ComfyUI server standalone: ``python -m tests.comfyui_server --port 8188 --latency 0.5``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading

from tests.comfyui_server.engine import Faults
from tests.comfyui_server.server import DEFAULT_MODELS, FakeComfyServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.comfyui_server", description=__doc__)
    parser.add_argument("--port", type=int, default=8188, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds of fake GPU time per image")
    parser.add_argument("--http-delay", type=float, default=0.0, help="extra seconds before every HTTP response")
    parser.add_argument(
        "--pickup-delay",
        type=float,
        default=Faults.pickup_delay,
        help="seconds a prompt posted to an idle server stays pending before it runs",
    )
    parser.add_argument("--checkpoint", action="append", help="available checkpoint names (repeatable)")
    parser.add_argument("--lora", action="append", help="available LoRA names (repeatable)")
    args = parser.parse_args(argv)
    models = {
        "checkpoints": args.checkpoint or DEFAULT_MODELS["checkpoints"],
        "loras": args.lora or DEFAULT_MODELS["loras"],
    }
    faults = Faults(latency=args.latency, http_delay=args.http_delay, pickup_delay=args.pickup_delay)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:  # uvicorn's own choice when installed; keeps the fake's overhead per job small
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = asyncio.new_event_loop
    with FakeComfyServer(port=args.port, models=models, faults=faults, loop_factory=loop_factory) as server:
        print(f"fake ComfyUI listening on {server.url} (latency {args.latency}s per image)", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
