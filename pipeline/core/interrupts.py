"""Ctrl-C and SIGTERM for the long-running commands: stop the work cleanly, say so, exit without a traceback.

* ``sprites build``: the Dagster run executes in a worker thread. The first SIGINT/SIGTERM sets the run's
  cancel event: the run is marked CANCELING (Dagster's own termination record, ``pipeline.defs.instance``),
  its running step sees it and withdraws its ComfyUI jobs (POST /queue delete, POST /interrupt), the steps
  not started end at once, the run's resources close, and the run ends CANCELED instead of staying STARTED
  forever. A second signal while that happens stops at once.
* ``sprites dev``: ``dagster dev`` runs in its own process group; SIGINT/SIGTERM to us is passed on as SIGINT
  (what stops ``dagster dev`` cleanly), then SIGTERM and SIGKILL to the whole group if it does not stop in time,
  so no webserver, daemon or code server outlives the command.

Signal handlers can only be installed from the main thread; elsewhere (the MCP server's worker threads, tests)
these helpers install nothing and signals keep their usual meaning.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from pipeline.errors import SpriteError

__all__ = [
    "Interrupted",
    "SignalState",
    "exit_code_for",
    "interrupted_message",
    "run_child_group",
    "shield_children_from_sigint",
    "signal_name",
    "stop_on_signals",
]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(SpriteError):
    """The user (SIGINT) or the system (SIGTERM) stopped the command; ``str()`` says what was cleaned up."""

    def __init__(self, signum: int, message: str):
        self.signum = signum
        super().__init__(message)

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.signum)


def exit_code_for(signum: int) -> int:
    """The shell's convention: 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


@dataclass
class SignalState:
    """What ``stop_on_signals`` saw: the first signal (None: none arrived)."""

    signum: int | None = None


@contextlib.contextmanager
def stop_on_signals(on_first: Callable[[int], None] | None = None) -> Iterator[SignalState]:
    """While inside: the first SIGINT/SIGTERM is recorded (and ``on_first(signum)`` called: keep it to what is safe
    in a signal handler); a second one raises KeyboardInterrupt.

    A SIGINT that was ignored when the process started (``nohup``, a background job) stays ignored.
    """
    state = SignalState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if state.signum is not None:
            raise KeyboardInterrupt
        state.signum = signum
        if on_first is not None:
            on_first(signum)

    previous: dict[int, Any] = {}
    for sig in _SIGNALS:
        current = signal.getsignal(sig)
        if sig == signal.SIGINT and current == signal.SIG_IGN:
            continue
        previous[sig] = current
        signal.signal(sig, handler)
    try:
        yield state
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def interrupted_message(signum: int, run_id: str, status: str, built: int, stopped: int) -> str:
    head = f"interrupted ({signal_name(signum)}): Dagster run {run_id[:8]} is {status}"
    return (
        f"{head}; {built} sprite(s) finished before the interrupt, {stopped} stopped (their ComfyUI jobs were "
        "interrupted or deleted from the queue). Run `sprites build` again to finish: nothing finished is redone."
    )


def shield_children_from_sigint() -> None:
    """Block SIGINT in the calling (non-main) thread, so the processes it starts inherit it blocked.

    Dagster's step-log capture starts helper processes (``watch_orphans``) in our process group; a terminal's
    Ctrl-C reaches the whole group, and each would print a KeyboardInterrupt traceback. Python handles signals
    in the main thread only, so blocking SIGINT in a worker changes nothing for us.
    """
    if threading.current_thread() is not threading.main_thread():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def _reset_sigint() -> None:  # pragma: no cover - runs in the child between fork and exec
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_child_group(
    cmd: list[str], *, cwd: Any = None, env: dict[str, str] | None = None, grace: float = 20.0
) -> tuple[int, int | None]:
    """Run ``cmd`` in a process group of its own until it exits; SIGINT/SIGTERM to us stop the whole group.

    Returns (exit status, the signal that stopped us or None). The child's SIGINT is reset to its default even
    when we were started with it ignored, so that the SIGINT we forward is obeyed.
    """
    child = subprocess.Popen(cmd, cwd=cwd, env=env, start_new_session=True, preexec_fn=_reset_sigint)
    stop = threading.Event()

    def forward(signum: int) -> None:
        stop.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGINT)

    with stop_on_signals(forward) as state:
        try:
            while child.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=0.2)
                if stop.is_set():
                    break
        except KeyboardInterrupt:  # a second signal: no more patience
            grace = 0.0
        if state.signum is not None or child.poll() is None:
            _stop_group(child, grace)
    return child.wait(), state.signum


def _stop_group(child: subprocess.Popen[Any], grace: float) -> None:
    """SIGINT was sent; wait ``grace`` seconds, then SIGTERM, then SIGKILL: every process of the group ends."""
    for sig, wait in ((None, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if sig is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, sig)
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if child.poll() is not None and not _group_alive(child.pid):
                return
            time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
