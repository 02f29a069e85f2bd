"""Abort-by, and the warning that comes before it when a slow step makes it certain.

The simple Phase Two window is run on the simulated estate up to its restore, which the
fault `restore-slow` throttles. At the moment the restore's progress is first sampled past
10%, the header (its clock frozen there) must already say that the rollback no longer
fits, although abort-by itself is still ahead; without the fault, at the same point of the
same window, it must not.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from support.audit import log_entries
from support.estate import driver_session, running_sim
from support.frozen import FrozenDriverSource
from support.plans import PHASE_TWO, load
from support.ui import drawn, screen_text
from support.waiting import eventually

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry
from cockpit.runner.state import Status, derive
from cockpit.session.abort_by import abort_by
from cockpit.session.view import SessionView
from cockpit.ui.app import make_driver_app

# The sim and the runner 200 times faster than life: the throttled restore (93 s of a
# 30 GB database, a hundred times slower) takes 47 s, the window's two hours 36 s; the
# steps before the restore take what the machine takes, well under that.
SPEED = 200.0
BEFORE_RESTORE = ("announce-db-start", "ag-healthy", "drain-apps", "stop-apps", "no-sessions",
                  "source-read-only", "backup", "backup-verified")


def _sampled_past_a_tenth(entries: list[AuditEntry]) -> int | None:
    """Where the restore's progress first says 10% or more."""
    return next((i for i, e in enumerate(entries)
                 if e.step == "restore" and e.event == events.STEP_PROGRESS
                 and float(e.detail.get("percent", 0)) >= 10), None)


def _restore_started(entries: list[AuditEntry]) -> int:
    return next(i for i, e in enumerate(entries)
                if e.step == "restore" and e.event == events.STEP_STARTED)


def _window_during_the_restore(tmp_path: Path, faults: tuple[str, ...]) -> SessionView:
    """The session as it stood when the restore was first seen past 10% (or, when it ran
    too fast to be sampled there, when it started): the record up to that entry."""
    folder = tmp_path / "session"
    with running_sim(load(PHASE_TWO), speed=SPEED, faults=faults) as (_sim, handle):
        session = driver_session(PHASE_TWO, handle, folder, time_scale=SPEED,
                                 confirm_manual=lambda _instruction: "done")
        try:
            for step in BEFORE_RESTORE:
                assert session.runner.run_step(step).status is Status.SUCCEEDED, step
            restore = threading.Thread(target=session.runner.run_step, args=("restore",))
            restore.start()
            if faults:
                eventually(lambda: _sampled_past_a_tenth(log_entries(folder)),
                           lambda at: at is not None, what="the restore sampled past 10%",
                           within=60)
            restore.join(timeout=180)
            assert not restore.is_alive(), "the restore did not end within 180 s"
        finally:
            session.close()
    entries = log_entries(folder)
    at = _sampled_past_a_tenth(entries)
    upto = entries[:(at if at is not None else _restore_started(entries)) + 1]
    plan = load(folder / "plan.toml")
    return SessionView(plan=plan, run=derive(plan, upto), entries=upto, time_scale=SPEED)


async def _header_lines(view: SessionView, now: datetime, size: tuple[int, int]) -> list[str]:
    app = make_driver_app(FrozenDriverSource(view), keymap={}, clock=lambda: now)
    async with app.run_test(size=size) as pilot:
        await drawn(pilot)
        return screen_text(app).splitlines()[:6]


async def test_a_slow_restore_says_the_rollback_no_longer_fits_before_abort_by(
    tmp_path: Path,
) -> None:
    view = _window_during_the_restore(tmp_path, ("restore-slow=100",))
    now = view.entries[-1].ts  # the clock frozen at the sample that made it certain
    running = view.run.running()
    assert running is not None and running.step_id == "restore"
    deadline = abort_by(view, now)
    assert deadline is not None and now < deadline.abort_by  # abort-by is still ahead

    for size in ((80, 24), (120, 40)):
        lines = await _header_lines(view, now, size)

        header = "\n".join(lines)
        assert f"abort-by {deadline.abort_by:%H:%M}Z" in header, header
        warning = next((line for line in lines if "rollback no longer fits" in line), None)
        assert warning is not None, header
        assert warning.strip().startswith("rollback no longer fits: ends ~")
        assert f"window end {deadline.window_end:%H:%M}Z" in warning  # whole at 80 columns


async def test_the_same_restore_unthrottled_leaves_the_rollback_fitting(
    tmp_path: Path,
) -> None:
    view = _window_during_the_restore(tmp_path, ())
    now = view.entries[-1].ts
    running = view.run.running()
    assert running is not None and running.step_id == "restore"
    deadline = abort_by(view, now)
    assert deadline is not None and not deadline.no_longer_fits

    lines = await _header_lines(view, now, (120, 40))

    header = "\n".join(lines)
    assert f"abort-by {deadline.abort_by:%H:%M}Z" in header
    assert "rollback no longer fits" not in header
