"""The runbook: every step with its status, id, stream, title, duration and key; steps of
different streams may run side by side, each row its own status and clock; the steps on
the critical path (what the window's end waits on) are marked."""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime

from rich.text import Text
from textual.widgets import DataTable

from cockpit.plan.models import Plan
from cockpit.runner.state import RunState, Status, StepState

# Words, not colour alone: the marks must read in 16 colours and with NO_COLOR.
MARKS: dict[Status, tuple[str, str]] = {
    Status.PENDING: ("wait", "dim"),
    Status.READY: ("ready", "bold"),
    Status.RUNNING: ("RUN..", "bold reverse cyan"),
    Status.SUCCEEDED: ("done", "green"),
    Status.FAILED: ("FAIL", "bold reverse red"),
    Status.SKIPPED: ("skip", "yellow"),
    Status.UNDONE: ("undone", "magenta"),
    Status.INTERRUPTED: ("INTR!", "bold reverse yellow"),
}


def duration(state: StepState, budget: float, now: datetime | None = None) -> str:
    def fmt(seconds: float) -> str:
        return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"

    if state.duration_s is not None:
        return f"{fmt(state.duration_s)}/{fmt(budget)}"
    if state.status is Status.RUNNING and state.started_at is not None and now is not None:
        return f"{fmt((now - state.started_at).total_seconds())}/{fmt(budget)}"
    return f"-/{fmt(budget)}"


class Runbook(DataTable[Text]):
    """A row per step; the cursor selects the step that the keys act on."""

    def setup(self, plan: Plan) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = False
        self.add_column("st", key="status", width=6)
        self.add_column("key", key="key", width=3)
        self.add_column("step", key="step")
        self.add_column("time", key="time", width=9)
        self.add_column("what", key="what")
        for step in plan.steps() + plan.rollback_steps():
            self.add_row(*[Text("")] * 5, key=step.id)
        self._plan = plan
        self._shown: dict[str, dict[str, tuple[object, ...]]] = {}  # step: column: drawn

    def show(self, run: RunState, now: datetime | None = None,
             critical: Set[str] = frozenset()) -> None:
        """`critical`: the steps on the critical path, marked `◆` (as in the export). Only
        the cells that differ from what is shown are updated: any update makes the table
        draw every visible row again (its caches are keyed by an update count), and the
        screen redraws the runbook every second while a step runs."""
        for step in self._plan.steps() + self._plan.rollback_steps():
            state = run.step(step.id)
            mark, style = MARKS[state.status]
            critical_mark = "◆ " if step.id in critical else "  "
            title = f"rollback: {step.title}" if self._plan.is_rollback(step.id) else step.title
            self._show_cells(step.id, {
                "status": Text(mark, style=style),
                "key": Text(step.key or "", style="bold"),
                "step": Text(critical_mark + step.id, style="bold" if state.status in (
                    Status.RUNNING, Status.READY) else ""),
                "time": Text(duration(state, step.budget, now)),
                "what": _what(title, state, step.stream),
            })

    def _show_cells(self, step_id: str, cells: dict[str, Text]) -> None:
        shown = self._shown.setdefault(step_id, {})
        for column, text in cells.items():
            drawn = _drawn(text)
            if shown.get(column) != drawn:
                shown[column] = drawn
                self.update_cell(step_id, column, text)

    @property
    def selected_step(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return str(row_key.value) if row_key.value is not None else None

    def select(self, step_id: str) -> None:
        self.move_cursor(row=self.get_row_index(step_id))


def _drawn(text: Text) -> tuple[object, ...]:
    """What a cell looks like: its characters, its style and its styled spans."""
    return (text.plain, str(text.style), tuple(text.spans))


def _what(title: str, state: StepState, stream: str | None = None) -> Text:
    # The stream first: side by side, the engineer reads who carries each running step.
    text = Text(f"{stream}: ", style="dim") if stream else Text()
    text.append(title)
    if state.waiting_on and state.status is Status.PENDING:
        text.append(f"  (after {', '.join(state.waiting_on)})", style="dim")
    if state.status in (Status.FAILED, Status.INTERRUPTED) and state.reason:
        text.append(f"  {state.reason}", style="red")
    elif state.status is Status.RUNNING and state.message:
        text.append(f"  {state.message}", style="cyan")
    elif state.status is Status.SKIPPED and state.reason:
        text.append(f"  skipped: {state.reason}", style="yellow")
    return text
