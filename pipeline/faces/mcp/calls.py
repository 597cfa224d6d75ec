"""What every tool does around the service: run blocking work off the event loop, translate our errors into
``ToolError`` (naming project-relative paths, never the server's absolute ones), report progress while a run
is followed, and return images with structured data."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import mcp_types as mt
from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import ToolResult
from fastmcp.utilities.types import Image
from mcp_types import TextContent
from pydantic import BaseModel

from pipeline.errors import SpriteError
from pipeline.faces.mcp.images import scaled_png
from pipeline.service import Run
from pipeline.settings import SETTINGS, Settings

__all__ = ["ProjectPaths", "follow", "in_thread", "relative_paths", "result_with_images"]

T = TypeVar("T")
_HEARTBEAT_S = 1.0


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking pipeline work in a worker thread; our own errors reach the client as ``ToolError``."""
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    except SpriteError as exc:
        raise ToolError(str(exc)) from exc


async def follow(
    ctx: Context, job: Run, wait_seconds: float, *, done_before: int = 0, total: int | None = None
) -> bool:
    """Wait for ``job`` up to ``wait_seconds``, sending progress notifications; True when it ended."""
    total = total if total is not None else done_before + len(job.names) + 1
    deadline = anyio.current_time() + wait_seconds
    reported: tuple[str, int] | None = None
    next_beat = 0.0
    while not job.done.is_set():
        now = anyio.current_time()
        if now >= deadline:
            return False
        current = (job.state, job.finished_count)
        if current != reported or now >= next_beat:
            seconds = job.seconds or 0.0
            last = job.events[-1] if job.events else None
            detail = f"; {last.sprite}: {last.message}" if last and last.sprite else ""
            message = f"{job.state} ({job.via}): {job.finished_count}/{len(job.names)} sprites, {seconds:.1f}s{detail}"
            await ctx.report_progress(done_before + job.finished_count, total, message)
            reported, next_beat = current, now + _HEARTBEAT_S
        await anyio.sleep(0.02)
    return True


def result_with_images(
    result: BaseModel, summary: str, pngs: list[bytes], upscale: int | None = None, *, is_error: bool = False
) -> ToolResult:
    """Text summary + the sprites as PNG image content (scaled crisply) + the structured result; ``is_error``:
    the call failed (MCP ``isError``), the text says why."""
    content: list[Any] = [TextContent(type="text", text=summary)]
    for png in pngs:
        data, _factor, _size = scaled_png(png, upscale)
        content.append(Image(data=data, format="png").to_image_content())
    return ToolResult(content=content, structured_content=result.model_dump(mode="json"), is_error=is_error)


def relative_paths(settings: Settings, text: str) -> str:
    """``text`` with the server's absolute paths replaced: inside the project, by the path relative to it;
    a configured folder outside it, by its variable (``$DAGSTER_HOME``); the home folder by ``~``."""
    project = str(settings.project_dir)
    folders: list[tuple[str, str]] = []
    for info in SETTINGS:
        value = getattr(settings, info.name, None)
        if isinstance(value, Path) and info.name != "project_dir":
            path = str(value)
            if not (path == project or path.startswith(project + os.sep)):
                folders.append((path, f"${info.env}"))
    folders.append((project + os.sep, ""))
    folders.append((project, "the project folder"))
    home = os.path.expanduser("~")
    if home not in ("/", "~"):
        folders.append((home, "~"))
    for path, label in sorted(folders, key=lambda f: -len(f[0])):
        text = text.replace(path, label)
    return text


class ProjectPaths(Middleware):
    """Tool errors and error results name project-relative paths, never the server's absolute ones."""

    def __init__(self, settings: Settings):
        self.settings = settings

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        try:
            result = await call_next(context)
        except ToolError as exc:
            text = relative_paths(self.settings, str(exc))
            if text == str(exc):
                raise
            raise ToolError(text) from exc.__cause__
        if result.is_error:
            for block in result.content:
                if isinstance(block, TextContent):
                    block.text = relative_paths(self.settings, block.text)
        return result
