"""Shared by the MCP transport tests and benchmarks/bench_mcp.py: a small project and its environment."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import REPO

__all__ = ["SPRITES", "mcp_project_env"]

#: `sprites` as a `python -c` program (this checkout's code, whatever is installed)
SPRITES = "from pipeline.cli import run; run()"


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
