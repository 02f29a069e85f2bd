"""The cockpit's header: plan and phase, mode, who drives, AWS identity, window clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from rich.text import Text
from textual.widgets import Static

from cockpit.audit import events
from cockpit.session.abort_by import AbortBy, abort_by
from cockpit.session.forecast import Forecast, forecast
from cockpit.session.view import SessionView, clock


class CockpitHeader(Static):
    """Two lines; re-rendered each second for the clock, and when the session changes."""

    DEFAULT_CSS = """
    CockpitHeader { height: auto; max-height: 5; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    _drawn: Text | None = None  # rich's Text compares its characters and styled spans

    def show(self, view: SessionView, *, mode: str, hint: str = "", paused: bool = False,
             now: datetime | None = None) -> None:
        """Redrawn only when it reads differently; laid out again only when its number of
        lines changes (its height follows them)."""
        text = render_header(view, mode=mode, hint=hint, paused=paused, now=now)
        if text != self._drawn:
            lines_before = self._drawn.plain.count("\n") if self._drawn is not None else -1
            self._drawn = text
            self.update(text, layout=text.plain.count("\n") != lines_before)


def render_header(view: SessionView, *, mode: str, hint: str = "", paused: bool = False,
                  now: datetime | None = None) -> Text:
    now = now or datetime.now(UTC)
    line1 = Text(no_wrap=True, overflow="ellipsis")
    badge = f" {mode} " if mode == "DRIVER" else f" {mode} (read-only) "
    line1.append(badge, style="bold reverse" if mode == "DRIVER" else "bold reverse yellow")
    if mode == "WATCH" and not view.driver_alive and view.run.closed:
        line1.append(" SESSION CLOSED: the record below is final ", style="bold reverse")
    elif mode == "WATCH" and not view.driver_alive:
        line1.append(" DRIVER GONE: the data below is the last it saw ", style="bold reverse red")
    elif mode == "WATCH" and view.driver_hung_s is not None:
        line1.append(f" DRIVER HUNG: no heartbeat for {view.driver_hung_s:.0f} s ",
                     style="bold reverse red")
    line1.append(f" {view.plan.plan.name}", style="bold")
    line1.append(f" | AWS {view.aws_identity}")
    line1.append(f" | {view.current_phase()}")
    line2 = Text(no_wrap=True, overflow="ellipsis")
    line2.append(f" drives: {_who(view.driver)}")
    deadline = abort_by(view, now)
    # beside the window's budget, so that 80 columns still show it
    said = f"abort-by {deadline.abort_by:%H:%M}Z" if deadline is not None else ""
    # Projected once a render: the clock's text and its colour read the same forecast.
    projected = forecast(view, now) if view.completion() is None else None
    line2.append(" | " + window_clock(view, now, abort=said, projected=projected),
                 style=window_clock_style(view, now, projected=projected))
    rollback = rollback_state(view)
    if rollback is not None and not rollback.loud:
        line2.append(" | ")
        line2.append(rollback.text, style=rollback.style)
    if view.run.head:
        line2.append(f" | log #{view.run.head[0]} {view.run.head[1][:8]}")
    if view.mirror:
        line2.append(f" | {view.mirror}")
    if paused:
        line2.append("  POLLING PAUSED", style="bold reverse")
    line1.append("\n")
    line1.append_text(line2)
    if hint:  # its own line: a path must not be cut to make room for the clock
        line1.append("\n")
        line1.append(f" {hint}", style="dim")
    for approval in view.approvals[-1:]:  # the latest: the one the driver is on
        line1.append("\n")
        line1.append(f" {approval} ", style="bold reverse yellow")
    if rollback is not None and rollback.loud:  # its own line: never cut
        line1.append("\n")
        line1.append(f" {rollback.text} ", style=rollback.style)
    if deadline is not None and deadline.no_longer_fits:  # its own line, its words first
        line1.append("\n")
        line1.append(f" {no_longer_fits(deadline)} ", style="bold reverse red")
    for problem in (view.credentials_problem(), view.problem):
        if problem:
            line1.append("\n")
            line1.append(f" {problem} ", style="bold reverse red")
    return line1


class Rollback(NamedTuple):
    text: str
    style: str
    loud: bool  # forward-fix only: a line of its own


def rollback_state(view: SessionView) -> Rollback | None:
    """Whether the window can still be rolled back: once a point of no return has passed,
    forward-fix only (loud); while it is watched, where the first write is looked for."""
    passed = next(iter(view.run.ponr_passed.items()), None)
    if passed is not None:
        phase, entry = passed
        return Rollback(f"FORWARD-FIX ONLY since {entry.ts:%H:%M}Z: the first write on the "
                        f"new primary passed {phase}'s point of no return",
                        "bold reverse magenta", loud=True)
    rolling = view.run.rolling_back()
    if rolling is not None:
        return Rollback(f"ROLLING BACK {rolling.detail.get('phase')} since {rolling.ts:%H:%M}Z: "
                        f"{', '.join(str(s) for s in rolling.detail.get('steps') or [])}",
                        "bold reverse yellow", loud=True)
    ended = next((e for e in reversed(view.run.rollbacks) if e.event != events.ROLLBACK_REFUSED),
                 None)
    if ended is not None and view.run.rolled_back(str(ended.detail.get("phase"))) is ended:
        return Rollback(f"ROLLED BACK {ended.detail.get('phase')} at {ended.ts:%H:%M}Z",
                        "bold reverse yellow", loud=True)
    armed = next(iter(view.run.ponr_armed.items()), None)
    if armed is not None:
        phase, entry = armed
        where = f"{entry.detail.get('database')} on {entry.detail.get('endpoint')}"
        return Rollback(f"rollback open: watching {where}", "magenta", loud=False)
    return None


def no_longer_fits(deadline: AbortBy) -> str:
    """Within 78 columns, so an 80-column header never cuts it."""
    if deadline.running_ends is None:
        return (f"rollback no longer fits: abort-by {deadline.abort_by:%H:%M}Z has passed "
                f"(rollback {clock(deadline.rollback_s)})")
    return (f"rollback no longer fits: ends ~{deadline.running_ends:%H:%M}Z + rollback "
            f"{clock(deadline.rollback_s)} > window end {deadline.window_end:%H:%M}Z")


def _who(driver: str | None) -> str:
    """`jo@jump1`: the pid and since are in state.json and the lock, not worth the room."""
    return driver.split(" (pid")[0] if driver else "nobody"


def window_clock(view: SessionView, now: datetime, *, abort: str = "",
                 projected: Forecast | None = None) -> str:
    """The clock runs while the window does, and stops when the last step is done;
    `abort` (the abort-by) follows the budget. The end is projected along the critical
    path from the running steps' live ETAs (`session/forecast.py`)."""
    budget = view.plan.plan.budget
    complete = view.completion()
    if complete is not None:
        return f"{complete} (budget {clock(budget)})"
    started = view.window_started()
    projected = projected or forecast(view, now)
    if started is None or projected is None:
        return f"window not started, budget {clock(budget)}"
    elapsed = (now - started).total_seconds()
    over = -projected.spare_s
    verdict = f"{clock(over)} OVER" if over > 0 else f"{clock(-over)} spare"
    return (f"window {clock(elapsed)} / {clock(budget)}{f' | {abort}' if abort else ''}"
            f" | ends ~{projected.ends.strftime('%H:%M')}Z ({verdict})")


def window_clock_style(view: SessionView, now: datetime, *,
                       projected: Forecast | None = None) -> str:
    """Red while a running step is past its budget: its end, and so the window's, is no
    longer known."""
    if projected is None and view.completion() is None:
        projected = forecast(view, now)
    return "bold red" if projected is not None and projected.late else ""
