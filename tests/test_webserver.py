"""Against the real thing: ``dagster dev`` (webserver, daemon, code server) on 127.0.0.1, driven by GraphQL.

One server for the module (it takes ~10 s to start); the tests run in file order and build on each
other's state, as a user's session would: look at the graph, build two sprites, several runs through
the queue at once, edit specs and let the sensor (through the daemon) rebuild, let the schedule repair a
sprite broken in the Bevy folder.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.export.manifest import MANIFEST_PATH
from pipeline.defs.asset_keys import MANIFEST_KEY_PATH, sprite_paths
from pipeline.defs.automation.checks import SPRITE_CHECK
from pipeline.defs.automation.schedules import SCHEDULE_NAME
from pipeline.defs.automation.sensors import SPEC_SENSOR_NAME
from pipeline.settings import Settings
from tests.automation_project import BAT_YAML, make_project, project_env
from tests.dagster_dev_harness import DagsterDev, dagster_dev, make_dagster_home, wait_for

pytestmark = pytest.mark.slow

REPO_SELECTOR = {"repositoryLocationName": "sprites", "repositoryName": "__repository__"}
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
RUN = """
query Run($id: ID!) {
  runOrError(runId: $id) {
    ... on Run { runId status startTime endTime tags { key value } assetSelection { path } }
  }
}
"""
RUNS_TAGGED = """
query Runs($key: String!, $value: String!) {
  runsOrError(filter: {tags: [{key: $key, value: $value}]}) {
    ... on Runs { results { runId status assetSelection { path } tags { key value } } }
  }
}
"""
START_SCHEDULE = """
mutation Start($schedule: ScheduleSelector!) {
  startSchedule(scheduleSelector: $schedule) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}
"""
TICKS = """
query Ticks($sensor: SensorSelector!, $schedule: ScheduleSelector!) {
  sensorOrError(sensorSelector: $sensor) {
    ... on Sensor { sensorState { status ticks(limit: 20) { status timestamp skipReason runIds } } }
  }
  scheduleOrError(scheduleSelector: $schedule) {
    ... on Schedule { scheduleState { status ticks(limit: 20) { status timestamp skipReason runIds } } }
  }
}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_project(tmp_path_factory.mktemp("web") / "game")


@pytest.fixture(scope="module")
def dev(project: Settings, tmp_path_factory: pytest.TempPathFactory):
    home = make_dagster_home(tmp_path_factory.mktemp("dagster_home"), {"run_queue": {"dequeue_interval_seconds": 1}})

    def env(url: str) -> dict[str, str]:
        return {
            **project_env(project),
            "DAGSTER_HOME": str(home),
            "SPRITES_SENSOR_INTERVAL": "5",
            # the schedule ticks every minute, but starts stopped: the last test switches it on, so that it
            # cannot rebuild, between two sensor ticks, what the sensor test expects the sensor to build
            "SPRITES_AUTOMATION": "sensor",
            "SPRITES_SCHEDULE_CRON": "* * * * *",
            "SPRITES_DAGSTER_URL": url,
        }

    with dagster_dev(env, home / "dagster-dev.log") as server:
        yield server
        print(server.log())  # shown by pytest only when a test failed


def launch(dev: DagsterDev, keys: list[list[str]], tags: dict[str, str] | None = None) -> str:
    params = {
        "selector": {**REPO_SELECTOR, "jobName": "__ASSET_JOB", "assetSelection": [{"path": k} for k in keys]},
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }
    result = dev.graphql(LAUNCH, {"params": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return str(result["run"]["runId"])


def run_info(dev: DagsterDev, run_id: str) -> dict[str, Any]:
    return dev.graphql(RUN, {"id": run_id})["runOrError"]


def wait_run(dev: DagsterDev, run_id: str, timeout: float = 120) -> dict[str, Any]:
    info = wait_for(f"run {run_id}", lambda: (i := run_info(dev, run_id))["status"] in TERMINAL and i, timeout)
    assert info["status"] == "SUCCESS", f"run {run_id} ended {info['status']}:\n{dev.log()}"
    return info


def keys_for(*names: str, manifest: bool = True) -> list[list[str]]:
    keys = [list(path) for n in names for path in sprite_paths(n)]
    return [*keys, list(MANIFEST_KEY_PATH)] if manifest else keys


def selection(info: dict[str, Any]) -> set[str]:
    return {"/".join(k["path"]) for k in info["assetSelection"] or []}


def ticks(dev: DagsterDev) -> tuple[dict[str, Any], dict[str, Any]]:
    data = dev.graphql(
        TICKS,
        {
            "sensor": {**REPO_SELECTOR, "sensorName": SPEC_SENSOR_NAME},
            "schedule": {**REPO_SELECTOR, "scheduleName": SCHEDULE_NAME},
        },
    )
    return data["sensorOrError"]["sensorState"], data["scheduleOrError"]["scheduleState"]


def manifest_names(project: Settings) -> list[str]:
    return [e["name"] for e in json.loads((project.assets_dir / MANIFEST_PATH).read_text())["sprites"]]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_asset_graph_checks_and_automation_are_served(dev: DagsterDev) -> None:
    data = dev.graphql(
        "{ assetNodes { assetKey { path } dependencyKeys { path } opNames groupName staleStatus "
        "assetChecksOrError { ... on AssetChecks { checks { name } } } } }"
    )
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    sprites = ("coin", "gem", "slime")
    stages = ("render", "pixel_art", "bevy")
    assert set(nodes) == {f"{n}/{n}_{stage}" for n in sprites for stage in stages} | {"bevy/manifest"}
    assert [d["path"] for d in nodes["gem/gem_pixel_art"]["dependencyKeys"]] == [["gem", "gem_render"]]
    assert {"/".join(d["path"]) for d in nodes["bevy/manifest"]["dependencyKeys"]} == {f"{n}/{n}_bevy" for n in sprites}
    slime = nodes["slime/slime_render"]
    assert slime["opNames"] == ["sprite__slime"] and slime["groupName"] == "enemy"
    assert all(n["staleStatus"] == "MISSING" for n in nodes.values())
    assert {c["name"] for c in nodes["gem/gem_bevy"]["assetChecksOrError"]["checks"]} == {SPRITE_CHECK}
    sensor, schedule = ticks(dev)
    assert sensor["status"] == "RUNNING" and schedule["status"] == "STOPPED"


def test_materialize_two_sprites_through_graphql(dev: DagsterDev, project: Settings) -> None:
    run_id = launch(dev, keys_for("gem", "coin"))
    info = wait_run(dev, run_id)
    assert selection(info) == {"/".join(k) for k in keys_for("gem", "coin")}
    gem = project.assets_dir / "sprites/item/gem.png"
    assert gem.is_file() and (project.assets_dir / "sprites/item/gem.png.meta").is_file()
    assert not (project.assets_dir / "sprites/enemy/slime.png").exists()
    assert manifest_names(project) == ["coin", "gem"]
    # what the UI shows about the run: materialization metadata and the check results
    data = dev.graphql(
        '{ assetNodes(assetKeys: [{path: ["gem", "gem_bevy"]}]) { assetMaterializations(limit: 1) { runId '
        "metadataEntries { label ... on TextMetadataEntry { text } } } "
        "assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization { status } } } } } }"
    )
    node = data["assetNodes"][0]
    meta = {m["label"]: m.get("text") for m in node["assetMaterializations"][0]["metadataEntries"]}
    assert node["assetMaterializations"][0]["runId"] == run_id
    assert meta["sha256"] == sha(gem) and meta["cache"] == "miss"
    checks = {c["name"]: c["executionForLatestMaterialization"]["status"] for c in node["assetChecksOrError"]["checks"]}
    assert checks == {SPRITE_CHECK: "SUCCEEDED"}


def test_a_failed_run_is_tagged_with_its_reason_by_the_daemon(dev: DagsterDev) -> None:
    # slime's pixel and bevy stages without its render: the step refuses and says why
    run_id = launch(dev, keys_for("slime", manifest=False)[1:])
    info = wait_for("the run to fail", lambda: (i := run_info(dev, run_id))["status"] in TERMINAL and i, 120)
    assert info["status"] == "FAILURE"

    def reason() -> str | None:
        return {t["key"]: t["value"] for t in run_info(dev, run_id)["tags"]}.get("sprites/failure")

    text = wait_for("the failure sensor to tag the run", reason, 60)
    assert text.startswith(
        "slime (sprite_specs/slime.yaml:1), step sprite__slime: GenerationError: slime: slime/slime_render"
    )


def test_runs_launched_at_once_go_through_the_queue_and_its_limits(dev: DagsterDev, project: Settings) -> None:
    # three runs at once; two pinned to the same ComfyUI server (tag limit: one per server at a time)
    same_a = launch(dev, keys_for("slime"), {"sprites/comfyui_server": "gpu-a:8188"})
    same_b = launch(dev, keys_for("gem"), {"sprites/comfyui_server": "gpu-a:8188"})
    other = launch(dev, keys_for("coin"), {"sprites/comfyui_server": "gpu-b:8188"})
    a, b, c = (wait_run(dev, r) for r in (same_a, same_b, other))
    first, second = sorted((a, b), key=lambda r: r["startTime"])
    assert second["startTime"] >= first["endTime"], "two runs for one server overlapped"
    assert c["status"] == "SUCCESS"
    # each run is its own process with its own resource; the manifest (published by all three) has all
    assert manifest_names(project) == ["coin", "gem", "slime"]


def _sensor_has_baseline(dev: DagsterDev) -> bool:
    sensor, _ = ticks(dev)
    return any(t["status"] == "SKIPPED" for t in sensor["ticks"])


def test_spec_edits_are_built_by_the_sensor_through_the_daemon(dev: DagsterDev, project: Settings) -> None:
    wait_for("the spec sensor's first tick", lambda: _sensor_has_baseline(dev), 60)
    coin = project.assets_dir / "sprites/item/coin.png"
    before = sha(coin)
    items = project.specs_dir / "items.yaml"
    items.write_text(items.read_text().replace("golden coin", "silver coin"))
    (project.specs_dir / "bat.yaml").write_text(BAT_YAML)

    def sensor_run() -> dict[str, Any] | None:
        runs = dev.graphql(RUNS_TAGGED, {"key": "sprites/source", "value": "spec-sensor"})["runsOrError"]["results"]
        return runs[0] if runs and runs[0]["status"] in TERMINAL else None

    run = wait_for("a run requested by the spec sensor", sensor_run, 120)
    assert run["status"] == "SUCCESS", dev.log()
    # the sensor had the code location reloaded (bat is new), then asked for exactly coin and bat
    assert selection(run) == {"/".join(k) for k in keys_for("coin", "bat")}
    assert sha(coin) != before
    assert (project.assets_dir / "sprites/enemy/bat.png").is_file()
    assert manifest_names(project) == ["bat", "coin", "gem", "slime"]
    sensor, _ = ticks(dev)
    assert any("reloaded code location 'sprites'" in (t["skipReason"] or "") for t in sensor["ticks"])


def test_the_schedule_repairs_a_sprite_broken_in_the_bevy_folder(dev: DagsterDev, project: Settings) -> None:
    gem = project.assets_dir / "sprites/item/gem.png"
    good = gem.read_bytes()
    gem.write_bytes(b"not a png any more")
    broken_at = time.time()
    started = dev.graphql(START_SCHEDULE, {"schedule": {**REPO_SELECTOR, "scheduleName": SCHEDULE_NAME}})
    assert started["startSchedule"]["scheduleState"]["status"] == "RUNNING", started

    def tick_after() -> dict[str, Any] | None:
        _, schedule = ticks(dev)
        done = [t for t in schedule["ticks"] if t["timestamp"] > broken_at and t["status"] in ("SUCCESS", "SKIPPED")]
        return done[-1] if done else None

    tick = wait_for("a schedule tick through the daemon", tick_after, 100)
    assert tick["status"] == "SUCCESS", tick
    info = wait_run(dev, tick["runIds"][0])
    assert selection(info) == {"/".join(k) for k in keys_for("gem")}
    assert {t["key"]: t["value"] for t in info["tags"]}["sprites/source"] == "schedule"
    assert gem.read_bytes() == good
