"""The second person's watcher: `cockpit watch SESSION --approver`.

The driver asks to override a step that needs a second person and is refused (the ask is
on the record). A watcher started with `--approver` shows what the driver waits on, and
its key `a` leaves an approval in the same spool `cockpit approve` writes to, as the login
running the watcher. The driver's header then says an approval waits; taking it is the
runner's, with its checks: here the watcher runs as the driver's own login, and the
driver refuses it on the record.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.audit import log_entries
from support.estate import KEYS_FAULTS, KEYS_PLAN, driver_session, running_sim
from support.plans import load
from support.ui import drawn, header_text, showing
from support.waiting import wait_for

from cockpit.audit import events
from cockpit.runner import approvals
from cockpit.runner.runner import StepRefused
from cockpit.session.approving import Approver
from cockpit.session.folder import SessionFolder
from cockpit.session.watch import SessionReader
from cockpit.ui.app import make_watch_app
from cockpit.ui.screens.reason import AskReason
from cockpit.ui.screens.watch import ApproverScreen
from cockpit.ui.widgets.header import render_header

SPEED = 50.0
STEP = "gated-on-app-1"


@pytest.fixture
def spool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="cockpit-approvals-", dir="/tmp"))
    os.chmod(root, 0o1777)
    monkeypatch.setenv(approvals.SPOOL_ENV, str(root / "spool"))
    yield root / "spool"
    for path in sorted(root.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    root.rmdir()


def two_person_plan(folder: Path) -> Path:
    text = KEYS_PLAN.read_text(encoding="utf-8")
    old = f'id = "{STEP}"\n'
    path = folder / "keys.toml"
    path.write_text(text.replace(old, old + "second_person = true\n"), encoding="utf-8")
    return path


async def test_the_approvers_key_leaves_an_approval_the_driver_sees(
    spool: Path, tmp_path: Path,
) -> None:
    plan = two_person_plan(tmp_path)
    folder = tmp_path / "session"
    with running_sim(load(plan), speed=SPEED, faults=KEYS_FAULTS) as (_estate, handle):
        session = driver_session(plan, handle, folder, time_scale=SPEED)
        try:
            with pytest.raises(StepRefused):
                session.runner.run_step(STEP, override_reason="health page down, app is fine")
            asked = render_header(session.view(), mode="DRIVER").plain

            app = make_watch_app(SessionReader(SessionFolder(folder)), keymap={},
                                 approver=Approver(folder))
            async with app.run_test(size=(120, 40), notifications=True) as pilot:
                await drawn(pilot, screen=ApproverScreen, what="the approver's watcher")
                seen = header_text(app)
                await pilot.press("a")
                await wait_for(pilot, lambda: showing(app, AskReason), what="the reason asked")
                for key in "app owner confirms":
                    await pilot.press("space" if key == " " else key)
                await pilot.press("enter")
                left = await wait_for(pilot, lambda: approvals.pending(folder, STEP, "override"),
                                      what="the approval in the spool")
                await app.workers.wait_for_complete()

            waiting = render_header(session.view(), mode="DRIVER").plain
            with pytest.raises(StepRefused):  # the watcher ran as the driver's own login
                session.runner.run_step(STEP, override_reason="health page down, app is fine")
        finally:
            session.close()

    assert "awaiting a second person since" in asked and f"override of {STEP}" in asked
    assert f"override of {STEP}" in seen  # the approver sees what the driver waits on
    assert [(a.step, a.action, a.reason, a.uid) for a in left] == [
        (STEP, "override", "app owner confirms", os.getuid())]
    assert f"approved by {left[0].approver}: override of {STEP} (app owner confirms)" in waiting
    refused = [e for e in log_entries(folder) if e.event == events.APPROVAL_REFUSED]
    assert [e.detail["id"] for e in refused] == [left[0].id]
