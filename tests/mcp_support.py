"""Shared by the MCP tests and benchmarks/bench_mcp.py: a small project and its environment, and a server
over a project's build service (what `sprites mcp` makes, in memory)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import REPO

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from pipeline.settings import Settings

__all__ = ["SPRITES", "mcp_project_env", "mcp_server"]


def mcp_server(settings: Settings, *, dagster_home: Path | str | None = None, dagster_url: str = "off") -> FastMCP:
    """``create_server`` over a build service for ``settings`` (its instance in ``dagster_home`` when given;
    ``dagster_url``: the webserver to launch through, ``off``: in-process)."""
    from pipeline.faces.mcp.server import create_server
    from pipeline.service import BuildService

    if dagster_home is not None:
        settings = settings.model_copy(update={"dagster_home": Path(dagster_home)})
    return create_server(BuildService(settings, dagster_url=dagster_url))


#: `sprites` as a `python -c` program (this checkout's code, whatever is installed)
SPRITES = "from pipeline.faces.cli import run; run()"


def mcp_project_env(tmp: Path) -> dict[str, str]:
    """A project with one sprite (goblin) under ``tmp/game`` and the environment that serves it over MCP."""
    root = tmp / "game"
    (root / "sprite_specs" / "enemies").mkdir(parents=True)
    shutil.copy(REPO / "sprite_specs" / "_defaults.yaml", root / "sprite_specs")
    shutil.copy(REPO / "sprite_specs" / "enemies" / "goblin.yaml", root / "sprite_specs" / "enemies")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPRITES_", "DAGSTER_"))}
    env.update(
        SPRITES_PROJECT_DIR=str(root),
        DAGSTER_HOME=str(home),
        SPRITES_DAGSTER_URL="off",
        FASTMCP_LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
    )
    return env
