"""Shared fixtures: throwaway projects (copies of the sample specs) and a throwaway Dagster instance."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.settings import Settings

REPO = Path(__file__).resolve().parent.parent


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
