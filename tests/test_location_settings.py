"""An invalid setting when the code location loads (a typo in an environment variable under ``dagster dev``):
the location still loads, holding one failing item, ``settings/invalid``, whose description names the
variable, its flag, the value and what to do; stderr gets the same message once, with no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.defs.asset_keys import SETTINGS_PROBLEM_KEY_PATH
from pipeline.defs.location import SETTINGS_ERRORS_GROUP
from pipeline.settings import Settings
from tests.automation_project import make_project, project_env
from tests.conftest import REPO
from tests.dagster_dev_harness import dagster_dev, make_dagster_home

LIST_KEYS = (
    "from pipeline.definitions import defs\n"
    "graph = defs.resolve_asset_graph()\n"
    "for key in sorted(graph.get_all_asset_keys()):\n"
    "    node = graph.get(key)\n"
    "    print(key.to_user_string(), '|', node.group_name, '|', (node.description or '').splitlines()[0])\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Settings:
    return make_project(tmp_path / "game")


def _load(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LIST_KEYS], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_bad_variable_loads_one_item_that_names_it(project: Settings) -> None:
    import os

    env = {**os.environ, **project_env(project), "SPRITES_BACKEND": "comfyui-typo"}
    done = _load(env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, lines  # no sprite: its folders and backend come from the broken settings
    key, group, first_line = (part.strip() for part in lines[0].split("|"))
    assert key == "/".join(SETTINGS_PROBLEM_KEY_PATH)
    assert group == SETTINGS_ERRORS_GROUP
    assert "SPRITES_BACKEND (--backend)" in first_line and "comfyui-typo" in first_line
    assert "Traceback" not in done.stderr
    assert done.stderr.count("SPRITES_BACKEND") == 1


def test_good_settings_load_the_sprites_and_no_settings_item(project: Settings) -> None:
    import os

    done = _load({**os.environ, **project_env(project)})
    assert done.returncode == 0, done.stderr
    keys = [line.split("|")[0].strip() for line in done.stdout.splitlines()]
    assert "bevy/manifest" in keys and "/".join(SETTINGS_PROBLEM_KEY_PATH) not in keys
    assert done.stderr.count("invalid setting") == 0


ASSET = """
query Asset($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
  __typename ... on AssetNode { description groupName } } }
"""


@pytest.mark.slow
def test_dagster_dev_with_a_bad_variable_shows_the_item_not_a_load_error(project: Settings, tmp_path: Path) -> None:
    """The real ``dagster dev``: the location is LOADED (the harness raises on a load error) and the UI's
    item tells which variable to fix."""
    home = make_dagster_home(tmp_path / "dagster_home")

    def env(url: str) -> dict[str, str]:
        return {
            **project_env(project),
            "DAGSTER_HOME": str(home),
            "SPRITES_DAGSTER_URL": url,
            "SPRITES_SCHEDULE_CRON": "every night",
        }

    with dagster_dev(env, home / "dagster-dev.log") as dev:
        node = dev.graphql(ASSET, {"key": {"path": list(SETTINGS_PROBLEM_KEY_PATH)}})["assetNodeOrError"]
        log = dev.log()
    assert node["__typename"] == "AssetNode", node
    assert node["groupName"] == SETTINGS_ERRORS_GROUP
    assert "SPRITES_SCHEDULE_CRON" in node["description"] and "'every night'" in node["description"]
    assert "restart `dagster dev`" in node["description"]
    assert "SPRITES_SCHEDULE_CRON" in log and "Traceback" not in log
