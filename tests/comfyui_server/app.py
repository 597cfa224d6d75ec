"""HTTP and WebSocket routes of the fake server, after ComfyUI's ``server.py`` (every route also under ``/api``)."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.comfyui_server.hostile import bomb_png, endless_messages, huge_body
from tests.comfyui_server.validation import ValidationFailure

if TYPE_CHECKING:
    from tests.comfyui_server.server import FakeComfyServer

__all__ = ["build_app"]

VERSION = "0.3.64"
MODEL_FOLDERS = ["checkpoints", "configs", "loras", "vae", "text_encoders", "diffusion_models", "embeddings"]


def _server_error() -> Response:
    # what aiohttp answers when a handler raises (e.g. POST /prompt with a body that is not JSON)
    return PlainTextResponse("500 Internal Server Error\n\nServer got itself in trouble", status_code=500)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


def build_app(server: FakeComfyServer) -> Starlette:
    """The Starlette app for one fake server. ``server.engine`` is replaced on restart, so read it per request."""

    async def websocket_handler(ws: WebSocket) -> None:
        if server.faults.refuse_ws:
            await ws.close(code=1008)  # before accept: the handshake gets HTTP 403
            return
        await ws.accept()
        server.ws_connections += 1
        sid = ws.query_params.get("clientId", "") or uuid.uuid4().hex
        old = server.sockets.pop(sid, None)
        if old is not None:
            server.socket_budget.pop(id(old), None)
        server.sockets[sid] = ws
        engine = server.engine
        if server.faults.endless_ws_bytes:
            await endless_messages(ws, server.faults.endless_ws_bytes)
            return
        try:
            await server.send("status", {"status": engine.queue_info(), "sid": sid}, sid)
            if engine.client_id == sid and engine.last_node_id is not None:
                await server.send("executing", {"node": engine.last_node_id}, sid)
            while True:
                await ws.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            if server.sockets.get(sid) is ws:
                del server.sockets[sid]

    async def get_prompt(request: Request) -> Response:
        return JSONResponse(server.engine.queue_info())

    async def post_prompt(request: Request) -> Response:
        body = await _json(request)
        if not isinstance(body, dict):
            return _server_error()
        try:
            answer = await server.engine.submit(body)
        except ValidationFailure as failure:
            return JSONResponse(failure.body, status_code=400)
        if server.faults.lose_prompt_answers > 0:
            server.faults.lose_prompt_answers -= 1
            return PlainTextResponse("502 Bad Gateway", status_code=502)
        return JSONResponse(answer)

    async def get_queue(request: Request) -> Response:
        running, pending = server.engine.current_queue()
        return JSONResponse({"queue_running": running, "queue_pending": pending})

    async def post_queue(request: Request) -> Response:
        body = await _json(request)
        if not isinstance(body, dict):
            return _server_error()
        if body.get("clear"):
            await server.engine.wipe_queue()
        if "delete" in body:
            await server.engine.delete(list(body["delete"]))
        return Response(status_code=200)

    async def post_interrupt(request: Request) -> Response:
        body = await _json(request)
        prompt_id = body.get("prompt_id") if isinstance(body, dict) else None
        server.engine.interrupt(prompt_id)
        return Response(status_code=200)

    async def get_history(request: Request) -> Response:
        max_items = request.query_params.get("max_items")
        return JSONResponse(server.engine.get_history(max_items=int(max_items) if max_items else None))

    async def get_history_id(request: Request) -> Response:
        return JSONResponse(server.engine.get_history(prompt_id=request.path_params["prompt_id"]))

    async def post_history(request: Request) -> Response:
        body = await _json(request)
        if not isinstance(body, dict):
            return _server_error()
        if body.get("clear"):
            server.engine.history.clear()
        for pid in body.get("delete", []):
            server.engine.history.pop(pid, None)
        return Response(status_code=200)

    async def view(request: Request) -> Response:
        q = request.query_params
        if "filename" not in q:
            return Response(status_code=404)
        filename = q["filename"]
        if not filename or filename[0] == "/" or ".." in filename:
            return Response(status_code=400)
        engine = server.engine
        base = {"output": engine.output_dir, "input": engine.input_dir, "temp": engine.temp_dir}.get(
            q.get("type", "output")
        )
        if base is None:
            return Response(status_code=400)
        folder = base
        if "subfolder" in q:
            folder = (base / q["subfolder"]).resolve()
            if os.path.commonpath((str(folder), str(base.resolve()))) != str(base.resolve()):
                return Response(status_code=403)
        path = folder / os.path.basename(filename)
        if not path.is_file():
            return Response(status_code=404)
        faults = server.faults
        if faults.huge_view_bytes:
            length = {"Content-Length": str(faults.huge_view_bytes)} if faults.view_declared_length else {}
            return StreamingResponse(huge_body(faults.huge_view_bytes), media_type="image/png", headers=length)
        if faults.bomb_dimensions:
            return Response(bomb_png(*faults.bomb_dimensions), media_type="image/png")
        if server.faults.truncate_views:
            data = path.read_bytes()
            return Response(data[: len(data) // 2], media_type="image/png")
        return FileResponse(path, headers={"Content-Disposition": f'filename="{path.name}"'})

    async def upload_image(request: Request) -> Response:
        async with request.form() as form:
            image = form.get("image")
            if image is None or isinstance(image, str) or not image.filename:
                return Response(status_code=400)
            kind = str(form.get("type") or "input")
            base = {
                "input": server.engine.input_dir,
                "temp": server.engine.temp_dir,
                "output": server.engine.output_dir,
            }[kind]
            subfolder = str(form.get("subfolder") or "")
            folder = (base / subfolder).resolve()
            filename = image.filename
            path = (folder / filename).resolve()
            if os.path.commonpath((str(base.resolve()), str(path))) != str(base.resolve()):
                return Response(status_code=400)
            folder.mkdir(parents=True, exist_ok=True)
            data = await image.read()
            if str(form.get("overwrite") or "") not in ("true", "1"):
                stem, suffix = Path(filename).stem, Path(filename).suffix
                i = 1
                while path.exists() and path.read_bytes() != data:
                    filename = f"{stem} ({i}){suffix}"
                    path = folder / filename
                    i += 1
            path.write_bytes(data)
        return JSONResponse({"name": filename, "subfolder": subfolder, "type": kind})

    async def object_info(request: Request) -> Response:
        engine = server.engine
        return JSONResponse({name: cls.info(engine.models) for name, cls in engine.classes.items()})

    async def object_info_node(request: Request) -> Response:
        engine = server.engine
        name = request.path_params["node_class"]
        cls = engine.classes.get(name)
        return JSONResponse({name: cls.info(engine.models)} if cls else {})

    async def system_stats(request: Request) -> Response:
        return JSONResponse(
            {
                "system": {
                    "os": os.name,
                    "ram_total": 16 * 2**30,
                    "ram_free": 8 * 2**30,
                    "comfyui_version": VERSION,
                    "required_frontend_version": "1.27.10",
                    "python_version": sys.version,
                    "pytorch_version": "fake",
                    "embedded_python": False,
                    "argv": ["main.py", "--fake", platform.node()],
                },
                "devices": [
                    {
                        "name": "fake: test server (no GPU)",
                        "type": "cpu",
                        "index": None,
                        "vram_total": 16 * 2**30,
                        "vram_free": 16 * 2**30,
                        "torch_vram_total": 0,
                        "torch_vram_free": 0,
                    }
                ],
            }
        )

    async def features(request: Request) -> Response:
        return JSONResponse({"supports_preview_metadata": True, "max_upload_size": 104857600})

    async def models(request: Request) -> Response:
        return JSONResponse(MODEL_FOLDERS)

    async def models_folder(request: Request) -> Response:
        folder = request.path_params["folder"]
        if folder not in MODEL_FOLDERS:
            return Response(status_code=404)
        return JSONResponse(server.engine.models.get(folder, []))

    async def post_free(request: Request) -> Response:
        return Response(status_code=200)

    table: list[tuple[str, str, Any]] = [
        ("/prompt", "GET", get_prompt),
        ("/prompt", "POST", post_prompt),
        ("/queue", "GET", get_queue),
        ("/queue", "POST", post_queue),
        ("/interrupt", "POST", post_interrupt),
        ("/free", "POST", post_free),
        ("/history", "GET", get_history),
        ("/history", "POST", post_history),
        ("/history/{prompt_id}", "GET", get_history_id),
        ("/view", "GET", view),
        ("/upload/image", "POST", upload_image),
        ("/object_info", "GET", object_info),
        ("/object_info/{node_class}", "GET", object_info_node),
        ("/system_stats", "GET", system_stats),
        ("/features", "GET", features),
        ("/models", "GET", models),
        ("/models/{folder}", "GET", models_folder),
    ]
    routes: list[Any] = []
    for prefix in ("/api", ""):
        routes.append(WebSocketRoute(prefix + "/ws", websocket_handler))
        for path, method, handler in table:
            routes.append(Route(prefix + path, _faulty(server, handler), methods=[method]))
    return Starlette(routes=routes)


def _faulty(server: FakeComfyServer, handler: Any) -> Any:
    """Wrap a handler with the fault injection that applies to every HTTP request, and the Origin check."""

    async def wrapped(request: Request) -> Response:
        faults = server.faults
        if faults.http_delay:
            await asyncio.sleep(faults.http_delay)
        path = request.url.path.removeprefix("/api")
        status = faults.take_http_error(path)
        if status is not None:
            return PlainTextResponse(f"{status} injected fault", status_code=status)
        if faults.take_garbage(path):
            return Response("<html><body>Welcome to the hotel network</body></html>", media_type="text/html")
        origin, host = request.headers.get("origin"), request.headers.get("host")
        if origin and host and request.method == "POST" and urlsplit(origin).netloc.lower() != host.lower():
            return Response(status_code=403)
        server.requests.append((request.method, request.url.path))
        return await handler(request)

    return wrapped
