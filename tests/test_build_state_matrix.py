"""Every way to start a build x every starting state: only the edited sprite's files and entries move.

Ways: CLI with a selection, CLI whole project, MCP generate_sprite, MCP materialize, a run launched
through a real ``dagster dev`` webserver, the spec sensor. States: a fresh clone, a clone whose
``.sprites/`` was deleted, one whose cache was deleted, and one where another build is running (both
builds are made to publish together by holding the publish lock until both have exported).

Afterwards the bytes of every unrelated sprite's PNG, .meta, manifest entry, .assets.ron entry and
lock entry equal the committed ones, and `sprites list`, `check --locked` and a from-scratch offline
build all agree with the lock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from dagster import DagsterInstance

from pipeline.defs.automation.sensors import SPEC_SENSOR_NAME
from pipeline.service.webserver import DagsterWebserver
from pipeline.settings import Settings
from tests.automation_project import load_defs, materialize, project_env
from tests.build_state_support import (
    NEW_PROMPT,
    TARGET,
    assert_everything_agrees,
    assert_only_target_moved,
    cli,
    clone,
    edit_target,
    make_origin,
    pending_runs,
    publish_held,
    sprites,
    wait_until,
)
from tests.conftest import REPO, sprites_cmd
from tests.dagster_dev_harness import dagster_dev

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_origin(tmp_path_factory.mktemp("origin") / "game")


# -- ways to build ---------------------------------------------------------------------------------------


def _mcp(settings: Settings, tool: str, args: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from fastmcp import Client

    from tests.mcp_support import mcp_server

    monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))
    app = mcp_server(settings)

    async def call() -> dict[str, Any]:
        async with Client(app) as client:
            result = await client.call_tool(tool, {**args, "wait_seconds": 600})
            return dict(result.structured_content or {})

    return anyio.run(call)


def cli_selection(settings: Settings, ctx: Any) -> None:
    edit_target(settings)
    sprites(settings, "build", TARGET)


def cli_all(settings: Settings, ctx: Any) -> None:
    edit_target(settings)
    assert "1 built" in sprites(settings, "build")


def mcp_generate_sprite(settings: Settings, ctx: Any) -> None:
    args = {"prompt": NEW_PROMPT, "category": "character", "name": TARGET, "size": "16x16", "overwrite": True}
    result = _mcp(settings, "generate_sprite", args, ctx["monkeypatch"])
    assert result["status"] == "built", result


def mcp_materialize(settings: Settings, ctx: Any) -> None:
    edit_target(settings)
    result = _mcp(settings, "materialize", {"sprites": [TARGET]}, ctx["monkeypatch"])
    assert result["status"] == "success", result


def webserver_run(settings: Settings, ctx: Any) -> None:
    server = DagsterWebserver(ctx["url"])
    edit_target(settings)
    server.reload_location()
    run_id = server.launch([TARGET], {"sprites/source": "test"})
    wait_until("the webserver's run to end", lambda: server.status(run_id) in ("SUCCESS", "FAILURE", "CANCELED"))
    assert server.status(run_id) == "SUCCESS"


def spec_sensor(settings: Settings, ctx: Any) -> None:
    from dagster import SensorResult, build_sensor_context

    with DagsterInstance.ephemeral() as instance:

        def tick(cursor: str | None) -> SensorResult:
            defs = load_defs(settings)
            result = defs.resolve_sensor_def(SPEC_SENSOR_NAME)(
                build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
            )
            assert isinstance(result, SensorResult)
            return result

        baseline = tick(None)
        edit_target(settings)
        result = tick(baseline.cursor)  # definitions reloaded with the edit (as after a code-location reload)
        assert result.run_requests, result.skip_reason
        materialize(load_defs(settings), instance, result.run_requests[0].asset_selection or [])


WAYS: dict[str, Callable[[Settings, Any], None]] = {
    "cli-selection": cli_selection,
    "cli-all": cli_all,
    "mcp-generate_sprite": mcp_generate_sprite,
    "mcp-materialize": mcp_materialize,
    "webserver-run": webserver_run,
    "spec-sensor": spec_sensor,
}

# -- starting states -------------------------------------------------------------------------------------


def warm(settings: Settings) -> None:
    """A checkout that has built before: a cache, fast-path record and instance of its own."""
    cli(settings, "build", "--force")


STATES: dict[str, Callable[[Settings], None]] = {
    "fresh-clone": lambda s: None,
    "sprites-dir-deleted": lambda s: (warm(s), shutil.rmtree(s.project_dir / ".sprites")),
    "cache-deleted": lambda s: (warm(s), shutil.rmtree(s.cache_dir)),
    "another-build-running": lambda s: None,  # see _build_alongside
}


def _build_alongside(settings: Settings, way: Callable[[Settings, Any], None], ctx: Any) -> None:
    """Run ``way`` while another build of other sprites runs, and make both publish at the same moment."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            way(settings, ctx)
        except BaseException as exc:
            errors.append(exc)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPRITES_", "DAGSTER_HOME"))}
    env.update(DAGSTER_HOME=str(settings.dagster_home), PYTHONPATH=str(REPO))
    with publish_held(settings):
        other = subprocess.Popen(
            sprites_cmd(settings, "build", "coin", "gem", "--force"),
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_until("the other build to export", lambda: pending_runs(settings) >= 1 or other.poll() is not None)
        thread = threading.Thread(target=target)
        thread.start()
        wait_until("both builds to export", lambda: pending_runs(settings) >= 2 or not thread.is_alive())
    thread.join(600)
    output = other.communicate(timeout=600)[0]
    assert other.returncode == 0, output
    if errors:
        raise errors[0]


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("way", list(WAYS))
def test_only_the_edited_sprite_moves(
    origin: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str, state: str
) -> None:
    settings = clone(origin, tmp_path / "clone")
    STATES[state](settings)
    ctx: dict[str, Any] = {"monkeypatch": monkeypatch}

    def act() -> None:
        if state == "another-build-running":
            _build_alongside(settings, WAYS[way], ctx)
        else:
            WAYS[way](settings, ctx)

    if way == "webserver-run":
        env = {**project_env(settings), "DAGSTER_HOME": str(settings.dagster_home), "SPRITES_AUTOMATION": "none"}
        with dagster_dev(lambda url: env, tmp_path / "dagster-dev.log") as dev:
            ctx["url"] = dev.url
            act()
    else:
        act()
    assert_only_target_moved(origin, settings)
    assert_everything_agrees(settings, tmp_path)
