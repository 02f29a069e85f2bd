"""A stop closes the session from a thread of its own (`session/shutdown.py`), racing the
step worker and the screen's own close: one `session.closed`, after the step's end and its
interruption; the second closer waits for the first. An opening stopped before it takes
the lock opens nothing. And the stop's watchdog ends a process that would not end.

In-process, on one sim for the module (the steps here only wait); no signal is sent to this
process: the stop is asked for as its signal handler asks, on its pipe."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.audit import events_of, log_entries
from support.estate import driver_session, running_sim
from support.plans import PHASE_ONE, load, write_plan
from support.waiting import eventually

from cockpit.estate.handle import EstateHandle
from cockpit.plan.loader import load_plan_file
from cockpit.runner.lock import is_held
from cockpit.runner.state import Status, derive
from cockpit.session.driver import OpeningCancelled
from cockpit.session.estate_choice import EstateChoice
from cockpit.session.folder import SessionFolder
from cockpit.session.opening import DriverOpening
from cockpit.session.shutdown import EXIT_STUCK, Stop
from cockpit.settings import CockpitSettings

SPEED = 50.0
WAITS = """
[[phases]]
id = "p"
title = "Waiting"

[[phases.steps]]
id = "wait-for-stop"
title = "Wait for a stop nobody makes"
until = [{ kind = "ec2.stopped", servers = ["oms-app-1"] }]
timeout = "1h"
"""


@pytest.fixture(scope="module")
def handle() -> Iterator[EstateHandle]:
    with running_sim(load(PHASE_ONE), speed=SPEED) as (_sim, running):
        yield running


def test_a_stop_and_the_screen_close_together_one_close_after_the_steps_end(
    tmp_path: Path, handle: EstateHandle,
) -> None:
    path, plan = write_plan(tmp_path, WAITS)
    folder = tmp_path / "session"
    session = driver_session(path, handle, folder, time_scale=SPEED)
    worker = threading.Thread(target=session.run, args=("wait-for-stop",), daemon=True)
    worker.start()
    eventually(lambda: events_of(folder, "wait-for-stop"), lambda e: "step.progress" in e,
               what="the step waiting")

    # The stop thread (a SIGHUP) and the screen's thread (the app ended) close at once.
    closers = [threading.Thread(target=lambda: (
        session.cancel(hangup=True, stopped_by="SIGHUP"), session.close()))]
    closers.append(threading.Thread(target=session.close))
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(timeout=30)
        assert not closer.is_alive()
        # Whichever returned, the close is complete: nothing is left to write.
        assert events_of(folder)[-1] == "session.closed"
    worker.join(timeout=10)
    assert not worker.is_alive()

    events = [(e.event, e.step) for e in log_entries(folder)]
    assert events[-4:] == [("step.failed", "wait-for-stop"),
                           ("session.interrupted", "wait-for-stop"),
                           ("session.hangup", None), ("session.closed", None)], events
    assert [e for e, _ in events].count("session.closed") == 1
    interrupted = log_entries(folder)[-3]
    assert interrupted.detail == {"step": "wait-for-stop", "last_event": "step.failed",
                                  "stopped_by": "SIGHUP"}
    state = derive(plan, log_entries(folder)).steps["wait-for-stop"]
    assert state.status is Status.INTERRUPTED
    assert (folder / "lock").read_text() == "" and not is_held(folder / "lock")


def test_the_screen_quitting_a_step_records_it_failed_not_interrupted(
    tmp_path: Path, handle: EstateHandle,
) -> None:
    """The engineer's own quit (q twice) is no stop: the step is failed (cancelled), as the
    screen says, and not marked interrupted."""
    path, _plan = write_plan(tmp_path, WAITS)
    folder = tmp_path / "session"
    session = driver_session(path, handle, folder, time_scale=SPEED)
    worker = threading.Thread(target=session.run, args=("wait-for-stop",), daemon=True)
    worker.start()
    eventually(lambda: events_of(folder, "wait-for-stop"), lambda e: "step.progress" in e,
               what="the step waiting")
    session.cancel()
    session.close()
    worker.join(timeout=10)
    assert events_of(folder)[-2:] == ["step.failed", "session.closed"]


def opening(tmp_path: Path, plan_file: Path) -> DriverOpening:
    return DriverOpening(load_plan_file(plan_file), SessionFolder(tmp_path / "session"),
                         EstateChoice(sim=True, speed=SPEED), settings=CockpitSettings())


def test_a_stop_before_the_opening_takes_the_lock_opens_nothing(tmp_path: Path) -> None:
    """Stopped before the opening has taken the lock (here: before it starts; the rehearsal
    and the tmux tests stop it while the estate starts): no session, no log; it says why."""
    stopping = opening(tmp_path, PHASE_ONE)
    stopping.cancel(hangup=True, stopped_by="SIGHUP")
    stopping.close()
    with pytest.raises(OpeningCancelled, match="SIGHUP"):
        stopping.open()
    assert not (tmp_path / "session" / "audit.jsonl").exists()


class Target:
    """What a stop cancels and closes; it records the order."""

    def __init__(self, closing: threading.Event | None = None) -> None:
        self.calls: list[str] = []
        self.closing = closing

    def cancel(self, *, hangup: bool, stopped_by: str | None = None) -> None:
        self.calls.append(f"cancel hangup={hangup} by={stopped_by}")

    def close(self) -> None:
        self.calls.append("close")
        if self.closing is not None:
            self.closing.wait(30)


def test_the_stop_cancels_closes_then_ends_a_process_that_does_not_end() -> None:
    exits: list[int] = []
    ended = threading.Event()

    def hard_exit(code: int) -> None:
        exits.append(code)
        ended.set()

    target = Target()
    stop = Stop(target, then=lambda: target.calls.append("screen asked to end"),
                screen_bound_s=0.2, hard_exit=hard_exit)
    with stop:
        stop.notify(signal.SIGWINCH)  # another handled signal on the pipe: not a stop
        stop.notify(signal.SIGTERM)
        assert stop.wait_closed(10)
        assert ended.wait(10)
    assert target.calls == ["cancel hangup=False by=SIGTERM", "screen asked to end", "close"]
    assert exits == [EXIT_STUCK]
    assert stop.reason is not None and stop.reason.exit_code == 143


def test_a_close_that_never_ends_is_bounded_too() -> None:
    exits: list[int] = []
    ended, never = threading.Event(), threading.Event()

    def hard_exit(code: int) -> None:
        exits.append(code)
        ended.set()

    stop = Stop(Target(never), close_bound_s=0.2, screen_bound_s=0.2, hard_exit=hard_exit)
    with stop:
        stop.terminal_lost()
        assert ended.wait(10)
    never.set()
    assert exits == [EXIT_STUCK]
    assert stop.reason is not None and stop.reason.hangup and stop.reason.exit_code == 129


def test_no_stop_no_watchdog() -> None:
    exits: list[int] = []
    with Stop(Target(), screen_bound_s=0.1, hard_exit=exits.append) as stop:
        pass
    assert stop.reason is None and not stop.wait_closed(0.3) and exits == []
