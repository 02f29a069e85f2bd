"""A live pane: a small table of rows, the age of its data, and its error inline.

The rows arrive laid out (each cell padded to its column's width, off the screen's thread:
`PaneView.drawn`), so showing a view is copying lines. Only the cells that changed are
repainted, and a poll that changed nothing repaints nothing: with every pane polled each
second, the screen stays free for the engineer's keys.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from os.path import commonprefix
from typing import ClassVar, Self

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from cockpit.runner.panes import PaneRow, PaneView

WIDE_ROWS = 11  # a pane's max-height (16) less its border, header and caption
GAP = "  "  # between two columns

ROW_STYLES = {"ok": "green", "warn": "yellow", "bad": "bold red", "info": ""}


@dataclass(frozen=True)
class Line:
    """One line of a pane as drawn: its cells (padded) and the style of the whole line."""

    cells: tuple[str, ...]
    style: str = ""

    @property
    def text(self) -> str:
        return GAP.join(self.cells)


class Pane(Widget):
    """Draws whatever `PaneView` the driver built (or a watcher read from state.json).

    Beside the others it shows what fits, its problems first, and counts the rest. Zoomed
    (the screen's `z`), it has the screen to itself and shows every row in the view's order,
    a page at a time: at 100x, 600 servers and 1,800 DNS rows can each be read."""

    DEFAULT_CSS = """
    Pane { border: round $primary; padding: 0 1; height: 1fr; }
    Pane:focus { border: round $accent; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "scroll_rows(1)", "Down", show=False),
        Binding("up,k", "scroll_rows(-1)", "Up", show=False),
        Binding("pagedown", "scroll_pages(1)", "Page down", show=False),
        Binding("pageup", "scroll_pages(-1)", "Page up", show=False),
        Binding("home", "scroll_rows(-1000000)", "First rows", show=False),
        Binding("end", "scroll_rows(1000000)", "Last rows", show=False),
    ]
    _border_line: int | None = None  # which border line, while its title is being set

    def __init__(self, pane: str, title: str, *, stale_after_s: float = 15.0,
                 **kwargs: object) -> None:
        super().__init__(id=f"pane-{pane}", **kwargs)  # type: ignore[arg-type]
        self.pane = pane
        self.stale_after_s = stale_after_s
        self._title, self._subtitle = title, ""
        self.border_title = title
        self.view: PaneView | None = None
        self.paused = False
        self._lines: list[Line] = [Line(("no data yet",))]
        self._caption = Line(())
        self._styles: dict[str, Style] = {}  # each row style over the pane's own
        self.first_row: int | None = None  # zoomed: the first row shown; None beside others
        self._base: Style | None = None

    def show(self, view: PaneView) -> None:
        self.view = view
        self._redraw()

    def on_resize(self) -> None:
        if self.view is not None:
            self._redraw()

    # --- zoomed: every row, a page at a time ------------------------------------------------

    def zoom(self, zoomed: bool) -> None:
        """Every row, from the first, at the pane's full height (False: back beside the
        others, problems first)."""
        self.first_row = 0 if zoomed else None
        self.can_focus = zoomed
        if self.view is not None:
            self._redraw()

    def action_scroll_rows(self, rows: int) -> None:
        if self.first_row is None or self.view is None:
            return
        last = max(len(self.view.rows) - self._room(), 0)
        first = min(max(self.first_row + rows, 0), last)
        if first != self.first_row:
            self.first_row = first
            self._redraw()

    def action_scroll_pages(self, pages: int) -> None:
        self.action_scroll_rows(pages * self._room())

    def _redraw(self) -> None:
        """Lay the view into lines, then repaint only what differs from what is drawn."""
        assert self.view is not None
        lines, caption = pane_lines(self.view, self._room(), self.content_size.width,
                                   self.first_row)
        if len(lines) != len(self._lines) or caption != self._caption:
            self._lines, self._caption = lines, caption
            self.refresh(layout=True)  # the height may change: draw it all again
            return
        changed = [_changed_region(old, new, y, self.size.width)
                   for y, (old, new) in enumerate(zip(self._lines, lines, strict=True))
                   if old != new]
        self._lines = lines
        if changed:
            self.refresh(*changed)

    def _room(self) -> int:
        """Rows that fit: a 160-target group must not be laid out to show ten of them."""
        height = self.content_size.height
        if (self.first_row is not None or self.screen.has_class("-compact")) and height > 4:
            return height - 2  # the header row, and the caption or the "more" line
        return WIDE_ROWS

    # --- drawing ----------------------------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines) + len(self._caption_lines(width))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y < len(self._lines):
            line = self._lines[y]
            return self._strip(_cropped(line.text, width), line.style, width)
        captions = self._caption_lines(width)
        index = y - len(self._lines)
        if 0 <= index < len(captions):  # under a table, centred as a table's caption is
            text = captions[index].center(width) if self._lines else captions[index]
            return self._strip(text, self._caption.style, width)
        return Strip.blank(width, self.visual_style.rich_style)

    def _caption_lines(self, width: int) -> list[str]:
        text = self._caption.text
        return textwrap.wrap(text, max(width, 1)) if text else []

    def _strip(self, text: str, style: str, width: int) -> Strip:
        # `visual_style` is cached until the widget's styles change; `rich_style` walks
        # every ancestor's styles on each call, which, per line drawn, costs frames.
        base = self.visual_style.rich_style
        if base is not self._base:
            self._base, self._styles = base, {}
        if style not in self._styles:
            self._styles[style] = base + (Style.parse(style) if style else Style())
        return Strip([Segment(text, self._styles[style])]).adjust_cell_length(width, base)

    # --- the age of the data ----------------------------------------------------------------

    def titled(self, title: str) -> None:
        """The border's title, set only when it reads differently, and only the top border
        line repainted (see `refresh`)."""
        if title != self._title:
            self._title = title
            with self._repainting_border(0):
                self.border_title = title

    def _label(self, label: str) -> None:
        """The border's subtitle (the data's age), likewise: it changes every second on
        every pane, and a whole pane repainted for it each time cost a fifth of the
        screen's drawing while the engineer moves through the runbook."""
        if label != self._subtitle:
            self._subtitle = label
            with self._repainting_border(-1):
                self.border_subtitle = label

    @contextmanager
    def _repainting_border(self, line: int) -> Iterator[None]:
        """While a border title is set, `refresh` repaints border line `line` alone."""
        self._border_line = line
        try:
            yield
        finally:
            self._border_line = None

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> Self:
        """As Widget's, except while a border title is set: Textual repaints the whole
        widget for it, when only that border line reads differently."""
        line = self._border_line
        if line is not None and not (regions or layout or recompose):
            regions = self._border_region(line)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _border_region(self, line: int) -> tuple[Region, ...]:
        """The border's top (0) or bottom (-1) line, in the content's coordinates as
        `refresh` takes regions; none (the whole pane) before the pane has a size."""
        outer = self.outer_size
        if not outer.height:
            return ()
        offset = self.content_offset
        y = (outer.height - 1 if line < 0 else 0) - offset.y
        return (Region(-offset.x, y, outer.width, 1),)

    def refresh_age(self, now: datetime | None = None) -> None:
        """Stale data is marked as such: a frozen pane must not pass for a live one."""
        if self.view is None:
            self._label("no data yet")
            return
        age = self.view.age_s(now or datetime.now(UTC))
        label = f"{age:.0f}s ago"
        if self.view.error:
            label = f"ERROR, {label}"
        if age > self.stale_after_s:
            label = f"STALE {label}"
        if self.paused:
            label = f"paused, {label}"
        self._label(label)
        self.set_class(age > self.stale_after_s, "-stale")
        self.set_class(bool(self.view.error), "-error")


def pane_lines(view: PaneView, room: int = WIDE_ROWS, width: int = 0,
               first_row: int | None = None) -> tuple[list[Line], Line]:
    """The lines a view is drawn as, and its caption (the error, else the note). Columns
    are as wide as their widest cell when `width` has room for that, else cut. From
    `first_row`, the rows in order (a zoomed pane); without it, the problems first."""
    if not view.columns:
        text = view.error or view.note or ""
        return [], Line((text,), "red" if view.error else "dim")
    natural = view.column_widths()
    drawn = view.drawn(capped=sum(natural) + len(GAP) * (len(natural) - 1) > width)
    if first_row is None:
        shown = _fitting(view.rows, room)
    else:
        first_row = min(first_row, max(len(view.rows) - room, 0))
        shown = list(range(first_row, min(first_row + room, len(view.rows))))
    lines = [Line(drawn[0], "bold")]
    kept = set(shown)
    lines += [Line(_named(drawn, view.rows, index, kept), ROW_STYLES[view.rows[index].status])
              for index in shown]
    if first_row is not None and view.rows:
        lines.append(_position(view.rows, shown))
    elif len(view.rows) > len(shown):
        hidden = len(view.rows) - len(shown)
        bad = sum(view.rows[i].status in ("bad", "warn") for i in _hidden(view.rows, shown))
        lines.append(Line((f"+{hidden} more" + (f", {bad} not ok" if bad else "") +
                           " (z: every row)",), "bold yellow" if bad else "dim"))
    return lines, _caption(view)


def _position(rows: list[PaneRow], shown: list[int]) -> Line:
    """Where a zoomed pane stands in its rows, and how many of them, shown or not, are
    not ok."""
    bad = sum(row.status in ("bad", "warn") for row in rows)
    where = f"rows {shown[0] + 1}-{shown[-1] + 1} of {len(rows)}"
    return Line((where + (f", {bad} not ok" if bad else "") +
                 " · ↑↓ PgUp PgDn Home End · z: back",), "bold yellow" if bad else "dim")


def _caption(view: PaneView) -> Line:
    if view.error:
        return Line((f"ERROR: {view.error}",), "bold red")
    return Line((view.note,), "dim") if view.note else Line(())


def _fitting(rows: list[PaneRow], room: int) -> list[int]:
    """The rows that fit, those that are not ok first: a problem is never the row cut."""
    if len(rows) <= room:
        return list(range(len(rows)))
    ranked = sorted(range(len(rows)), key=lambda i: (rows[i].status not in ("bad", "warn"), i))
    return sorted(ranked[:room - 1])


def _named(drawn: list[tuple[str, ...]], rows: list[PaneRow], index: int,
           shown: set[int]) -> tuple[str, ...]:
    """Row `index` as drawn. A row that leaves its first cell to the row above it (a
    resolver's answer under its name) takes that cell when the row above is cut, so a
    pane cut down to its problems still says what each problem row is about."""
    cells = drawn[index + 1]
    if rows[index].cells[:1] != [""] or index - 1 in shown:
        return cells
    above = next((i for i in range(index - 1, -1, -1) if rows[i].cells[:1] != [""]), None)
    return cells if above is None else (drawn[above + 1][0], *cells[1:])


def _hidden(rows: list[PaneRow], shown: list[int]) -> list[int]:
    visible = set(shown)
    return [i for i in range(len(rows)) if i not in visible]


def _cropped(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


def _changed_region(old: Line, new: Line, y: int, width: int) -> Region:
    """The stretch of line `y` that reads differently as drawn (cropped to the width), from
    its first differing character to its last; the whole line if its style changed. By
    character, not by cell: when a column widens, the cells after it move though their
    words are the same, and must be drawn again where they now stand."""
    if old.style != new.style:
        return Region(0, y, width, 1)
    before, after = _cropped(old.text, width), _cropped(new.text, width)
    length = max(len(before), len(after))
    before, after = before.ljust(length), after.ljust(length)
    start = len(commonprefix([before, after]))
    end = length - len(commonprefix([before[::-1], after[::-1]]))
    return Region(start, y, max(end - start, 0), 1)
