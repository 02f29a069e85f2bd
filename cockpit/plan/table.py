"""A plan as a plain-text table: what `cockpit plan show` prints.

Plain ASCII on purpose: it is read over SSH, piped into change tickets and pasted into
chat, where colour codes and box-drawing characters turn into noise.
"""

from __future__ import annotations

import math

from cockpit.plan.critical_path import critical_path, path_length
from cockpit.plan.messages import printable
from cockpit.plan.models import Phase, Plan, Step

COLUMNS = ("step", "key", "kind", "until", "after", "budget", "confirm", "undo")


def render_plan_table(plan: Plan) -> str:
    """Per phase a heading and one row per step, then the step count and budget totals."""
    blocks = [printable(plan.plan.name), ""]
    for phase in plan.phases:
        blocks += [*_phase_table(phase), ""]
    blocks.append(_totals(plan))
    return "\n".join(blocks)


def format_duration(seconds: float) -> str:
    """`90` -> `1m30s`, `3600` -> `1h`, the way budgets are written in plan files."""
    if not math.isfinite(seconds):
        return "-"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts) or "0s"


def _phase_table(phase: Phase) -> list[str]:
    rows = [[[name] for name in COLUMNS], *(_row(step) for step in phase.steps)]
    widths = [max(len(text) for row in rows for text in row[n]) for n in range(len(COLUMNS))]
    rule = "  ".join("-" * width for width in widths)
    body = [line for row in rows[1:] for line in _lines(row, widths)]
    return [f"{phase.id}: {printable(phase.title)}", *_lines(rows[0], widths), rule, *body]


def _row(step: Step) -> list[list[str]]:
    """One cell per column; `until` and `after` put one entry per line to stay narrow."""
    return [
        [step.id],
        [step.key or ""],
        [_kind(step)],
        [condition.kind for condition in step.until] or [""],
        list(step.after) or [""],
        [format_duration(step.budget)],
        ["yes" if step.confirm else ""],
        [step.undo.kind if step.undo else ""],
    ]


def _kind(step: Step) -> str:
    """The action's kind; `check` for a step that only waits on conditions."""
    if step.do is not None:
        return step.do.kind
    return "check" if step.until or step.gates else "-"


def _lines(row: list[list[str]], widths: list[int]) -> list[str]:
    height = max(len(cell) for cell in row)
    return [
        "  ".join(
            (cell[n] if n < len(cell) else "").ljust(width)
            for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for n in range(height)
    ]


def _totals(plan: Plan) -> str:
    """Steps of different streams run side by side: the window takes its critical path,
    the longest chain of `after` by budgets, not the sum of every budget."""
    steps = plan.steps()
    total = sum(step.budget for step in steps)
    budgets = {step.id: step.budget for step in steps}
    longest = path_length(critical_path(plan, budgets), budgets)
    verdict = "within" if longest <= plan.plan.budget else "OVER"
    return (
        f"total: {len(steps)} steps, budget {format_duration(total)}; critical path "
        f"{format_duration(longest)} of {format_duration(plan.plan.budget)} ({verdict} the "
        "plan's budget)"
    )
