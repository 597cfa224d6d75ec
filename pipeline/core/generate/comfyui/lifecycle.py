"""A job's lifecycle in the dispatcher: its states, the events that move it, and the one transition function.

::

    PENDING ─place─▶ SUBMITTING ─accept─▶ QUEUED ─start─▶ RUNNING ─end─▶ FINISHING ─succeed─▶ DONE

    SUBMITTING ─start─▶ RUNNING            SUBMITTING, QUEUED ─end─▶ FINISHING
    QUEUED ─move─▶ SUBMITTING              FINISHING ─resume─▶ RUNNING
    RUNNING ─time_out─▶ WITHDRAWING        SUBMITTING, QUEUED, RUNNING, FINISHING ─requeue─▶ PENDING
    every state but DONE and FAILED ─fail─▶ FAILED

* ``start`` and ``end`` may skip states: the WebSocket can report a fast job running, or finished, before
  POST /prompt has answered. ``start`` on a RUNNING job is allowed (the WebSocket and a poll both saw it).
* ``resume``: collecting failed because the server became unreachable; the job is followed again (polls).
* ``requeue``: lost in a restart, its server unreachable or refusing it: back to the pending queue.
* ``time_out``: running past ``job_timeout``; it is being withdrawn from the server before it fails.

``transition`` is pure; the dispatcher applies it and checks, after every ``await``, that the job is still in
the state it expects (another task may have moved it meanwhile) before it fires the next event.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["TRANSITIONS", "Event", "IllegalTransition", "State", "transition"]


class State(Enum):
    PENDING = "pending"  #: waiting for a server with room
    SUBMITTING = "submitting"  #: a server was chosen: uploading inputs, POST /prompt
    QUEUED = "queued"  #: in the server's queue
    RUNNING = "running"  #: executing on the server
    FINISHING = "finishing"  #: the server is done with it: reading history, downloading, checking images
    WITHDRAWING = "withdrawing"  #: timed out: being deleted/interrupted on the server, then it fails
    DONE = "done"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (State.DONE, State.FAILED)

    @property
    def followed(self) -> bool:
        """Submitted and not yet ended: server events and polls about it still matter."""
        return self in (State.SUBMITTING, State.QUEUED, State.RUNNING)

    @property
    def occupies_server(self) -> bool:
        """Counts against the server's ``max_inflight``: on its way there, queued, running or being withdrawn.

        A FINISHING job does not: the server has finished it, so the next one may be sent while it is downloaded.
        """
        return self in (State.SUBMITTING, State.QUEUED, State.RUNNING, State.WITHDRAWING)


class Event(Enum):
    PLACE = "place"  #: a server with room was chosen for it
    ACCEPT = "accept"  #: POST /prompt answered: it is queued
    START = "start"  #: the server runs it (execution_start, executing a node, or /queue lists it running)
    END = "end"  #: the server finished it (executing null, or it left the queue and has a history entry)
    MOVE = "move"  #: deleted from a busy server's queue, to be submitted to an idle one
    RESUME = "resume"  #: collecting it failed (server unreachable): follow it again
    REQUEUE = "requeue"  #: lost, unreachable or refused by that server: wait for another placement
    TIME_OUT = "time_out"  #: still running after job_timeout: withdraw it, then fail
    SUCCEED = "succeed"  #: its images were downloaded and checked
    FAIL = "fail"  #: an error, a cancel, or the backend closing


_S, _E = State, Event
TRANSITIONS: dict[tuple[State, Event], State] = {
    (_S.PENDING, _E.PLACE): _S.SUBMITTING,
    (_S.SUBMITTING, _E.ACCEPT): _S.QUEUED,
    (_S.SUBMITTING, _E.START): _S.RUNNING,
    (_S.QUEUED, _E.START): _S.RUNNING,
    (_S.RUNNING, _E.START): _S.RUNNING,
    (_S.SUBMITTING, _E.END): _S.FINISHING,
    (_S.QUEUED, _E.END): _S.FINISHING,
    (_S.RUNNING, _E.END): _S.FINISHING,
    (_S.QUEUED, _E.MOVE): _S.SUBMITTING,
    (_S.FINISHING, _E.RESUME): _S.RUNNING,
    **{(s, _E.REQUEUE): _S.PENDING for s in (_S.SUBMITTING, _S.QUEUED, _S.RUNNING, _S.FINISHING)},
    (_S.RUNNING, _E.TIME_OUT): _S.WITHDRAWING,
    (_S.FINISHING, _E.SUCCEED): _S.DONE,
    **{(s, _E.FAIL): _S.FAILED for s in State if not s.terminal},
}


class IllegalTransition(RuntimeError):
    """An event that the job's state does not allow: a bug in the dispatcher, never a server's doing."""

    def __init__(self, state: State, event: Event, job: str = ""):
        self.state, self.event = state, event
        what = f"job {job}: " if job else ""
        super().__init__(f"{what}event '{event.value}' is not allowed in state '{state.value}'")


def transition(state: State, event: Event, job: str = "") -> State:
    """The state after ``event``; raises ``IllegalTransition`` if ``state`` does not allow it."""
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise IllegalTransition(state, event, job) from None
