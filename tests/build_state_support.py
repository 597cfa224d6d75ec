"""A committed sample project (git), its clones, and what "nothing else moved" means, for the build-state tests.

The origin is built once and committed like a team's repository: specs, ``sprites.lock`` and the Bevy
folder. Each test clones it (so ``.sprites/`` and the Dagster instance are absent, as on a new machine),
puts the clone in a starting state, builds one edited sprite some way, and compares every other
sprite's bytes with the committed ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.faces.mcp.specfiles import render_spec
from pipeline.settings import Settings
from tests.conftest import REPO, sprites_cmd

TARGET = "hero"
OTHERS = ["coin", "gem", "slime"]
NEW_PROMPT = "a brave hero with a red cape"

SPECS = {
    "items.yaml": "defaults:\n  category: item\n  size: 16x16\nsprites:\n"
    "  - name: gem\n    prompt: blue crystal gem\n  - name: coin\n    prompt: golden coin\n    palette: nes\n",
    "slime.yaml": "name: slime\ncategory: enemy\nprompt: green slime\nsize: 16x16\nanimation:\n  frames: 2\n",
}
HERO = {"name": TARGET, "category": "character", "prompt": "a brave hero", "size": "16x16"}


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return out.stdout


def sprites(settings: Settings, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    """`sprites ARGS` in a subprocess against ``settings``' project (its own dagster_home)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SPRITES_", "DAGSTER_HOME"))}
    full_env.update({"DAGSTER_HOME": str(settings.dagster_home), "PYTHONPATH": str(REPO), **(env or {})})
    out = subprocess.run(
        sprites_cmd(settings, *args), cwd=REPO, env=full_env, capture_output=True, text=True, timeout=600
    )
    if check and out.returncode != 0:
        raise AssertionError(f"sprites {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out.stdout + out.stderr


def make_origin(root: Path) -> Settings:
    """Build the sample project once and commit everything a team commits."""
    specs = root / "sprite_specs"
    (specs / "mcp").mkdir(parents=True)
    shutil.copy(REPO / "sprite_specs" / "_defaults.yaml", specs / "_defaults.yaml")
    for rel, text in SPECS.items():
        (specs / rel).write_text(text)
    (specs / "mcp" / f"{TARGET}.yaml").write_bytes(render_spec(HERO))
    (root / "comfy_workflows").mkdir()
    (root / "dagster_home").mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    settings = Settings.for_project(root)
    sprites(settings, "build")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "sprites")
    return settings


def clone(origin: Settings, dest: Path) -> Settings:
    subprocess.run(["git", "clone", "-q", str(origin.project_dir), str(dest)], check=True)
    return Settings.for_project(dest)


def edit_target(settings: Settings) -> None:
    path = settings.specs_dir / "mcp" / f"{TARGET}.yaml"
    path.write_bytes(render_spec({**HERO, "prompt": NEW_PROMPT}))


def _ron_entries(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith('    "'):
            key = line.split('"')[1].removesuffix(".layout")
            out.setdefault(key, []).append(line)
    return out


def published_view(settings: Settings, name: str) -> dict[str, Any]:
    """Everything the project publishes about one sprite, as bytes or parsed entries."""
    assets = settings.assets_dir
    manifest = json.loads((assets / "sprites/manifest.json").read_text())
    entry = next((e for e in manifest["sprites"] if e["name"] == name), None)
    lock = json.loads((settings.project_dir / "sprites.lock").read_text())
    path = entry["path"] if entry else f"sprites/missing/{name}.png"
    ron = _ron_entries((assets / "sprites/sprites.assets.ron").read_text())
    return {
        "png": (assets / path).read_bytes() if (assets / path).exists() else None,
        "meta": (assets / (path + ".meta")).read_bytes() if (assets / (path + ".meta")).exists() else None,
        "manifest": entry,
        "ron": ron.get(name),
        "lock": lock["sprites"].get(name),
    }


def assert_only_target_moved(origin: Settings, settings: Settings) -> None:
    for name in OTHERS:
        assert published_view(settings, name) == published_view(origin, name), f"{name} moved"
    mine = published_view(settings, TARGET)
    assert mine["lock"] is not None and mine["lock"]["entry"]["prompt"] == NEW_PROMPT, mine["lock"]
    assert mine["manifest"] == mine["lock"]["entry"]
    manifest = json.loads((settings.assets_dir / "sprites/manifest.json").read_text())
    assert manifest["sprite_count"] == len(OTHERS) + 1


def cli(settings: Settings, *args: str) -> str:
    """`sprites ARGS` in this process (click's runner), against ``settings``' project and Dagster home."""
    from click.testing import CliRunner

    from pipeline.faces.cli import main

    saved = os.environ.get("DAGSTER_HOME")
    try:
        env = {"DAGSTER_HOME": str(settings.dagster_home)}
        result = CliRunner().invoke(main, [*args, "--project-dir", str(settings.project_dir)], env=env)
    finally:
        if saved is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = saved
    assert result.exit_code == 0, f"sprites {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result.output


_FROM_SCRATCH: dict[str, bytes] = {}


def from_scratch_lock(settings: Settings, scratch: Path) -> bytes:
    """The lock an offline build of the project's specs writes from nothing (no lock, Bevy folder, cache or
    instance). A function of the spec files only, so computed once per distinct set of specs."""
    files = sorted(p for p in settings.specs_dir.rglob("*") if p.is_file())
    key = repr(
        [(p.relative_to(settings.specs_dir).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest()) for p in files]
    )
    if key not in _FROM_SCRATCH:
        fresh = scratch / "from-scratch"
        shutil.copytree(settings.specs_dir, fresh / "sprite_specs")
        (fresh / "comfy_workflows").mkdir()
        (fresh / "dagster_home").mkdir()
        shutil.copy(REPO / "dagster_home" / "dagster.yaml", fresh / "dagster_home")
        cli(Settings.for_project(fresh), "build", "--offline")
        _FROM_SCRATCH[key] = (fresh / "sprites.lock").read_bytes()
    return _FROM_SCRATCH[key]


def assert_everything_agrees(settings: Settings, scratch: Path) -> None:
    """`sprites list`, `check --locked` and a from-scratch offline build all agree with the lock."""
    rows = json.loads(cli(settings, "list", "--json"))
    assert {r["name"]: r["status"] for r in rows} == dict.fromkeys([*OTHERS, TARGET], "up to date"), rows
    assert "match sprites.lock" in cli(settings, "check", "--locked")
    assert from_scratch_lock(settings, scratch) == (settings.project_dir / "sprites.lock").read_bytes()


def publish_held(settings: Settings) -> contextlib.AbstractContextManager[None]:
    """Hold the publish lock, as a build that is publishing would."""
    from pipeline.state.publish import publish_lock

    return publish_lock(settings)


def pending_runs(settings: Settings) -> int:
    """Runs that exported sprites and wait to publish them."""
    runs = settings.state_dir / "runs"
    return sum(1 for r in runs.iterdir() if any(r.glob("*.json"))) if runs.is_dir() else 0


def wait_until(what: str, predicate: Callable[[], bool], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)
