"""The dispatcher's job lifecycle as a table, and placement as pure functions over server states."""

from __future__ import annotations

from typing import cast

import pytest

from pipeline.core.generate.base import GenerationRequest
from pipeline.core.generate.comfyui.client import ComfyClient
from pipeline.core.generate.comfyui.jobs import Job
from pipeline.core.generate.comfyui.lifecycle import Event, IllegalTransition, State, transition
from pipeline.core.generate.comfyui.placement import pick_server, steal_for
from pipeline.core.generate.comfyui.slots import Slot

S, E = State, Event

#: every allowed (state, event) and where it leads; written out here, independently of lifecycle.TRANSITIONS
ALLOWED: dict[tuple[State, Event], State] = {
    (S.PENDING, E.PLACE): S.SUBMITTING,
    (S.PENDING, E.FAIL): S.FAILED,
    (S.SUBMITTING, E.ACCEPT): S.QUEUED,
    (S.SUBMITTING, E.START): S.RUNNING,
    (S.SUBMITTING, E.END): S.FINISHING,
    (S.SUBMITTING, E.REQUEUE): S.PENDING,
    (S.SUBMITTING, E.FAIL): S.FAILED,
    (S.QUEUED, E.START): S.RUNNING,
    (S.QUEUED, E.END): S.FINISHING,
    (S.QUEUED, E.MOVE): S.SUBMITTING,
    (S.QUEUED, E.REQUEUE): S.PENDING,
    (S.QUEUED, E.FAIL): S.FAILED,
    (S.RUNNING, E.START): S.RUNNING,
    (S.RUNNING, E.END): S.FINISHING,
    (S.RUNNING, E.REQUEUE): S.PENDING,
    (S.RUNNING, E.TIME_OUT): S.WITHDRAWING,
    (S.RUNNING, E.FAIL): S.FAILED,
    (S.FINISHING, E.SUCCEED): S.DONE,
    (S.FINISHING, E.RESUME): S.RUNNING,
    (S.FINISHING, E.REQUEUE): S.PENDING,
    (S.FINISHING, E.FAIL): S.FAILED,
    (S.WITHDRAWING, E.FAIL): S.FAILED,
}

PAIRS = [(state, event) for state in State for event in Event]


@pytest.mark.parametrize(("state", "event"), PAIRS, ids=[f"{s.value}-{e.value}" for s, e in PAIRS])
def test_every_state_and_event(state: State, event: Event) -> None:
    if (state, event) in ALLOWED:
        assert transition(state, event) is ALLOWED[state, event]
    else:
        with pytest.raises(IllegalTransition, match=f"'{event.value}' is not allowed in state '{state.value}'"):
            transition(state, event, "goblin")


def test_finished_jobs_accept_nothing() -> None:
    for event in Event:
        for state in (S.DONE, S.FAILED):
            with pytest.raises(IllegalTransition):
                transition(state, event)


@pytest.mark.parametrize(
    ("state", "terminal", "followed", "occupies"),
    [
        (S.PENDING, False, False, False),
        (S.SUBMITTING, False, True, True),
        (S.QUEUED, False, True, True),
        (S.RUNNING, False, True, True),
        (S.FINISHING, False, False, False),  # the server is done with it: room for the next one
        (S.WITHDRAWING, False, False, True),  # still on the GPU until the interrupt lands
        (S.DONE, True, False, False),
        (S.FAILED, True, False, False),
    ],
)
def test_state_properties(state: State, terminal: bool, followed: bool, occupies: bool) -> None:
    assert (state.terminal, state.followed, state.occupies_server) == (terminal, followed, occupies)


# ---- placement (pure) ------------------------------------------------------------------------------------


def _job(name: str, state: State = S.PENDING, started_at: float | None = None) -> Job:
    request = GenerationRequest(
        sprite=name, backend="comfyui", backend_version="1", payload={}, frames=1, width=8, height=8
    )
    job = Job(request=request, graph={}, save_node="9", template="t", needs=frozenset())
    job.state, job.started_at = state, started_at
    return job


def _slot(url: str, *jobs: Job, seconds: float | None = None, healthy: bool = True) -> Slot:
    slot = Slot(url, cast(ComfyClient, None))
    for i, job in enumerate(jobs):
        slot.jobs[f"{url}-{i}"] = job
    slot.seconds_per_job, slot.healthy = seconds, healthy
    return slot


def test_pick_server_prefers_the_earliest_expected_finish() -> None:
    slow = _slot("slow", _job("a", S.RUNNING), seconds=10.0)
    fast = _slot("fast", _job("b", S.RUNNING), seconds=1.0)
    assert pick_server([slow, fast], cap=2) is fast
    fast.jobs["x"] = _job("c", S.QUEUED)
    assert pick_server([slow, fast], cap=2) is slow  # fast is full
    slow.healthy = False
    assert pick_server([slow, fast], cap=2) is None


def test_a_job_being_downloaded_leaves_room_on_its_server() -> None:
    slot = _slot("one", _job("a", S.FINISHING), _job("b", S.RUNNING))
    assert slot.load == 1
    assert pick_server([slot], cap=2) is slot
    slot.reserved = 1  # one on its way there
    assert pick_server([slot], cap=2) is None


def test_an_idle_server_steals_the_last_waiting_job_when_it_is_faster() -> None:
    running, first, last = _job("r", S.RUNNING, started_at=100.0), _job("w1", S.QUEUED), _job("w2", S.QUEUED)
    victim = _slot("busy", running, first, last, seconds=10.0)
    thief = _slot("idle", seconds=1.0)
    found = steal_for(thief, [victim, thief], now=101.0)
    assert found == (last, victim)
    last.moving = first.moving = True  # already being moved: nothing else to take
    assert steal_for(thief, [victim, thief], now=101.0) is None


def test_no_steal_when_the_thief_would_not_finish_sooner() -> None:
    victim = _slot("busy", _job("r", S.RUNNING, started_at=100.0), _job("w", S.QUEUED), seconds=1.0)
    thief = _slot("idle", seconds=10.0)
    assert steal_for(thief, [victim, thief], now=100.5) is None
    # nothing running there yet: the waiting job is not stuck behind anything
    queued_only = _slot("q", _job("w", S.QUEUED), seconds=10.0)
    assert steal_for(_slot("idle2", seconds=0.1), [queued_only], now=0.0) is None
