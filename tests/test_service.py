"""The build service: its run lifecycle, its selection, the faces that use it, and cancellation through
Dagster's own termination record (a run started by one service or process, stopped by another)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from fastmcp import Client

from pipeline.core.specs import load_specs
from pipeline.errors import GenerationCancelled
from pipeline.faces.cli import main
from pipeline.service import BuildService, NoSuchSprite, RunState, UnknownCategory
from pipeline.service.runs import advance
from pipeline.settings import Settings
from tests.conftest import make_project
from tests.mcp_support import mcp_server

Q, R, D, C, E = RunState.QUEUED, RunState.RUNNING, RunState.DONE, RunState.CANCELED, RunState.ERROR


@pytest.mark.parametrize(
    ("current", "new", "result"),
    [
        (Q, R, R),
        (Q, C, C),
        (Q, E, E),
        (R, D, D),
        (R, C, C),
        (R, E, E),
        (R, R, R),
        (D, R, D),  # a final state never changes
        (C, D, C),
        (E, C, E),
        (R, Q, ValueError),
        (Q, D, ValueError),  # a run is done only after it ran
    ],
)
def test_run_lifecycle(current: RunState, new: RunState, result: RunState | type[Exception]) -> None:
    if isinstance(result, RunState):
        assert advance(current, new) == result
    else:
        with pytest.raises(result):
            advance(current, new)


def test_selection(project: Settings) -> None:
    service = BuildService(project, dagster_url="off")
    spec_set = service.load()
    assert service.select(spec_set, ["gob*", "goblin"]) == ["goblin"]
    assert service.select(spec_set, [], "enemy") == [n for n, s in spec_set.specs.items() if s.spec.category == "enemy"]
    assert service.select(spec_set, []) == list(spec_set.specs)
    with pytest.raises(NoSuchSprite, match="did you mean goblin") as err:
        service.select(spec_set, ["goblim"])
    assert err.value.near[0] == "goblin"
    with pytest.raises(UnknownCategory, match="unknown category 'monster'"):
        service.select(spec_set, [], "monster")


@pytest.mark.slow
def test_the_cli_and_the_mcp_server_build_through_the_same_service(
    project: Settings, dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned: list[tuple[str, ...]] = []
    real = BuildService.plan

    def recording_plan(self: BuildService, spec_set, names=None, **kwargs):  # type: ignore[no-untyped-def]
        planned.append(tuple(names or ()))
        return real(self, spec_set, names, **kwargs)

    monkeypatch.setattr(BuildService, "plan", recording_plan)
    result = CliRunner().invoke(main, ["build", "slime", "--project-dir", str(project.project_dir)])
    assert result.exit_code == 0 and "1 built" in result.output, result.output

    async def materialize() -> dict[str, object]:
        async with Client(mcp_server(project, dagster_home=dagster_home)) as client:
            return dict((await client.call_tool("materialize", {"sprites": ["goblin", "slime"]})).structured_content)

    made = anyio.run(materialize)
    assert made["status"] == "success" and made["up_to_date"] == ["slime"], made
    assert ("slime",) in planned and ("goblin", "slime") in planned


@pytest.mark.slow
def test_a_run_is_cancelled_through_dagster_by_a_service_that_did_not_start_it(
    tmp_path: Path, dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Service A (say, one MCP server) runs a build; service B (another server, the same instance) cancels it by
    its Dagster run id: B records CANCELING on the run, A's step sees it and the backend gets the cancel event."""
    from pipeline.core.generate.procedural import ProceduralBackend

    settings = make_project(
        tmp_path / "game", {"a.yaml": "name: ant\ncategory: enemy\nprompt: ant\n"}, copy_samples=False
    ).model_copy(update={"dagster_home": dagster_home})
    entered, cancelled = threading.Event(), threading.Event()

    def endless(self, request, progress=None, cancel=None):  # type: ignore[no-untyped-def]
        entered.set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if cancel is not None and cancel.wait(0.02):
                cancelled.set()
                raise GenerationCancelled(f"{request.sprite}: generation cancelled")
        raise AssertionError("the cancel event never came")

    monkeypatch.setattr(ProceduralBackend, "generate", endless)
    a, b = BuildService(settings, dagster_url="off"), BuildService(settings, dagster_url="off")
    _plan, run = a.ensure(load_specs(settings.specs_dir), ["ant"])
    assert run is not None and entered.wait(120)
    assert b.find(run.handle) is None  # B knows the run only from the instance
    stopped = b.cancel(run.handle)
    assert run.done.wait(120)
    assert stopped.status == "canceling" and cancelled.is_set()
    assert run.state == RunState.CANCELED and run.outcome is not None and run.outcome.canceled
    assert run.outcome.sprites["ant"].status == "canceled"
    assert b.instance().get_run_by_id(run.handle).status.value == "CANCELED"
    assert b.cancel(run.handle).message == "the run already ended"
    assert not (settings.assets_dir / "sprites" / "enemy" / "ant.png").exists()


# The one exception: the instance storage subclasses Dagster's storage classes, which only exist under
# dagster._core (Dagster's API docs list them as internals, for extending storage). tests/test_pool_storage.py
# checks that every method it wraps still has the signature it was written against.
PRIVATE_DAGSTER_ALLOWED = ("pipeline/defs/pool_storage.py", "pipeline/defs/pool_storage_postgres.py")


def test_pipeline_uses_public_dagster_apis_only_and_no_ctypes() -> None:
    """No ``dagster._`` import (private, changes without notice) and no ``ctypes`` (no thread injection)."""
    import re

    from tests.conftest import REPO

    lines = [
        (str(path.relative_to(REPO)), number, line.strip())
        for path in sorted((REPO / "pipeline").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
    ]
    offending = [
        f"{path}:{number}: {line}"
        for path, number, line in lines
        if re.search(r"^(from|import)\s+(dagster\._|ctypes\b)", line)
        and not (path in PRIVATE_DAGSTER_ALLOWED and line.startswith("from dagster._"))
    ]
    assert offending == []


def test_the_data_version_tag_is_dagsters() -> None:
    from dagster._core.definitions.data_version import DATA_VERSION_TAG as DAGSTERS

    from pipeline.defs.assets import DATA_VERSION_TAG

    assert DATA_VERSION_TAG == DAGSTERS
