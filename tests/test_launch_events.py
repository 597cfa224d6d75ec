"""``run_sprites`` reads every event of its run, however many arrive after its last look."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.defs import launch
from pipeline.defs.instance import open_instance
from tests.conftest import make_project

pytestmark = pytest.mark.slow


def test_a_run_that_ends_between_two_looks_still_reports_every_sprite(
    tmp_path: Path, dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = {
        f"item/gem{i:02}.yaml": f"name: gem{i:02}\ncategory: item\nprompt: a gem\nsize: 16x16\nseed: {i}\n"
        for i in range(70)
    }
    settings = make_project(tmp_path / "p", specs, copy_samples=False)

    def follow_nothing(worker: Any, *_: Any) -> None:
        worker.join()  # the run ends before the first look: the one read after it must get every event

    monkeypatch.setattr(launch, "_wait_for_run", follow_nothing)
    outcome = launch.run_sprites(settings, sorted(n.removeprefix("item/").removesuffix(".yaml") for n in specs))
    events = open_instance(settings).get_records_for_run(outcome.run_id, limit=5000).records
    assert len(events) > 1000  # more than one read returns
    assert outcome.success
    assert {o.status for o in outcome.sprites.values()} == {"built"}
    assert all(o.path for o in outcome.sprites.values())
