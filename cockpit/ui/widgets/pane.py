"""A live pane: a small table of rows, the age of its data, and its error inline."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from cockpit.pictures import progress_bar
from cockpit.runner.panes import PaneRow, PaneView

WIDE_ROWS = 11  # a pane's max-height (16) less its border, header and caption

ROW_STYLES = {"ok": "green", "warn": "yellow", "bad": "bold red", "info": ""}


class Pane(Static):
    """Renders whatever `PaneView` the driver built (or a watcher read from state.json)."""

    DEFAULT_CSS = "Pane { border: round $primary; padding: 0 1; height: 1fr; }"

    def __init__(self, pane: str, title: str, *, stale_after_s: float = 15.0,
                 **kwargs: object) -> None:
        super().__init__("no data yet", id=f"pane-{pane}", **kwargs)  # type: ignore[arg-type]
        self.pane = pane
        self.stale_after_s = stale_after_s
        self.border_title = title
        self.view: PaneView | None = None
        self.paused = False

    def show(self, view: PaneView) -> None:
        self.view = view
        self.update(render_pane(view, self._room()))

    def on_resize(self) -> None:
        if self.view is not None:
            self.update(render_pane(self.view, self._room()))

    def _room(self) -> int:
        """Rows that fit: a 160-target group must not be laid out to show ten of them."""
        height = self.content_size.height
        if self.screen.has_class("-compact") and height > 4:
            return height - 2  # the header row, and the caption or the "more" line
        return WIDE_ROWS

    def refresh_age(self, now: datetime | None = None) -> None:
        """Stale data is marked as such: a frozen pane must not pass for a live one."""
        if self.view is None:
            self.border_subtitle = "no data yet"
            return
        age = self.view.age_s(now or datetime.now(UTC))
        label = f"{age:.0f}s ago"
        if self.view.error:
            label = f"ERROR, {label}"
        if age > self.stale_after_s:
            label = f"STALE {label}"
        if self.paused:
            label = f"paused, {label}"
        self.border_subtitle = label
        self.set_class(age > self.stale_after_s, "-stale")
        self.set_class(bool(self.view.error), "-error")


def render_pane(view: PaneView, room: int = WIDE_ROWS) -> Table | Text:
    if not view.columns:
        return Text(view.error or view.note or "", style="red" if view.error else "dim")
    table = Table(box=None, expand=True, pad_edge=False, show_edge=False,
                  header_style="bold", padding=(0, 1))
    last = len(view.columns) - 1
    rows = [PaneRow(cells=_drawn(view.columns, r.cells), status=r.status) for r in view.rows]
    for index, column in enumerate(view.columns):
        # Every column but the last keeps its widest cell (up to a point): the last,
        # a reason or free text, is the one to give way on a narrow terminal.
        cells = [len(r.cells[index]) for r in rows if index < len(r.cells)]
        widest = max([len(column), *cells])
        table.add_column(column, overflow="ellipsis", no_wrap=True,
                         min_width=len(column) if index == last else min(widest, 26))
    shown = _fitting(rows, room)
    for row in shown:
        table.add_row(*row.cells, style=ROW_STYLES[row.status])
    hidden = [r for r in rows if r not in shown]
    if hidden:
        bad = sum(r.status in ("bad", "warn") for r in hidden)
        table.add_row(f"+{len(hidden)} more" + (f", {bad} not ok" if bad else ""),
                      style="bold yellow" if bad else "dim")
    if view.error:
        table.caption = f"ERROR: {view.error}"
        table.caption_style = "bold red"
    elif view.note:
        table.caption = view.note
        table.caption_style = "dim"
    return table


def _drawn(columns: list[str], cells: list[str]) -> list[str]:
    """A percent as a bar beside its figure: a backup's, a restore's, log shipping's."""
    if "%" not in columns:
        return cells
    at = columns.index("%")
    try:
        percent = float(cells[at])
    except (IndexError, ValueError):  # `-`: nothing running
        return cells
    return [*cells[:at], f"{progress_bar(percent, 8)} {cells[at]:>3}%", *cells[at + 1:]]


def _fitting(rows: list[PaneRow], room: int) -> list[PaneRow]:
    """The rows that fit, those that are not ok first: a problem is never the row cut."""
    if len(rows) <= room:
        return rows
    keep = room - 1
    ranked = sorted(range(len(rows)), key=lambda i: (rows[i].status not in ("bad", "warn"), i))
    chosen = sorted(ranked[:keep])
    return [rows[i] for i in chosen]
