"""A Dagster instance in PostgreSQL (dagster_home/examples/postgres/dagster.yaml) against a real PostgreSQL 15
started here on a scratch data directory and a loopback port: CLI builds, a webserver-launched run and an
MCP run all land in it; two DAGSTER_HOMEs (two machines' worth of processes) pointing at one database build
at once without losing a manifest entry, and the `comfyui` pool's limit holds across them."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance

from pipeline.defs.asset_keys import sprite_paths
from pipeline.settings import Settings
from tests.automation_project import project_env
from tests.comfyui_server import FakeComfyServer
from tests.conftest import REPO, assert_bevy_folder_consistent, make_project, sprites_cmd
from tests.dagster_dev_harness import dagster_dev
from tests.scaling_services import Postgres, postgres
from tests.test_scaling_celery import comfy_project
from tests.test_webserver import keys_for, launch, wait_run

EXAMPLE = REPO / "dagster_home" / "examples" / "postgres" / "dagster.yaml"


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    with postgres() as server:
        yield server


def database(pg: Postgres, name: str) -> Postgres:
    """A fresh database on the test server (one per test: nothing shared between tests)."""
    import psycopg2

    conn = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, password="sprites", dbname="postgres")
    conn.autocommit = True
    conn.cursor().execute(f"CREATE DATABASE {name}")
    conn.close()
    return Postgres(pg.host, pg.port, pg.user, name)


def pg_home(path: Path, overrides: Mapping[str, Any] | None = None) -> Path:
    """A DAGSTER_HOME with the example dagster.yaml, deep-merged with test-only ``overrides``."""
    config = yaml.safe_load(EXAMPLE.read_text())

    def merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
        for k, v in extra.items():
            base[k] = merge(dict(base.get(k) or {}), v) if isinstance(v, Mapping) else v
        return base

    path.mkdir(parents=True)
    (path / "dagster.yaml").write_text(yaml.safe_dump(merge(config, overrides or {})))
    return path


def sprites(settings: Settings, env: Mapping[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        sprites_cmd(settings, *args),
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def no_sqlite(home: Path) -> None:
    assert [p.name for p in home.rglob("*.db")] == [], "the instance wrote SQLite files: not using Postgres"


def test_the_example_is_the_shipped_instance_plus_postgres_storage() -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    shipped = yaml.safe_load((REPO / "dagster_home" / "dagster.yaml").read_text())
    storage = example.pop("storage")["custom"]
    assert shipped.pop("storage")["custom"]["class"] == "PoolSafeSqliteStorage"
    # the run queue, pools and retention of one machine, unchanged: after editing dagster_home/dagster.yaml,
    # copy it below the `storage:` section of the example
    assert example == shipped, "dagster_home/examples/postgres/dagster.yaml is out of step with dagster.yaml"
    assert (storage["module"], storage["class"]) == ("pipeline.defs.pool_storage_postgres", "PoolSafePostgresStorage")
    # every connection setting comes from a variable (no password in the file), the ones the tests set
    settings = storage["config"]["postgres_db"]
    assert settings.pop("scheme") == "postgresql+psycopg2"
    assert {v["env"] for v in settings.values()} == set(Postgres("", 0, "", "").env)


def item_specs(count: int) -> dict[str, str]:
    return {f"s{i:02d}.yaml": f"name: s{i:02d}\ncategory: item\nsize: 16x16\nprompt: item {i}\n" for i in range(count)}


@pytest.mark.slow
def test_cli_webserver_and_mcp_runs_all_land_in_postgres(
    tmp_path: Path, pg: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = database(pg, "surfaces")
    project = make_project(tmp_path / "game", item_specs(3), copy_samples=False)
    (project.project_dir / "workspace.yaml").write_text((REPO / "workspace.yaml").read_text())
    home = pg_home(tmp_path / "home", {"run_queue": {"dequeue_interval_seconds": 1}})
    env = {**project_env(project), **db.env, "DAGSTER_HOME": str(home), "SPRITES_AUTOMATION": "none"}

    cli = sprites(project, {**env, "SPRITES_DAGSTER_URL": "off"}, "build", "s00", "s01")
    out = cli.communicate(timeout=300)[0]
    assert cli.returncode == 0 and "2 built" in out, out

    with dagster_dev(lambda url: {**env, "SPRITES_DAGSTER_URL": url}, tmp_path / "dev.log") as dev:
        run_id = launch(dev, keys_for("s02"), tags={"sprites/source": "ui"})
        wait_run(dev, run_id, timeout=180)

        from fastmcp import Client

        from tests.mcp_support import mcp_server

        for name, value in {**env, "SPRITES_DAGSTER_URL": dev.url}.items():
            monkeypatch.setenv(name, value)
        app = mcp_server(project, dagster_home=home, dagster_url=dev.url)

        async def mcp_materialize() -> Any:
            async with Client(app) as client:
                result = await client.call_tool("materialize", {"sprites": ["s00"], "force": True, "wait_seconds": 180})
                return result.structured_content

        made = anyio.run(mcp_materialize)
        assert made["status"] == "success" and made["launched_via"] == "webserver", made

    rows = db.query(
        "SELECT t.value, r.status FROM runs r JOIN run_tags t ON t.run_id = r.run_id AND t.key = 'sprites/source'"
    )
    assert sorted(rows) == [("cli", "SUCCESS"), ("mcp", "SUCCESS"), ("ui", "SUCCESS")]
    materialized = db.query(
        "SELECT DISTINCT asset_key FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
    )
    expected = {"/".join(path) for n in ("s00", "s01", "s02") for path in sprite_paths(n)} | {"bevy/manifest"}
    assert {"/".join(json.loads(k)) for (k,) in materialized} == expected
    no_sqlite(home)


@pytest.mark.slow
def test_two_dagster_homes_on_one_database_build_at_once_and_lose_nothing(
    tmp_path: Path, pg: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = database(pg, "two_homes")
    names = [f"s{i:02d}" for i in range(16)]
    project = make_project(tmp_path / "game", item_specs(len(names)), copy_samples=False)
    homes = [pg_home(tmp_path / f"home{i}") for i in (1, 2)]
    envs = [{**project_env(project), **db.env, "DAGSTER_HOME": str(h), "SPRITES_DAGSTER_URL": "off"} for h in homes]
    selections = [names[:10], names[6:]]  # overlapping: s06..s09 built by both
    procs = [sprites(project, env, "build", *sel) for env, sel in zip(envs, selections, strict=True)]
    outputs = [p.communicate(timeout=400)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    manifest = json.loads((project.assets_dir / "sprites/manifest.json").read_text())
    assert sorted(e["name"] for e in manifest["sprites"]) == names
    assert assert_bevy_folder_consistent(project) == len(names)
    # both runs are in the one database, and each home's instance sees the other's
    assert len(db.query("SELECT run_id FROM runs WHERE status = 'SUCCESS'")) == 2
    for name, value in db.env.items():
        monkeypatch.setenv(name, value)
    for home in homes:
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        with DagsterInstance.get() as instance:
            assert len(instance.get_runs()) == 2
        no_sqlite(home)


@pytest.mark.slow
def test_the_comfyui_pool_limit_holds_across_two_dagster_homes(
    tmp_path: Path, pg: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = database(pg, "pool")
    names = [f"g{i}" for i in range(4)]
    project = comfy_project(tmp_path / "game", names)
    homes = [pg_home(tmp_path / f"home{i}", {"concurrency": {"pools": {"default_limit": 1}}}) for i in (1, 2)]
    with FakeComfyServer(latency=0.8) as comfy:
        envs = [
            {**project_env(project), **db.env, "DAGSTER_HOME": str(h), "SPRITES_DAGSTER_URL": "off",
             "SPRITES_COMFYUI_URL": comfy.url}
            for h in homes
        ]  # fmt: skip
        # no pool row yet: the two runs' first claims create it at the same instant (Dagster's insert-then-update
        # fails on PostgreSQL for the second; pipeline/defs/pool_storage_postgres.py makes it an upsert)
        procs = [sprites(project, envs[0], "build", *names[:2]), sprites(project, envs[1], "build", *names[2:])]
        outputs = [p.communicate(timeout=400)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        assert len(comfy.executions()) == len(names)
    for name, value in {**db.env, "DAGSTER_HOME": str(homes[0])}.items():
        monkeypatch.setenv(name, value)
    with DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert len(runs) == 2
        spans: list[tuple[float, float]] = []
        run_spans = []
        for run in runs:
            logs = instance.all_logs(run.run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS})
            starts = {e.step_key: e.timestamp for e in logs if e.dagster_event_type == DagsterEventType.STEP_START}
            ends = {e.step_key: e.timestamp for e in logs if e.dagster_event_type == DagsterEventType.STEP_SUCCESS}
            spans += [(starts[k], ends[k]) for k in starts if k and k.startswith("sprite__")]
            stats = instance.get_run_stats(run.run_id)
            run_spans.append((stats.start_time, stats.end_time))
    assert len(spans) == len(names)
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, f"two generation steps ran at once across the two homes despite a pool of 1: {spans}"
    # the two runs were in progress at the same time: the pool, not chance, kept their steps apart
    (a_start, a_end), (b_start, b_end) = run_spans
    assert a_start is not None and b_start is not None and a_end is not None and b_end is not None
    assert max(a_start, b_start) < min(a_end, b_end), run_spans


def test_an_unreachable_database_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    from tests.dagster_dev_harness import free_port

    project = make_project(tmp_path / "game", item_specs(1), copy_samples=False)
    home = pg_home(tmp_path / "home")
    nowhere = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(free_port()), "DAGSTER_PG_USER": "sprites",
               "DAGSTER_PG_PASSWORD": "x", "DAGSTER_PG_DB": "dagster"}  # fmt: skip
    env = {**project_env(project), **nowhere, "DAGSTER_HOME": str(home), "SPRITES_DAGSTER_URL": "off"}
    proc = sprites(project, env, "build")
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 1, out
    assert f"error: cannot open the Dagster instance at {home}" in out and "DAGSTER_PG_" in out, out
    assert "Traceback" not in out
