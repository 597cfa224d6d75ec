"""The ``sprites`` console script (``pipeline.faces.cli.run``): its exit skips the heap teardown, and must lose
nothing a normal exit does: the exit status, atexit handlers, buffered output through a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_project


def _sprites(project: Path, marker: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import atexit, pathlib\n"
        f"atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text('ran'))\n"
        # what a library prints at exit sits in the pipe's buffer when os._exit comes
        "atexit.register(lambda: print('said at exit', end=''))\n"
        "from pipeline.faces.cli import run\n"
        "run()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args, "--project-dir", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},  # a pipe is block-buffered
    )


def test_a_user_error_keeps_its_exit_status_its_message_and_the_atexit_handlers(tmp_path: Path) -> None:
    settings = make_project(tmp_path / "p", {"enemy/typo.yaml": "name: typo\ncategory: enemy\npalete: db16\n"})
    out = _sprites(settings.project_dir, tmp_path / "atexit", "check")
    assert out.returncode == 2, out.stderr
    assert "enemy/typo.yaml" in out.stdout + out.stderr and "palete" in out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert (tmp_path / "atexit").read_text() == "ran"


def test_long_output_through_a_pipe_arrives_whole(tmp_path: Path) -> None:
    specs = {f"item/coin{i:03}.yaml": f"name: coin{i:03}\ncategory: item\nprompt: a gold coin\n" for i in range(150)}
    settings = make_project(tmp_path / "p", specs)
    out = _sprites(settings.project_dir, tmp_path / "atexit", "list")
    assert out.returncode == 0, out.stderr
    names = [f"coin{i:03}" for i in range(150)]
    assert all(n in out.stdout for n in names)
    assert out.stdout.endswith("said at exit")
    assert (tmp_path / "atexit").read_text() == "ran"
