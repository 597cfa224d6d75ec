"""Crash consistency: kill -9 a build at many points; the Bevy folder stays consistent and the next build
repairs whatever was left stale."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, assert_bevy_folder_consistent, make_project, sprites_cmd

pytestmark = pytest.mark.slow

N_SPRITES = 30
KILL_AFTER = [0.8, 1.2, 1.6, 2.0, 2.4, 2.8, 3.2, 3.6, 4.2, 5.0]


def _specs(palette: str) -> dict[str, str]:
    return {
        f"gen/s{i:02d}.yaml": f"name: s{i:02d}\ncategory: item\nprompt: crash test sprite {i}\nsize: 16x16\n"
        f"seed: {i}\npalette: {palette}\n"
        for i in range(N_SPRITES)
    }


def test_kill_9_at_many_points_loses_nothing(tmp_path: Path, dagster_home: Path) -> None:
    settings = make_project(tmp_path / "p", _specs("pico-8"), copy_samples=False)
    cmd = sprites_cmd(settings, "build")
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    palettes = ["db16", "nes", "db32", "endesga-32"]
    killed = 0
    for i, delay in enumerate(KILL_AFTER):
        # each round changes every sprite, so each build really rewrites files
        for rel, text in _specs(palettes[i % len(palettes)]).items():
            (settings.specs_dir / rel).write_text(text)
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(60)
        assert_bevy_folder_consistent(settings)
    assert killed >= len(KILL_AFTER) // 2, "the build finished before most kill points: make it longer"
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert_bevy_folder_consistent(settings)
    check = subprocess.run(
        sprites_cmd(settings, "check", "--locked"), cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stdout + check.stderr
    manifest = json.loads((settings.assets_dir / "sprites/manifest.json").read_text())
    assert manifest["sprite_count"] == N_SPRITES
