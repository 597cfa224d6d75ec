"""Shared fixtures: throwaway projects (copies of the sample specs) and a throwaway Dagster instance."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from pipeline.settings import Settings

REPO = Path(__file__).resolve().parent.parent

#: the ComfyUI test server and backend fixtures (``server``, ``make_backend``) for the tests that ask for them
pytest_plugins = ["tests.comfyui_server.fixtures"]


def make_project(root: Path, specs: dict[str, str] | None = None, copy_samples: bool = True) -> Settings:
    """A project folder under ``root``: the sample specs (or ``specs``: relative path -> YAML text)."""
    specs_dir = root / "sprite_specs"
    if copy_samples:
        shutil.copytree(REPO / "sprite_specs", specs_dir)
    else:
        specs_dir.mkdir(parents=True)
        shutil.copy(REPO / "sprite_specs" / "_defaults.yaml", specs_dir / "_defaults.yaml")
    for rel, text in (specs or {}).items():
        target = specs_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if (REPO / "comfy_workflows").is_dir():
        shutil.copytree(REPO / "comfy_workflows", root / "comfy_workflows", dirs_exist_ok=True)
    return Settings.for_project(root)


def sprites_cmd(settings: Settings, *args: str) -> list[str]:
    """The `sprites` command line for a subprocess (this checkout's code, whatever is installed)."""
    return [
        sys.executable,
        "-c",
        "from pipeline.faces.cli import run; run()",
        *args,
        "--project-dir",
        str(settings.project_dir),
    ]


def assert_bevy_folder_consistent(settings: Settings) -> int:
    """Every PNG decodes, no scratch file is left, every manifest entry matches its file's bytes.

    Returns the number of manifest entries."""
    from PIL import Image

    assets = settings.assets_dir
    for png in assets.rglob("*.png"):
        with Image.open(png) as image:
            image.load()
    assert [p for p in assets.rglob("*") if p.name.endswith(".tmp")] == []
    manifest = assets / "sprites/manifest.json"
    if not manifest.exists():
        return 0
    entries = json.loads(manifest.read_text())["sprites"]
    for entry in entries:
        assert hashlib.sha256((assets / entry["path"]).read_bytes()).hexdigest() == entry["sha256"], entry["name"]
    return len(entries)


@pytest.fixture
def project(tmp_path: Path) -> Settings:
    return make_project(tmp_path / "project")


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home
