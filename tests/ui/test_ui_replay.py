"""Replay: a window driven on the simulated estate, recorded by the driver's session, then
played back from a copy of its folder alone.

The window is the demo's (`cockpit demo`'s plan, both windows of the migration, on its
whole estate), driven up to the DNS switch through the session layer with its panes
polled the whole time, as the driver's screen polls them. The replay must jump to
the switch and show the DNS pane as it was then: what the audit log says the switch wrote.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from support.audit import log_entries
from support.estate import driver_session, running_sim
from support.plans import load
from support.ui import drawn, footer_line, header_text
from support.waiting import wait_for

from cockpit.audit.entry import AuditEntry
from cockpit.cli import DEMO_PLAN
from cockpit.runner.panes import PANES, PaneView
from cockpit.runner.state import Status
from cockpit.session.driver import DriverSession
from cockpit.session.folder import SessionFolder
from cockpit.session.replay import FolderRecording, Replay
from cockpit.session.watch import SessionReader
from cockpit.ui.app import CockpitApp, make_replay_app
from cockpit.ui.screens.replay import ReplayScreen
from cockpit.ui.widgets.pane import Pane

SIZE = (160, 48)
SPEED = 50.0
WINDOW = ["announce-start", "instances-running", "apps-healthy", "register-targets",
          "targets-healthy", "switch-dns"]
SWITCH = "switch-dns"
# The switch's change stays PENDING this long (2.4 s here, not 0.9; the step times out
# at 3.6): the replay is looked at the moment the switch succeeded, and the DNS pane must
# have been polled since its UPSERT. A poll takes ~0.1 s, but can take over a second on
# a machine busy with the whole suite.
SLOW_ROUTE53 = "route53-slow=120"


@contextmanager
def panes_polled(session: DriverSession) -> Iterator[None]:
    """Every pane polled over and over while the window runs, each on its own thread as
    the driver's screen polls them (the interval is the poller's, scaled down like the
    sim): a slow pane (the SQL side) never holds up the others."""
    stop = threading.Event()

    def poll(pane: str) -> None:
        while not stop.is_set():
            session.poll_pane(pane)
            stop.wait(2.0 / SPEED)

    for pane in PANES:  # the screen's first look at every pane, before the first step
        session.poll_pane(pane)
    pollers = [threading.Thread(target=poll, args=(pane,), name=f"test-poll-{pane}")
               for pane in PANES]
    for poller in pollers:
        poller.start()
    try:
        yield
    finally:
        stop.set()
        for poller in pollers:
            poller.join()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session folder of the demo driven to the DNS switch, its panes recorded."""
    folder = tmp_path_factory.mktemp("window") / "session"
    with running_sim(load(DEMO_PLAN), speed=SPEED, faults=[SLOW_ROUTE53]) as (_sim, handle):
        session = driver_session(DEMO_PLAN, handle, folder, time_scale=SPEED,
                                 confirm_manual=lambda _: "bridge told")
        try:
            with panes_polled(session):
                for step_id in WINDOW:
                    state = session.run(step_id)
                    assert state.status is Status.SUCCEEDED, (step_id, state.reason)
        finally:
            session.close(wait_s=10)
    return folder


@pytest.fixture
def copied(recorded: Path, tmp_path: Path) -> Path:
    """The session folder copied elsewhere, as someone takes it away after the window."""
    return Path(shutil.copytree(recorded, tmp_path / "copy"))


@asynccontextmanager
async def replaying(folder: Path, *, at: str | None = None,
                    size: tuple[int, int] = SIZE) -> AsyncIterator[tuple[CockpitApp, Any]]:
    # Opened paused at its first entry unless told: the window played at full speed takes
    # only seconds, and a replay left playing may be at its end before the first key.
    at = at or log_entries(folder)[0].ts.isoformat()
    app = make_replay_app(Replay(FolderRecording(SessionFolder(folder))), at=at, keymap={})
    async with app.run_test(size=size, notifications=True) as pilot:
        await drawn(pilot, screen=ReplayScreen, what="the replay's screen drawn")
        yield app, pilot
        await app.workers.wait_for_complete()


def dns_pane(app: CockpitApp) -> PaneView | None:
    return app.screen.query_one("#pane-dns", Pane).view


def the_switch(folder: Path) -> tuple[AuditEntry, dict[str, str], set[str]]:
    """The switch's `step.succeeded`, the values its UPSERT wrote (as the log records
    them) and every status its Route 53 change had in the log."""
    entries = [e for e in log_entries(folder) if e.step == SWITCH]
    succeeded = next(e for e in entries if e.event == "step.succeeded")
    wrote = next(e.detail["outputs"] for e in entries
                 if e.event == "step.progress" and "outputs" in e.detail)
    statuses = {str(change["status"]) for e in entries
                for change in e.detail.get("evidence", {}).get("route53.insync", {}).values()}
    return succeeded, {k: str(v) for k, v in wrote["values"].items()}, statuses


def route53_rows(view: PaneView, folder: Path) -> dict[str, tuple[str, str]]:
    """record id -> (answer, change) of the DNS pane's Route 53 rows."""
    plan = load(DEMO_PLAN)
    by_name = {r.name.rstrip("."): r.id for r in plan.estate.records}
    at = {c: view.columns.index(c) for c in ("name", "source", "answer", "change")}
    return {by_name[row.cells[at["name"]]]: (row.cells[at["answer"]], row.cells[at["change"]])
            for row in view.rows if row.cells[at["source"]] == "route53"}


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


async def test_replay_of_a_copied_folder_jumps_to_the_dns_switch(copied: Path) -> None:
    succeeded, wrote, statuses = the_switch(copied)
    before = files_of(copied)
    assert "panes.jsonl" in before
    async with replaying(copied) as (app, pilot):
        assert "REPLAY (read-only)" in header_text(app)
        target = f"step.succeeded {SWITCH}"
        for _ in range(len(log_entries(copied))):  # `n` until the switch, never past it
            if target in header_text(app):
                break
            await pilot.press("n")
            await pilot.pause()
        await wait_for(pilot, lambda: target in header_text(app), what="at the switch")
        assert succeeded.ts.strftime("%H:%M:%S") in header_text(app)  # the window's time

        view = await wait_for(pilot, lambda: dns_pane(app), what="the DNS pane drawn")
        assert view.taken_at <= succeeded.ts  # as it was then, not after
        shown = route53_rows(view, copied)
        assert {record: answer for record, (answer, _) in shown.items() if record in wrote} \
            == {record: value.rstrip(".") for record, value in wrote.items()}
        untouched = {r.id: r.value.rstrip(".") for r in load(DEMO_PLAN).estate.records
                     if r.id not in wrote}  # the database's name waits for Phase Two
        assert untouched and {record: shown[record][0] for record in untouched} == untouched
        assert statuses and {change for _, change in shown.values()} <= statuses
        assert "Run" not in footer_line(app) and "Next event" in footer_line(app)
    assert files_of(copied) == before  # nothing written, no lock taken


async def test_replay_at_a_time_starts_there(copied: Path) -> None:
    succeeded, wrote, _ = the_switch(copied)
    async with replaying(copied, at=succeeded.ts.isoformat()) as (app, pilot):
        await wait_for(pilot, lambda: f"step.succeeded {SWITCH}" in header_text(app),
                       what="the replay opened at the switch")
        assert "PAUSED" in header_text(app)  # a moment asked for is looked at first
        view = dns_pane(app)
        assert view is not None
        answers = {record: answer for record, (answer, _) in route53_rows(view, copied).items()
                   if record in wrote}
        assert answers == {record: value.rstrip(".") for record, value in wrote.items()}
        await pilot.press("space")  # plays on, to the end of the recording
        await wait_for(pilot, lambda: "last: #" in header_text(app)
                       and "session.closed" in header_text(app), what="played to the end")


async def test_step_moves_to_the_next_recorded_change(copied: Path) -> None:
    async with replaying(copied) as (app, pilot):
        replay = app.screen.replay  # type: ignore[attr-defined]
        first = replay.at
        await pilot.press("full_stop")
        await wait_for(pilot, lambda: replay.at > first, what="a step forward")
        stepped = replay.at
        assert replay.paused
        panes = {p.pane: p.view for p in app.screen.query(Pane)}
        assert any(v is not None and v.taken_at == stepped for v in panes.values()), \
            "the step lands on the time a pane was recorded"


async def test_replay_fits_an_80x24_terminal(copied: Path) -> None:
    async with replaying(copied, size=(80, 24)) as (app, pilot):
        await pilot.press("n")
        await wait_for(pilot, lambda: "REPLAY" in header_text(app), what="the badge")
        assert "Next event" in footer_line(app) or "Pause" in footer_line(app)


def test_a_watcher_never_writes_the_recording(copied: Path) -> None:
    before = files_of(copied)
    reader = SessionReader(SessionFolder(copied))
    for _ in range(3):
        assert reader.view() is not None
    assert files_of(copied) == before


def test_the_driver_recorded_only_changes(recorded: Path) -> None:
    """Polled every few hundredths of a second for the whole window, the panes recorded
    far fewer lines than polls: a pane polled to the same view records nothing."""
    from cockpit.runner.pane_recording import read_recording

    played = read_recording(p.read_bytes() for p in SessionFolder(recorded).pane_parts())
    assert played.unreadable == 0 and played.lines
    views: dict[str, int] = {}
    for line in played.lines:
        if _still(line):
            continue
        views[line.p] = views.get(line.p, 0) + 1
    # The AG pane (no availability group in Phase One) says so once, and never again:
    # what follows, if the window outlasts STILL_EVERY_S, is its time alone (the age a
    # replay shows), never its rows again.
    assert views["ag"] == 1
    ag_lines = [line for line in played.lines if line.p == "ag"]
    assert all(_still(line) for line in ag_lines[1:])


def _still(line: Any) -> bool:
    """A line that says only that the pane was polled again to the same view."""
    import msgspec

    return (line.c is None and not bytes(line.r) and not bytes(line.d)
            and line.e is msgspec.UNSET and line.o is msgspec.UNSET)


def test_the_export_shows_what_the_panes_showed_around_each_step(copied: Path) -> None:
    """The change board's html: under each step seen on the app servers' pane, each
    server's latency around it, whose range holds what the pane showed as the step ended."""
    from datetime import UTC, datetime

    from cockpit.session.pane_story import pane_story

    folder = SessionFolder(copied)
    story = pane_story(folder.plan, folder.audit, folder.pane_parts())
    ended = next(e for e in log_entries(copied)
                 if e.event == "step.succeeded" and e.step == "apps-healthy")
    replay = Replay(FolderRecording(SessionFolder(copied)))
    replay.load()
    replay.seek(ended.ts)
    view = replay.view()
    assert view is not None
    apps = view.panes["apps"]
    shown = {row.cells[0]: float(row.cells[apps.columns.index("ms")]) for row in apps.rows}
    lines = {line.figure: line for line in story["apps-healthy"]}
    assert set(lines) == {f"{server} ms" for server in shown}
    for server, ms in shown.items():
        line = lines[f"{server} ms"]
        assert float(line.low.replace(",", "")) <= ms <= float(line.high.replace(",", ""))
        assert len(line.picture) == 24 and line.picture.strip()

    _, html = SessionFolder(copied).report(datetime.now(UTC))
    assert "What the panes showed around each step" in html
    assert "<h3>apps-healthy</h3>" in html and f"{next(iter(shown))} ms" in html
