"""The panes the screen follows are polled in a process of their own, so the screen's keys
never wait for a poll: the driver polls them itself until that process is ready, which
ends with the driver (even one killed outright); if it dies the driver says so and polls
the panes itself again."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.cli import DEMO_PLAN
from cockpit.plan.loader import load_plan_file
from cockpit.runner.panes import PANES, PaneView
from cockpit.session.driver import DriverSession
from cockpit.session.estate_choice import EstateChoice
from cockpit.session.folder import SessionFolder
from cockpit.session.opening import DriverOpening
from cockpit.session.served_sim import request_for, start_for_session
from cockpit.settings import CockpitSettings

APART = EstateChoice(sim=True, speed=4.0, apart=True)
WAIT_S = 60.0


def _ends_within(pid: int, seconds: float) -> bool:
    """Whether the process `pid` (not ours to wait for) ends within `seconds`."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([handle], [], [], seconds)
        return bool(readable)
    finally:
        os.close(handle)


class Shown:
    """The views the screen would be handed, and a way to wait for the next of each."""

    def __init__(self) -> None:
        self.views: list[PaneView] = []
        self._changed = threading.Condition()

    def show(self, view: PaneView) -> None:
        with self._changed:
            self.views.append(view)
            self._changed.notify_all()

    def every_pane_after(self, start: int) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: {v.pane for v in self.views[start:]} >= set(PANES), WAIT_S)

    def handed_over(self, session: DriverSession) -> int:
        """Once the poller process polls: how many views had been shown by then."""
        with self._changed:
            assert self._changed.wait_for(
                lambda: session.polled_apart_by is not None, WAIT_S), "never handed over"
            return len(self.views)


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[DriverSession]:
    folder = SessionFolder(tmp_path / "session")
    settings = CockpitSettings()
    early = start_for_session(request_for(APART, DEMO_PLAN, folder.path,
                                          settings.sim.linger_s))
    opening = DriverOpening(load_plan_file(DEMO_PLAN), folder, APART, settings=settings,
                            estate_wait_s=0, early=early)
    try:
        yield opening.open()
    finally:
        opening.close()


def test_the_followed_panes_are_polled_by_a_process_of_their_own(
        opened: DriverSession) -> None:
    shown = Shown()
    opened.follow_panes(shown.show, lambda pane: 0.3)
    assert shown.every_pane_after(0), "not every pane was shown"
    assert shown.every_pane_after(shown.handed_over(opened)), "none shown from the process"
    child = opened.polled_apart_by
    assert child is not None and child != os.getpid()
    assert _poller_children() == [child]
    polled = opened.polled
    views = {v.pane: v for v in shown.views}
    assert views["apps"].error is None and len(views["apps"].rows) == 4
    assert all(row.status == "ok" for row in views["apps"].rows)
    assert views["dns"].error is None and views["dns"].rows
    assert (opened.folder.path / "state.json").exists()  # watchers see the same panes
    assert all(polled[pane] >= 2 for pane in PANES), polled
    opened.stop_following_panes()
    opened.close(wait_s=10)
    assert _ends_within(child, 10), "the poller outlived its session"


def test_a_poller_that_dies_is_said_and_the_driver_polls_the_panes_itself(
        opened: DriverSession) -> None:
    shown = Shown()
    opened.follow_panes(shown.show, lambda pane: 0.3)
    assert shown.every_pane_after(shown.handed_over(opened))
    pid = opened.polled_apart_by
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert _ends_within(pid, 10)
    seen = len(shown.views)
    assert shown.every_pane_after(seen), "the panes stopped when the poller died"
    assert opened.polled_apart_by is None
    assert any("poller process ended" in said for said in opened.warnings), opened.warnings


def test_an_estate_simulated_in_the_drivers_process_is_polled_from_it(
        tmp_path: Path) -> None:
    here = EstateChoice(sim=True, speed=4.0)
    opening = DriverOpening(load_plan_file(DEMO_PLAN), SessionFolder(tmp_path / "s"), here,
                            settings=CockpitSettings(), estate_wait_s=0)
    try:
        session = opening.open()
        shown = Shown()
        session.follow_panes(shown.show, lambda pane: 0.3)
        assert shown.every_pane_after(0)
        assert session.polled_apart_by is None
    finally:
        opening.close()


CHILD_OF_A_DRIVER = """
import sys
from cockpit.runner.poll_process import PollProcess
if __name__ == "__main__":
    child = PollProcess()
    print(child.pid, flush=True)
    sys.stdin.read()
"""


def test_the_poller_ends_with_a_driver_killed_outright(tmp_path: Path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(CHILD_OF_A_DRIVER)
    driver = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert driver.stdout is not None
        child = int(driver.stdout.readline())
        assert not _ends_within(child, 0.0)
        driver.kill()
        driver.wait(10)
        assert _ends_within(child, 10), "the poller outlived its driver"
    finally:
        driver.kill()


def _poller_children() -> list[int]:
    """Our child processes that are pane pollers, as `ps` would show them."""
    found = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"cockpit.runner.poll_process" in cmdline:
                found.append(int(pid))
    return found


def test_a_driver_set_to_poll_in_its_own_process_starts_no_poller(
        opened: DriverSession) -> None:
    shown = Shown()
    opened.follow_panes(shown.show, lambda pane: 0.3, apart=False)
    assert shown.every_pane_after(0)
    assert shown.every_pane_after(len(shown.views))  # a second round, still from here
    assert opened.polled_apart_by is None
    assert _poller_children() == []
