"""The UI shows every candidate as a preview on the raw asset, asked of a real ``dagster dev`` through GraphQL:
after a command-line build (no pick yet), after a pick from the command line (rebuilt by the spec sensor),
and after a pick over MCP (built through that webserver, which must build the edited spec)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from fastmcp import Client
from PIL import Image

from pipeline.core.previews import INLINE_MARKDOWN_LIMIT
from pipeline.core.specs import load_specs
from pipeline.defs.asset_keys import sprite_keys
from pipeline.settings import Settings
from pipeline.state.cache import ContentCache
from pipeline.state.candidates import candidate_set
from tests.automation_project import make_project, project_env
from tests.dagster_dev_harness import dagster_dev, latest_metadata, make_dagster_home, markdown_image, wait_for
from tests.mcp_support import mcp_server

pytestmark = pytest.mark.slow

GOBLIN = "name: goblin\ncategory: enemy\nsize: 16x16\nseed: 90\nprompt: green goblin\ncandidates: 3\n"


def test_every_candidate_is_a_preview_on_the_raw_asset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path / "game")
    (project.specs_dir / "goblin.yaml").write_text(GOBLIN)
    home = make_dagster_home(tmp_path / "dagster_home", {"run_queue": {"dequeue_interval_seconds": 1}})
    env = {**os.environ, **project_env(project)}
    cli = [sys.executable, "-c", "from pipeline.faces.cli import main; main()"]
    where = ["--project-dir", str(project.project_dir), "--dagster-home", str(home)]
    built = subprocess.run([*cli, "build", *where], capture_output=True, text=True, timeout=600, env=env, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    cands = candidate_set(project, load_specs(project.specs_dir), "goblin", ContentCache(project.cache_dir))
    raw_key = list(sprite_keys("goblin")[0].path)

    def dev_env(url: str) -> dict[str, str]:
        return {**project_env(project), "DAGSTER_HOME": str(home), "SPRITES_AUTOMATION": "sensor",
                "SPRITES_SENSOR_INTERVAL": "2", "SPRITES_DAGSTER_URL": url}  # fmt: skip

    with dagster_dev(dev_env, home / "dagster-dev.log") as dev:
        entries = latest_metadata(dev, raw_key)
        for c in cands.candidates:
            entry = entries[f"candidate_{c.index}"]
            # shown inline (the UI hides longer markdown behind a link), as a picture of that candidate's render
            assert entry["__typename"] == "MarkdownMetadataEntry" and len(entry["mdStr"]) < INLINE_MARKDOWN_LIMIT
            alt, png = markdown_image(entry["mdStr"])
            assert alt == f"goblin candidate {c.index} (seed {90 + c.index})" + (", published" if c.index == 0 else "")
            assert c.pixel_png is not None
            with Image.open(io.BytesIO(png)) as shown, Image.open(io.BytesIO(c.pixel_png)) as pixel:
                # the pixel art the candidate becomes (what would ship), scaled up crisply to 192 px
                assert pixel.size == (16, 16) and shown.size == (192, 192)
                small = shown.convert("RGBA").resize((16, 16), Image.Resampling.NEAREST)
                assert small.tobytes() == pixel.convert("RGBA").tobytes()
        assert "no pick yet among 3" in entries["candidates"]["mdStr"]

        # a pick is a spec edit: the spec sensor rebuilds the sprite, and the raw asset shows the pick
        picked = subprocess.run([*cli, "pick", "goblin", "2", *where], capture_output=True, text=True, timeout=120,
                                env=env, check=False)  # fmt: skip
        assert picked.returncode == 0, picked.stdout + picked.stderr

        def shows_pick() -> dict[str, dict[str, str]] | None:
            now = latest_metadata(dev, raw_key)
            return now if "picked: candidate 2 (seed 92)" in now.get("candidates", {}).get("mdStr", "") else None

        entries = wait_for("the raw asset's metadata to show the pick", shows_pick, timeout=180)
        alt, _png = markdown_image(entries["candidate_2"]["mdStr"])
        assert alt == "goblin candidate 2 (seed 92), picked and published"
        assert markdown_image(entries["candidate_0"]["mdStr"])[0] == "goblin candidate 0 (seed 90)"

        # over MCP, through this webserver (its run queue): the location is reloaded, so the run builds the pick
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        app = mcp_server(Settings.for_project(project.project_dir, dagster_home=home), dagster_url=dev.url)

        async def pick_over_mcp() -> dict[str, object]:
            async with Client(app) as client:
                result = await client.call_tool("pick_candidate", {"name": "goblin", "index": 1, "wait_seconds": 300})
            return result.structured_content  # type: ignore[no-any-return]

        made = anyio.run(pick_over_mcp)
        assert made["launched_via"] == "webserver" and made["status"] == "built", made
        assert made["seed"] == 91 and made["cache"]["raw"] == "hit", made
        entries = latest_metadata(dev, raw_key)
        assert "picked: candidate 1 (seed 91)" in entries["candidates"]["mdStr"]
