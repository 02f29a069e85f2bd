"""One line under the header saying every pane in a few characters.

`apps 4/4 · ALB 2/2 healthy · AG SYNC · backup 51% · DNS 3/3`: at 80x24, where one pane
shows at a time, this is how the other four stay in sight. The words carry the verdict
(`err`, `stale`, `3/4`); the style only repeats it. Short of room it says the same in
fewer words (`pane_summary.strip_parts`) before anything is cut.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from cockpit.runner.pane_summary import SEPARATOR, PaneSummary, strip_parts

VERDICT_STYLES = {"ok": "green", "warn": "bold yellow", "bad": "bold reverse red",
                  "info": "", "waiting": "dim"}


class StatusStrip(Static):
    """Redrawn when a pane changes and each second, for the age that makes a pane stale."""

    DEFAULT_CSS = """
    StatusStrip { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    summaries: tuple[PaneSummary, ...] = ()

    _drawn: Text | None = None  # rich's Text compares its characters and styled spans

    def show(self, summaries: Sequence[PaneSummary]) -> None:
        self.summaries = tuple(summaries)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        """Only when the line differs from the one shown, and without a layout: the strip
        is one line high whatever it says, and it is drawn at every pane's poll."""
        line = render_strip(self.summaries, self.content_size.width or 78)
        if line != self._drawn:
            self._drawn = line
            self.update(line, layout=False)


def render_strip(summaries: Sequence[PaneSummary], width: int) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    before = ""
    for text, verdict in strip_parts(summaries, width):
        if before:  # `stale:` leads the panes it is said of; panes are set apart
            line.append(" " if before.endswith(":") else SEPARATOR, style="dim")
        line.append(text, style=VERDICT_STYLES[verdict])
        before = text
    return line
