"""What users found wrong with the build state, each as a test (issue 12): inputs outside the spec folder,
edits during a build, deleted or foreign files, misplaced cache entries, file modes."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from pipeline.settings import Settings
from pipeline.state.cache import ContentCache
from pipeline.state.lockfile import LOCK_FILE
from tests.build_state_support import cli
from tests.conftest import REPO, make_project, sprites_cmd

GOBLIN = "name: goblin\ncategory: enemy\nprompt: a green goblin\nsize: 16x16\nseed: 3\n"
ORC = "name: orc\ncategory: enemy\nprompt: a grey orc\nsize: 16x16\nseed: 4\n"
PICTURE = (
    "name: hero\ncategory: character\nprompt: a hero\nsize: 16x16\n"
    "generation: {backend: image, init_image: art/hero.png}\n"
)


def _fake_render(colour: tuple[int, int, int]) -> bytes:
    """A 16x16 sprite drawn at 8x: a square of ``colour`` on a white ground, with a dark 4-cell block."""
    small = Image.new("RGB", (16, 16), (255, 255, 255))
    for x in range(3, 13):
        for y in range(3, 13):
            small.putpixel((x, y), colour)
    for x in range(5, 9):
        for y in range(5, 9):
            small.putpixel((x, y), (20, 20, 20))
    buf = io.BytesIO()
    small.resize((128, 128), Image.NEAREST).save(buf, format="PNG")
    return buf.getvalue()


def _status(settings: Settings) -> dict[str, str]:
    return {r["name"]: r["status"] for r in json.loads(cli(settings, "list", "--json"))}


def _check_locked(settings: Settings) -> tuple[int, str]:
    from click.testing import CliRunner

    from pipeline.faces.cli import main

    result = CliRunner().invoke(main, ["check", "--locked", "--project-dir", str(settings.project_dir)])
    return result.exit_code, result.output


@pytest.fixture
def two(tmp_path: Path, dagster_home: Path) -> Settings:
    settings = make_project(tmp_path / "p", {"goblin.yaml": GOBLIN, "orc.yaml": ORC}, copy_samples=False)
    return Settings.for_project(settings.project_dir, dagster_home=str(dagster_home))


def test_an_edited_init_image_is_rebuilt_and_every_command_agrees(two: Settings) -> None:
    art = two.project_dir / "art"
    art.mkdir()
    (art / "hero.png").write_bytes(_fake_render((200, 40, 40)))
    (two.specs_dir / "hero.yaml").write_text(PICTURE)
    assert "3 built" in cli(two, "build")
    assert "0 built, 3 up to date" in cli(two, "build")  # records the fast path
    red = (two.assets_dir / "sprites/character/hero.png").read_bytes()

    (art / "hero.png").write_bytes(_fake_render((40, 40, 200)))  # same size, other colour
    assert _status(two)["hero"] == "stale"
    code, out = _check_locked(two)
    assert code == 1 and "hero: stale: generation inputs changed: image_sha256" in out, out
    out = cli(two, "build")
    assert "1 built, 2 up to date" in out, out  # not the fast path's "0 built"
    assert (two.assets_dir / "sprites/character/hero.png").read_bytes() != red
    assert _status(two) == dict.fromkeys(["goblin", "hero", "orc"], "up to date")
    assert _check_locked(two)[0] == 0


@pytest.mark.parametrize("edited", ["goblin", "orc"])
def test_an_edit_made_while_a_build_runs_is_built_next_time(
    two: Settings, monkeypatch: pytest.MonkeyPatch, edited: str
) -> None:
    """The edit lands after the build read the specs (a deterministic hook, not a race): the sprite being
    built (goblin) or one that is not (orc)."""
    assert "2 built" in cli(two, "build")
    (two.specs_dir / "goblin.yaml").write_text(GOBLIN.replace("green", "blue"))  # goblin must rebuild

    import pipeline.defs.launch

    real = pipeline.defs.launch.run_sprites

    def edit_then_run(*args: object, **kwargs: object) -> object:
        path = two.specs_dir / f"{edited}.yaml"
        path.write_text(path.read_text().replace("prompt: a ", "prompt: a huge "))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline.defs.launch, "run_sprites", edit_then_run)
    assert "1 built" in cli(two, "build")
    monkeypatch.setattr(pipeline.defs.launch, "run_sprites", real)
    assert _status(two)[edited] == "stale"
    out = cli(two, "build")
    assert "1 built, 1 up to date" in out, out
    assert _check_locked(two)[0] == 0


def test_a_deleted_meta_file_fails_check_locked_and_is_restored(two: Settings) -> None:
    cli(two, "build")
    meta = two.assets_dir / "sprites/enemy/orc.png.meta"
    meta.unlink()
    code, out = _check_locked(two)
    assert code == 1 and "orc: stale: sprites/enemy/orc.png.meta is missing or modified" in out, out
    assert _status(two)["orc"] == "stale"
    assert "1 built, 1 up to date" in cli(two, "build")
    assert meta.is_file() and _check_locked(two)[0] == 0


def test_a_cache_entry_copied_over_another_is_never_used(two: Settings) -> None:
    cli(two, "build")
    lock = json.loads((two.project_dir / LOCK_FILE).read_text())["sprites"]
    goblin_key, orc_key = lock["goblin"]["keys"]["generate"], lock["orc"]["keys"]["generate"]
    orc_png = (two.assets_dir / "sprites/enemy/orc.png").read_bytes()
    root = two.cache_dir / "generate"
    shutil.rmtree(root / orc_key[:2] / orc_key)
    shutil.copytree(root / goblin_key[:2] / goblin_key, root / orc_key[:2] / orc_key)  # a sync accident
    for stage in ("pixelate",):  # and no later stage's entry can hide it
        shutil.rmtree(two.cache_dir / stage)

    cache = ContentCache(two.cache_dir)
    assert cache.get("generate", orc_key) is None
    assert cache.corrupt and "belongs to generate/" + goblin_key in cache.corrupt[0][2]

    (two.assets_dir / "sprites/enemy/orc.png").unlink()
    out = cli(two, "build")
    assert "1 built" in out and "orc" in out
    assert (two.assets_dir / "sprites/enemy/orc.png").read_bytes() == orc_png  # orc, not goblin
    assert _check_locked(two)[0] == 0


@pytest.mark.slow
@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o002, 0o664, 0o775)])
def test_written_files_follow_the_umask(two: Settings, umask: int, file_mode: int, dir_mode: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPRITES_")}
    env.update(DAGSTER_HOME=str(two.dagster_home), PYTHONPATH=str(REPO))
    out = subprocess.run(
        sprites_cmd(two, "build"),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(umask),
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    written = [two.project_dir / LOCK_FILE, *two.assets_dir.rglob("*"), *two.cache_dir.rglob("*")]
    written = [p for p in written if ".claims" not in p.parts]
    assert len(written) > 10
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (dir_mode if path.is_dir() else file_mode), f"{path}: {oct(mode)}"


def test_an_output_that_moves_leaves_no_file_behind(two: Settings) -> None:
    cli(two, "build")
    old = two.assets_dir / "sprites/enemy/orc.png"
    assert old.is_file()
    (two.specs_dir / "orc.yaml").write_text(ORC + "output: {path: monsters/orc.png}\n")
    assert "1 built, 1 up to date" in cli(two, "build")
    assert not old.exists() and not old.with_name("orc.png.meta").exists()
    assert (two.assets_dir / "monsters/orc.png").is_file() and _check_locked(two)[0] == 0


@pytest.mark.parametrize("status", ["built", "skipped", "canceled", "anything new"])
def test_every_sprite_status_prints_in_the_summary(status: str) -> None:
    """A status without a colour (a sprite whose step never ran is "skipped") must not break rich's markup."""
    from rich.console import Console

    from pipeline.defs.launch import RunOutcome, SpriteOutcome
    from pipeline.faces.cli.commands import _print_summary

    console = Console(record=True, width=200)
    outcome = RunOutcome("run", False, {"goblin": SpriteOutcome("goblin", status=status)})
    _print_summary(console, outcome, [], [])
    assert status in console.export_text()
