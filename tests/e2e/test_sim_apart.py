"""The demo's estate, apart from its driver: a `cockpit sim serve` started before the
screen's imports (`start_for_session`), used by the opening, stopped with the driver; and
never left running when the driver ends before using it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.cli import DEMO_PLAN
from cockpit.plan.loader import load_plan_file
from cockpit.session.estate_choice import EstateChoice
from cockpit.session.folder import SessionFolder
from cockpit.session.opening import DriverOpening
from cockpit.session.served_sim import ServedSim, ServedSimFailed, request_for, start_for_session
from cockpit.settings import CockpitSettings

APART = EstateChoice(sim=True, speed=4.0, apart=True)


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def _opening(tmp_path: Path) -> tuple[DriverOpening, ServedSim]:
    folder = SessionFolder(tmp_path / "session")
    settings = CockpitSettings()
    request = request_for(APART, DEMO_PLAN, folder.path, settings.sim.linger_s)
    assert request is not None and request.linger_s == 60.0  # not the session's 900 s
    early = start_for_session(request)
    opening = DriverOpening(load_plan_file(DEMO_PLAN), folder, APART, settings=settings,
                            estate_wait_s=0, early=early)
    return opening, early


def test_the_opening_drives_the_early_estate_and_stops_it_with_the_session(
        tmp_path: Path) -> None:
    opening, early = _opening(tmp_path)
    try:
        session = opening.open()
        assert session.estate is not None and session.estate.served is early
        assert session.estate.sim is None  # none in this process
        apps = session.poll_pane("apps")
        assert apps.error is None and apps.rows, "the apps pane polled on the served estate"
    finally:
        opening.close()
    assert early.process is not None and early.process.returncode is not None
    assert not (tmp_path / "session" / "sim.json").exists()


def test_a_driver_that_ends_before_opening_stops_the_early_estate(tmp_path: Path) -> None:
    opening, early = _opening(tmp_path)
    opening.close()  # q on the first frame, before the opening began
    assert early.process is not None and early.process.returncode is not None
    assert _gone(early.pid) or early.process.poll() is not None


def test_a_driver_that_ends_while_the_estate_starts_stops_it(tmp_path: Path) -> None:
    """The screen's close does not wait for an estate still starting: it stops it, the
    start is cut short, and the opening's wait for it ends then, saying so (not once the
    estate has finished starting, which takes minutes for a large one)."""
    opening, early = _opening(tmp_path)
    waiting, failed = threading.Event(), []
    wait_ready = early.wait_ready

    def waits() -> None:
        waiting.set()
        wait_ready()

    early.wait_ready = waits  # type: ignore[method-assign]

    def open_it() -> None:
        try:
            opening.open()
        except BaseException as exc:  # noqa: BLE001 (what the opening said is the point)
            failed.append(exc)

    opener = threading.Thread(target=open_it)
    opener.start()
    assert waiting.wait(timeout=60), "the opening never waited for the estate"
    opening.close()
    opener.join(timeout=60)
    assert not opener.is_alive(), "the opening still waits for a stopped estate"
    assert len(failed) == 1 and isinstance(failed[0], ServedSimFailed), failed
    assert "did not start" in str(failed[0])
    assert opening.session is None
    assert early.process is not None and early.process.poll() is not None


@pytest.fixture(autouse=True)
def _no_estate_left(tmp_path: Path) -> Iterator[None]:
    """Whatever a test did, no served sim of its session is left behind."""
    yield
    found = ServedSim.found_at((tmp_path / "session" / "sim.json").absolute())
    if found is not None:
        found.stop()
        pytest.fail(f"a served sim was left running (pid {found.pid})")
