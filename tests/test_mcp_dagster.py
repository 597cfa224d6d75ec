"""Sprites made through MCP are Dagster materializations, with lineage, in the project's instance; with a
webserver running for the project, runs go through it (GraphQL, run queue)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance
from fastmcp import Client

from pipeline.defs.asset_keys import MANIFEST_KEY, sprite_keys
from pipeline.defs.location import build_definitions
from pipeline.service.build import VIA_TAG
from pipeline.service.webserver import DagsterWebserver
from pipeline.settings import Settings
from tests.mcp_support import mcp_server

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dagster_url: str) -> Settings:
    root = tmp_path / "game"
    (root / "sprite_specs" / "enemies").mkdir(parents=True)
    shutil.copy(REPO / "sprite_specs" / "_defaults.yaml", root / "sprite_specs")
    shutil.copy(REPO / "sprite_specs" / "enemies" / "goblin.yaml", root / "sprite_specs" / "enemies")
    shutil.copy(REPO / "workspace.yaml", root)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return Settings.for_project(root, dagster_home=str(home), dagster_url=dagster_url)


async def test_a_sprite_made_through_mcp_is_materialized_in_the_instance_with_lineage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_project(tmp_path, monkeypatch, "off")
    async with Client(mcp_server(settings)) as client:
        made = (
            await client.call_tool("generate_sprite", {"prompt": "bog witch", "category": "enemy"})
        ).structured_content
    name, run_id = made["name"], made["run_id"]

    instance = DagsterInstance.get()
    run = instance.get_run_by_id(run_id)
    assert run is not None and run.status.value == "SUCCESS"
    assert run.tags["sprites/source"] == "mcp" and run.tags[VIA_TAG] == "in-process"
    keys = dict(zip(("raw", "pixel", "bevy"), sprite_keys(name), strict=True))
    assert run.asset_selection == {*keys.values(), MANIFEST_KEY}
    for stage, key in keys.items():
        event = instance.get_latest_materialization_event(key)
        assert event is not None and event.run_id == run_id, stage
    bevy = instance.get_latest_materialization_event(keys["bevy"]).asset_materialization
    assert bevy.metadata["asset_path"].value == made["asset_path"]
    assert bevy.metadata["sha256"].value == made["sha256"]
    assert instance.get_latest_materialization_event(MANIFEST_KEY).run_id == run_id
    # lineage as the UI draws it, from the project's definitions (which now include the MCP spec)
    graph = build_definitions(settings).resolve_asset_graph()
    assert graph.get(keys["pixel"]).parent_keys == {keys["raw"]}
    assert graph.get(keys["bevy"]).parent_keys == {keys["pixel"]}
    assert keys["bevy"] in graph.get(MANIFEST_KEY).parent_keys
    assert graph.get(keys["raw"]).metadata["spec_file"].path == f"sprite_specs/mcp/{name}.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dagster_dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`dagster dev` (webserver + daemon) serving a temporary project on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_project(tmp_path, monkeypatch, url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPRITES_")}
    env.update(SPRITES_PROJECT_DIR=str(settings.project_dir), PYTHONPATH=str(REPO))
    log = (tmp_path / "dagster-dev.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=settings.project_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # SIGINT to the whole group stops webserver, daemon and code server
    )
    webserver = DagsterWebserver(url)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if webserver.serves(os.environ["DAGSTER_HOME"]) is None:
                    break
            except Exception:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "dagster-dev.log").read_text()
            time.sleep(0.5)
        yield settings, webserver
    finally:
        webserver.close()
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.slow
async def test_with_a_webserver_running_mcp_runs_go_through_it(dagster_dev) -> None:  # type: ignore[no-untyped-def]
    settings, webserver = dagster_dev
    async with Client(mcp_server(settings, dagster_url=webserver.url)) as client:
        made = (
            await client.call_tool(
                "generate_sprite", {"prompt": "marsh wisp", "category": "enemy", "wait_seconds": 120}
            )
        ).structured_content
        batch = (await client.call_tool("materialize", {"sprites": ["goblin"], "wait_seconds": 120})).structured_content
    assert made["status"] == "built", made
    assert made["launched_via"] == "webserver"
    assert made["cache"] == {"raw": "miss", "pixel": "miss", "bevy": "miss"}
    assert webserver.missing_assets(["marsh-wisp"]) == []  # the new spec was reloaded into the code location
    assert webserver.status(made["run_id"]) == "SUCCESS"
    run = DagsterInstance.get().get_run_by_id(made["run_id"])
    assert run.tags[VIA_TAG] == "webserver" and run.tags["sprites/source"] == "mcp"
    assert (settings.assets_dir / made["asset_path"]).is_file()
    assert batch["status"] == "success" and batch["launched_via"] == "webserver"
    assert [(s["name"], s["status"]) for s in batch["sprites"]] == [("goblin", "built")]
