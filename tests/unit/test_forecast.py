"""The critical path of a plan's `after` graph, and the window's end projected along it from
what the log says of the running steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.plans import write_plan

from cockpit.audit.entry import Actor, AuditEntry
from cockpit.plan.critical_path import critical_path
from cockpit.plan.models import Plan
from cockpit.runner.state import derive
from cockpit.session.forecast import forecast
from cockpit.session.view import SessionView
from cockpit.ui.widgets.header import window_clock, window_clock_style

T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


def step(step_id: str, budget: int, after: tuple[str, ...] = ()) -> str:
    deps = ", ".join(f'"{d}"' for d in after)
    return (f'\n[[phases.steps]]\nid = "{step_id}"\ntitle = "{step_id}"\n'
            f'do = {{ kind = "manual", instruction = "do {step_id}" }}\n'
            f"after = [{deps}]\nbudget = {budget}\n")


# Two streams after `open`: the database (backup 600 s, restore 900 s) and the apps
# (stop 60 s, start 120 s); `switch` waits for both.
DIAMOND = "".join([
    '\n[[phases]]\nid = "window"\ntitle = "The window"\n',
    step("open", 30), step("stop-apps", 60, ("open",)), step("backup", 600, ("open",)),
    step("start-apps", 120, ("stop-apps",)), step("restore", 900, ("backup",)),
    step("switch", 45, ("start-apps", "restore")),
])


@pytest.fixture
def diamond(tmp_path: Path) -> Plan:
    return write_plan(tmp_path, DIAMOND)[1]


def budgets(plan: Plan) -> dict[str, float]:
    return {s.id: s.budget for s in plan.steps()}


def test_the_critical_path_is_the_longest_chain_not_the_plan_order(diamond: Plan) -> None:
    assert critical_path(diamond, budgets(diamond)) == ["open", "backup", "restore", "switch"]


def test_the_durations_given_decide_the_path(diamond: Plan) -> None:
    quick_database = {**budgets(diamond), "backup": 10.0, "restore": 10.0}
    assert critical_path(diamond, quick_database) == [
        "open", "stop-apps", "start-apps", "switch"]


def test_a_step_without_a_duration_weighs_its_budget(diamond: Plan) -> None:
    assert critical_path(diamond, {"start-apps": 5000.0}) == [
        "open", "stop-apps", "start-apps", "switch"]


def test_thousands_of_chained_steps_need_no_recursion(tmp_path: Path) -> None:
    count = 3000
    chain = "".join(step(f"s{n}", 1, (f"s{n - 1}",) if n else ()) for n in range(count))
    _, plan = write_plan(tmp_path, '\n[[phases]]\nid = "long"\ntitle = "Long"\n' + chain)
    path = critical_path(plan, {})
    assert len(path) == count and path[0] == "s0" and path[-1] == f"s{count - 1}"


# --- the projection ------------------------------------------------------------------------


def log(*events: tuple[int, str, str | None, dict[str, Any]]) -> list[AuditEntry]:
    """Entries at T0 + seconds."""
    actor = Actor(user="jo", host="jump1")
    return [AuditEntry(seq=n + 1, ts=T0 + timedelta(seconds=at), session="s", actor=actor,
                       mode="driver", event=event, step=step_id, detail=detail,
                       prev="0" * 64, hash="0" * 64)
            for n, (at, event, step_id, detail) in enumerate(events)]


def view_of(plan: Plan, entries: list[AuditEntry]) -> SessionView:
    return SessionView(plan, derive(plan, entries), entries)


def opened_then_backing_up(*progress: tuple[int, dict[str, Any]]) -> list[AuditEntry]:
    return log((0, "step.started", "open", {}), (30, "step.succeeded", "open", {}),
               (30, "step.started", "backup", {}),
               *((at, "step.progress", "backup", detail) for at, detail in progress))


def test_before_the_first_step_there_is_no_projection(diamond: Plan) -> None:
    assert forecast(view_of(diamond, []), T0) is None


def test_the_end_follows_the_critical_path_not_the_sum_of_budgets(diamond: Plan) -> None:
    entries = log((0, "step.started", "open", {}), (30, "step.succeeded", "open", {}))
    projected = forecast(view_of(diamond, entries), T0 + timedelta(seconds=30))
    assert projected is not None
    # backup, restore, switch: 1545 s after now; the apps' stream runs beside them.
    assert projected.ends == T0 + timedelta(seconds=30 + 1545)
    assert projected.path == ["backup", "restore", "switch"]


def test_sql_servers_estimate_is_the_running_backups_eta(diamond: Plan) -> None:
    entries = opened_then_backing_up((130, {"message": "BACKUP 40%", "percent": 40.0,
                                            "eta_ms": 150_000}))
    projected = forecast(view_of(diamond, entries), T0 + timedelta(seconds=140))
    assert projected is not None
    # 150 s from the sample, 10 s ago; then restore and switch.
    assert projected.ends == T0 + timedelta(seconds=140 + 140 + 945)


def test_without_an_estimate_the_percents_rate_gives_the_eta(diamond: Plan) -> None:
    entries = opened_then_backing_up((130, {"message": "BACKUP 25%", "percent": 25.0}))
    projected = forecast(view_of(diamond, entries), T0 + timedelta(seconds=130))
    assert projected is not None
    # 25% in 100 s: 300 s more.
    assert projected.ends == T0 + timedelta(seconds=130 + 300 + 945)


def test_an_operation_at_100_percent_leaves_nothing_of_its_step(diamond: Plan) -> None:
    entries = opened_then_backing_up((130, {"percent": 100.0, "eta_ms": 0}))
    projected = forecast(view_of(diamond, entries), T0 + timedelta(seconds=131))
    assert projected is not None
    assert projected.ends == T0 + timedelta(seconds=131 + 945)


def test_without_progress_the_rest_of_the_budget_is_left(diamond: Plan) -> None:
    entries = opened_then_backing_up()
    projected = forecast(view_of(diamond, entries), T0 + timedelta(seconds=230))
    assert projected is not None and not projected.late
    assert projected.ends == T0 + timedelta(seconds=230 + 400 + 945)


def test_two_running_steps_each_count_on_their_own_stream(diamond: Plan) -> None:
    entries = [*opened_then_backing_up((130, {"percent": 50.0})),
               *log((140, "step.started", "stop-apps", {}))]
    projected = forecast(view_of(diamond, entries), T0 + timedelta(seconds=150))
    assert projected is not None
    # backup: 50% in 100 s, 100 s more from its sample: 80 s from now; then restore, switch.
    assert projected.ends == T0 + timedelta(seconds=150 + 80 + 945)
    assert projected.path[0] == "backup"


def test_a_step_past_its_budget_turns_the_projection_red(diamond: Plan) -> None:
    entries = opened_then_backing_up()
    now = T0 + timedelta(seconds=30 + 601)
    view = view_of(diamond, entries)
    projected = forecast(view, now)
    assert projected is not None and projected.late and projected.overrun == ["backup"]
    assert window_clock_style(view, now) == "bold red"
    assert window_clock_style(view, T0 + timedelta(seconds=31)) == ""


def test_the_header_says_the_projected_end_and_the_spare(diamond: Plan) -> None:
    entries = log((0, "step.started", "open", {}), (30, "step.succeeded", "open", {}))
    shown = window_clock(view_of(diamond, entries), T0 + timedelta(seconds=30))
    # 1575 s of the window's budget used: the rest is spare.
    assert shown == f"window 0:00:30 / {clock_of(diamond)} | ends ~01:26Z ({spare(diamond)})"
    assert len(" drives: jo@jump1 | " + shown) <= 80


def clock_of(plan: Plan) -> str:
    from cockpit.session.view import clock

    return clock(plan.plan.budget)


def spare(plan: Plan) -> str:
    from cockpit.session.view import clock

    left = plan.plan.budget - 1575
    return f"{clock(left)} spare" if left >= 0 else f"{clock(-left)} OVER"



def test_the_header_draws_the_clock_red_while_a_step_overruns(diamond: Plan) -> None:
    from cockpit.ui.widgets.header import render_header

    view = view_of(diamond, opened_then_backing_up())

    def clock_styles(at: float) -> set[str]:
        header = render_header(view, mode="DRIVER", now=T0 + timedelta(seconds=at))
        start = header.plain.index(" | window ")
        return {str(span.style) for span in header.spans
                if span.start <= start + 3 < span.end}

    assert "bold red" in clock_styles(30 + 601)
    assert "bold red" not in clock_styles(30 + 599)
