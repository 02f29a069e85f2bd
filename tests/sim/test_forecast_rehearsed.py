"""The Must-show of the forecast: budgets learnt from two rehearsals make the third's
projected end right.

Phase One is rehearsed twice on the simulated estate; `cockpit plan budget --write` puts
what they took into a copy of the plan; a third rehearsal of that copy runs, and at each
step's end the projection is taken as the header takes it (`forecast` on the driver's
session view, at that moment). From half-way through the window, by elapsed time, every
projection is within 10% of the window's length of the end the rehearsal actually reached.
"""

from __future__ import annotations

import math
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.audit import log_entries
from support.estate import driver_session, running_sim
from support.plans import MANUAL_NOTE, PHASE_ONE, load

from cockpit.cli import main
from cockpit.runner.state import StepState
from cockpit.session.forecast import forecast
from cockpit.session.rehearsal import rehearse
from cockpit.ui.widgets.header import window_clock

# Slow enough that the steps that wait on the estate (health checks, DNS) take seconds and
# differ from each other; fast enough for three rehearsals in a test.
SPEED = 10.0
Projections = list[tuple[datetime, datetime]]


def cockpit(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def rehearse_recording(plan: Path, folder: Path) -> Projections:
    """Rehearse `plan` headless on the simulated estate; (when a step ended, the end the
    header projected then) for every step but the last."""
    seen: Projections = []
    with running_sim(load(plan), speed=SPEED) as (_estate, handle):
        session = driver_session(plan, handle, folder, time_scale=SPEED,
                                 confirm_manual=lambda _instruction: MANUAL_NOTE)

        def at_its_end(_outcome: StepState) -> None:
            view, now = session.view(), datetime.now(UTC)
            projected = forecast(view, now)
            if projected is not None and view.completion() is None:
                assert f"ends ~{projected.ends:%H:%M}Z" in window_clock(view, now)
                seen.append((now, projected.ends))

        try:
            result = rehearse(session.runner, on_step=at_its_end)
            assert result.succeeded, result.render()
        finally:
            session.close()
    return seen


@pytest.fixture(scope="module")
def learnt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Result, Projections]:
    """Two rehearsals, the budgets written from them into a copy, a third rehearsal of it."""
    root = tmp_path_factory.mktemp("forecast")
    first, second, third = root / "first", root / "second", root / "third"
    rehearse_recording(PHASE_ONE, first)
    rehearse_recording(PHASE_ONE, second)
    plan = root / "phase-one.toml"
    shutil.copyfile(PHASE_ONE, plan)
    written = cockpit("plan", "budget", plan, "--from", first, "--from", second, "--write")
    assert written.exit_code == 0, written.output
    return plan, third, written, rehearse_recording(plan, third)


def test_the_budgets_come_from_the_two_rehearsals(
    learnt: tuple[Path, Path, Result, Projections],
) -> None:
    plan, _, written, _ = learnt
    first, second = plan.parent / "first", plan.parent / "second"
    text = plan.read_text(encoding="utf-8")
    assert text.count("# from 2 rehearsals (first, second): median ") == len(load(plan).steps())
    assert "wrote 10 budget(s)" in written.output
    budgets = {step.id: step.budget for step in load(plan).steps()}
    # Each is its worst rehearsed time (the duration each log's `step.succeeded` records),
    # rounded up as the README says: to the tenth of a second under 10 s.
    assert budgets == {step: _rounded_up(max(_took(first, step), _took(second, step)))
                       for step in budgets}


def _took(session: Path, step: str) -> float:
    return float(next(e.detail["duration_s"] for e in log_entries(session)
                      if e.step == step and e.event == "step.succeeded"))


def _rounded_up(seconds: float) -> float:
    return float(math.ceil(seconds)) if seconds >= 10 else \
        max(math.ceil(round(seconds * 10, 6)) / 10, 0.1)


def test_from_half_way_every_projection_is_within_a_tenth_of_the_window(
    learnt: tuple[Path, Path, Result, Projections],
) -> None:
    _, third, _, projections = learnt
    entries = log_entries(third)
    started = next(e.ts for e in entries if e.event == "step.started")
    ended = [e.ts for e in entries if e.event == "step.succeeded"][-1]
    length = (ended - started).total_seconds()
    assert len(projections) == len(load(PHASE_ONE).steps()) - 1
    late = [(at, ends) for at, ends in projections
            if (at - started).total_seconds() >= length / 2]
    assert late, "no step ended in the second half of the window"
    misses = [(f"{(at - started).total_seconds():.1f}s in",
               f"off by {(ends - ended).total_seconds():+.1f}s")
              for at, ends in late if abs((ends - ended).total_seconds()) > length / 10]
    assert not misses, f"window of {length:.1f}s: {misses}"
