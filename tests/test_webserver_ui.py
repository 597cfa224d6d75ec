"""What the Dagster UI tells a user, asked of the real ``dagster dev`` through GraphQL (and Chromium).

One project and one Dagster home for the module; the tests run in file order, as one user's day:
build from the command line, look at the graph, a run that fails, a typo in a spec (reload, restart),
its fix, a deleted spec. Issue 15, items 1-7.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pipeline.defs.asset_keys import MANIFEST_KEY_PATH, STAGES, sprite_path, sprite_paths
from pipeline.defs.automation.checks import MANIFEST_CHECKS, SPRITE_CHECK
from pipeline.defs.automation.sensors import SPEC_SENSOR_NAME
from pipeline.settings import Settings
from tests.automation_project import make_project, project_env
from tests.chromium import dump_dom, find_image, screenshot
from tests.dagster_dev_harness import DagsterDev, make_dagster_home, wait_for

pytestmark = pytest.mark.slow

SELECTOR = {"repositoryLocationName": "sprites", "repositoryName": "__repository__"}
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
TYPO = "    palette: nes\n"  # coin's line in items.yaml, misspelt below
MANIFEST = "/".join(MANIFEST_KEY_PATH)


def key(name: str, stage: str) -> str:
    """A sprite stage's key as GraphQL and the UI's URLs write it: ``gem/gem_bevy``."""
    return "/".join(sprite_path(name, stage))


def keys(*names: str) -> set[str]:
    return {"/".join(path) for n in names for path in sprite_paths(n)}


NODES = """
{ assetNodes { assetKey { path } groupName description kinds
    targetingInstigators { __typename ... on Sensor { name } ... on Schedule { name } }
    assetChecksOrError { ... on AssetChecks { checks { name
      executionForLatestMaterialization { status runId evaluation { description } } } } } } }
"""
SENSOR = """
query Sensor($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {
  targets { pipelineName } assetSelection { assetSelectionString }
  sensorState { ticks(limit: 10) { status timestamp skipReason runIds } } } } }
"""
LATEST = """
query Latest($keys: [AssetKeyInput!]!) {
  assetNodes(assetKeys: $keys) { assetKey { path }
    assetMaterializations(limit: 1) { runId timestamp
      metadataEntries { label __typename ... on MarkdownMetadataEntry { mdStr } } } }
  assetsLatestInfo(assetKeys: $keys) { assetKey { path } latestRun { id status endTime } }
}
"""
LAUNCH = """
mutation Launch($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }
"""
RUN = "query R($id: ID!) { runOrError(runId: $id) { ... on Run { status endTime tags { key value } } } }"
FAILURES = """
query F($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events { __typename
  ... on ExecutionStepFailureEvent { stepKey error { message className }
    failureMetadata { metadataEntries { label } } } } } } }
"""
CATALOG = "{ assetsOrError { ... on AssetConnection { nodes { key { path } definition { id } } } } }"
LOCATION = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
RELOAD = """
mutation { reloadRepositoryLocation(repositoryLocationName: "sprites") { __typename
  ... on WorkspaceLocationEntry { loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } }
"""


class Session:
    """The project, its Dagster home, and the ``dagster dev`` currently serving them."""

    def __init__(self, project: Settings, home: Path):
        self.project, self.home = project, home
        self.dev: DagsterDev | None = None

    def env(self, url: str) -> dict[str, str]:
        return {
            **project_env(self.project),
            "DAGSTER_HOME": str(self.home),
            "SPRITES_AUTOMATION": "sensor",
            "SPRITES_SENSOR_INTERVAL": "2",
            "SPRITES_DAGSTER_URL": url,
        }

    def start(self) -> DagsterDev:
        from tests.dagster_dev_harness import free_port

        port = free_port()
        self.dev = DagsterDev(self.env(f"http://127.0.0.1:{port}"), self.home / "dagster-dev.log", port=port)
        try:
            self.dev.start()
        except BaseException:
            print(self.dev.log())
            self.dev.stop()
            raise
        return self.dev

    def stop(self) -> None:
        if self.dev is not None:
            self.dev.stop()

    def q(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        assert self.dev is not None
        return self.dev.graphql(query, variables)

    def nodes(self) -> dict[str, dict[str, Any]]:
        return {"/".join(n["assetKey"]["path"]): n for n in self.q(NODES)["assetNodes"]}

    def ticks(self) -> list[dict[str, Any]]:
        data = self.q(SENSOR, {"s": {**SELECTOR, "sensorName": SPEC_SENSOR_NAME}})["sensorOrError"]
        return data["sensorState"]["ticks"]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    root = tmp_path_factory.mktemp("ui")
    project = make_project(root / "game")
    home = make_dagster_home(root / "dagster_home", {"run_queue": {"dequeue_interval_seconds": 1}})
    # item 3's premise: the sprites were built from the command line, which has always skipped checks
    built = subprocess.run(
        [sys.executable, "-c", "from pipeline.faces.cli import run; run()", "build",
         "--project-dir", str(project.project_dir), "--dagster-home", str(home)],
        capture_output=True, text=True, timeout=600, env={**os.environ, **project_env(project)}, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    s = Session(project, home)
    s.start()
    try:
        yield s
    finally:
        if s.dev is not None:
            print(s.dev.log())  # shown by pytest when a test failed
        s.stop()


def first_line(node: dict[str, Any]) -> str:
    return (node["description"] or "").split("\n")[0]


def check_statuses(node: dict[str, Any]) -> dict[str, str | None]:
    checks = node["assetChecksOrError"]["checks"]
    return {c["name"]: (c["executionForLatestMaterialization"] or {}).get("status") for c in checks}


def test_checks_of_a_command_line_build_ran_and_are_not_assumed(session: Session) -> None:
    nodes = session.nodes()
    for name in ("coin", "gem", "slime"):
        # a check that did not run shows as a green "0 / N Passed" in the asset graph: every one ran
        assert check_statuses(nodes[key(name, "bevy")]) == {SPRITE_CHECK: "SUCCEEDED"}, name
    assert check_statuses(nodes[MANIFEST]) == dict.fromkeys(MANIFEST_CHECKS, "SUCCEEDED")


def test_each_stage_says_what_it_is_and_who_builds_it(session: Session) -> None:
    nodes = session.nodes()
    labels = [first_line(nodes[key("slime", stage)]) for stage in STAGES]
    assert labels[0].startswith("render: slime") and labels[1].startswith("pixel art: slime")
    assert labels[2].startswith("Bevy PNG: sprites/enemy/slime.png")
    assert first_line(nodes[MANIFEST]).startswith("manifest: ")
    # the graph's default view shows kinds under each node (not descriptions): they name the stage too
    assert [set(nodes[key("slime", stage)]["kinds"]) for stage in STAGES] == [
        {"render", "python"},
        {"pixel_art", "numpy"},
        {"bevy", "png"},
    ]
    groups = {n["groupName"] for k, n in nodes.items() if k != MANIFEST}
    assert groups == {"item", "enemy"} and nodes[MANIFEST]["groupName"] == "publish"
    for k in (key("gem", "raw"), key("gem", "bevy"), MANIFEST):  # the asset page's Automation section
        assert {"__typename": "Sensor", "name": SPEC_SENSOR_NAME} in nodes[k]["targetingInstigators"], k
    sensor = session.q(SENSOR, {"s": {**SELECTOR, "sensorName": SPEC_SENSOR_NAME}})["sensorOrError"]
    assert sensor["assetSelection"] is not None, "the sensor page would say 'Target: None'"


def graph_nodes(page: str) -> dict[str, tuple[str, bool]]:
    """The asset nodes Chromium rendered in a lineage graph: full name (the label's tooltip) -> (the label's
    text as drawn, whether the node's Automation row shows a sensor). Dagster 1.13's ``AssetNode.tsx``."""
    nodes = {}
    for chunk in page.split('class="AssetNode_assetNodeContainer')[1:]:
        found = re.search(r'class="AssetNode_assetName[^"]*".*?data-tooltip="([^"]*)"[^>]*>([^<]*)<', chunk, re.S)
        assert found, f"an asset node without a name row: {chunk[:300]}"
        nodes[html.unescape(found[1])] = (html.unescape(found[2]), 'aria-label="sensor"' in chunk)
    return nodes


def page_text(page: str) -> str:
    """The visible words of a rendered page, one space apart."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_ui_draws_each_stage_of_a_sprite_under_its_own_name(session: Session) -> None:
    # GraphQL: the graph labels a node with the last part of its key, which names sprite and stage
    nodes = session.nodes()
    labels = {n: [nodes[key(n, stage)]["assetKey"]["path"][-1] for stage in STAGES] for n in ("coin", "gem")}
    assert labels == {
        "coin": ["coin_render", "coin_pixel_art", "coin_bevy"],
        "gem": ["gem_render", "gem_pixel_art", "gem_bevy"],
    }
    assert session.dev is not None
    url = session.dev.url
    # what Chromium draws: the item group's lineage, six nodes, six names, none cut short, each built by the sensor
    drawn = graph_nodes(dump_dom(f"{url}/locations/sprites/asset-groups/item/lineage"))
    assert drawn == {label: (label, True) for label in labels["coin"] + labels["gem"]}, drawn
    # the catalog lists whole keys: a folder per sprite, then the stage
    catalog = page_text(dump_dom(f"{url}/assets"))
    for k in sorted(keys("coin", "gem", "slime")):
        assert k.replace("/", " / ") in catalog, k
    # the asset page's Automation section names the sensor (it once said "No automations found")
    page = page_text(dump_dom(f"{url}/assets/{key('gem', 'pixel')}"))
    assert f"Automation details Sensors {SPEC_SENSOR_NAME}" in page and "No automations found" not in page
    # the sensor page says what it targets (it once said "Target: None")
    sensor = page_text(dump_dom(f"{url}/locations/sprites/sensors/{SPEC_SENSOR_NAME}"))
    assert re.search(r"\bTarget (?!None)\S", sensor), sensor[:2000]


def test_the_preview_is_shown_without_a_click(session: Session, tmp_path: Path) -> None:
    data = session.q(LATEST, {"keys": [{"path": list(sprite_path("gem", "bevy"))}]})
    entries = data["assetNodes"][0]["assetMaterializations"][0]["metadataEntries"]
    preview = next(e for e in entries if e["label"] == "preview")
    # the UI renders markdown metadata in place below 1000 characters, else behind "[Show Markdown]"
    assert preview["__typename"] == "MarkdownMetadataEntry" and len(preview["mdStr"]) < 1000
    image = Image.open(io.BytesIO(base64.b64decode(preview["mdStr"].split("base64,", 1)[1].rstrip(")"))))
    assert image.size == (192, 192)  # gem is 16x16: 12x, crisp
    assert session.dev is not None
    session.q("mutation { setNuxSeen }")  # the first visit's "Join the Dagster community" dialog
    shot = screenshot(f"{session.dev.url}/assets/{key('gem', 'bevy')}", tmp_path / "gem.png")
    at = find_image(shot, image)
    if at is None:
        shutil.copy(tmp_path / "gem.png", session.home / "gem-page.png")
    assert at is not None, f"the 192 px preview is not on the asset page (screenshot: {session.home / 'gem-page.png'})"


def launch(session: Session, keys: list[list[str]]) -> str:
    params = {
        "selector": {**SELECTOR, "jobName": "__ASSET_JOB", "assetSelection": [{"path": k} for k in keys]},
        "runConfigData": {},
    }
    result = session.q(LAUNCH, {"p": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return str(result["run"]["runId"])


def test_a_failed_sprite_says_why_first_and_leaves_the_manifest_healthy(session: Session) -> None:
    shutil.rmtree(session.project.cache_dir)  # slime's render is gone: its pixel stage must refuse
    selected = [*sprite_paths("gem"), *sprite_paths("slime")[1:], MANIFEST_KEY_PATH]
    run_id = launch(session, [list(path) for path in selected])
    run = wait_for(
        "the run", lambda: (r := session.q(RUN, {"id": run_id})["runOrError"])["status"] in TERMINAL and r, 120
    )
    assert run["status"] == "FAILURE"
    events = session.q(FAILURES, {"id": run_id})["logsForRun"]["events"]
    (failure,) = [e for e in events if e["__typename"] == "ExecutionStepFailureEvent"]
    # the run log's error header is our sentence, not Dagster's wrapper above a stack trace
    message = failure["error"]["message"]
    assert "Error occurred while executing" not in message
    assert "slime (sprite_specs/slime.yaml:1): GenerationError: slime: slime/slime_render has no stored" in message
    assert {m["label"] for m in failure["failureMetadata"]["metadataEntries"]} >= {"sprite", "spec_file"}

    # manifest.json is fine (gem republished, slime untouched): the manifest must not show as failed
    def recorded() -> dict[str, Any] | None:
        data = session.q(LATEST, {"keys": [{"path": list(MANIFEST_KEY_PATH)}]})
        mat = data["assetNodes"][0]["assetMaterializations"][0]
        return data if float(mat["timestamp"]) > float(run["endTime"]) * 1000 else None

    data = wait_for("the failure sensor to record the manifest", recorded, 90)
    assert data["assetsLatestInfo"][0]["latestRun"]["id"] == run_id  # what the UI would otherwise show red
    assert check_statuses(session.nodes()[MANIFEST]) == dict.fromkeys(MANIFEST_CHECKS, "SUCCEEDED")


def location(session: Session) -> dict[str, Any]:
    (entry,) = session.q(LOCATION)["workspaceOrError"]["locationEntries"]
    return entry


def invalid_coin_shown(session: Session) -> bool:
    nodes = session.nodes()
    if "spec/items_yaml" not in nodes:
        return False
    assert not keys("coin") & set(nodes)
    assert keys("gem", "slime") | {MANIFEST} <= set(nodes), "one typo must not hide the others"
    line = first_line(nodes["spec/items_yaml"])
    assert line.startswith("INVALID spec items.yaml:10: sprite 'coin': field 'palete': unknown field 'palete'")
    status = check_statuses(nodes["spec/items_yaml"])
    return status == {"valid": "FAILED"}


def test_a_typo_keeps_the_others_and_shows_the_bad_file_failing(session: Session) -> None:
    items = session.project.specs_dir / "items.yaml"
    text = items.read_text()
    assert TYPO in text
    items.write_text(text.replace(TYPO, "    palete: nes\n"))
    # the sensor has the location reloaded; it loads, with the bad file as a failing item
    wait_for("the invalid spec to show as a failing item", lambda: invalid_coin_shown(session), 90)
    assert location(session)["locationOrLoadError"]["__typename"] == "RepositoryLocation"

    def skipped_with_reason() -> str | None:
        reasons = [t["skipReason"] or "" for t in session.ticks() if t["status"] == "SKIPPED"]
        return reasons[0] if reasons and reasons[0].startswith("INVALID SPECS") else None

    reason = wait_for("a sensor tick that names the problem", skipped_with_reason, 60)
    assert "items.yaml:10: sprite 'coin': field 'palete'" in reason
    # the UI's own "Reload definitions" button
    reloaded = session.q(RELOAD)["reloadRepositoryLocation"]
    assert reloaded["locationOrLoadError"]["__typename"] == "RepositoryLocation", reloaded
    assert invalid_coin_shown(session)


def test_a_restart_with_the_typo_still_loads(session: Session) -> None:
    session.stop()
    session.start()  # raises, with the log, when the code location does not load
    assert invalid_coin_shown(session)


def test_the_fix_brings_everything_back(session: Session) -> None:
    items = session.project.specs_dir / "items.yaml"
    items.write_text(items.read_text().replace("    palete: nes\n", TYPO))

    def whole() -> bool:
        nodes = session.nodes()
        return key("coin", "bevy") in nodes and not any(k.startswith("spec/") for k in nodes)

    wait_for("the fixed spec to be loaded again", whole, 90)
    catalog = session.q(CATALOG)["assetsOrError"]["nodes"]
    assert not [n for n in catalog if n["key"]["path"][0] == "spec"], "a fixed spec's item leaves the catalog"


def test_a_deleted_spec_leaves_the_catalog(session: Session) -> None:
    slime_png = session.project.assets_dir / "sprites/enemy/slime.png"
    assert slime_png.is_file()
    (session.project.specs_dir / "slime.yaml").unlink()

    def gone() -> bool:
        listed = {"/".join(n["key"]["path"]) for n in session.q(CATALOG)["assetsOrError"]["nodes"]}
        return not slime_png.exists() and not keys("slime") & listed

    wait_for("slime's files and assets to go (sensor: reload, then the manifest run)", gone, 120)
    assert keys("gem", "coin") | {MANIFEST} <= set(session.nodes())
