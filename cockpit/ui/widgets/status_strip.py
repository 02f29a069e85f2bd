"""One line under the header saying every pane in a few characters.

`apps 4/4 · ALB 2/2 healthy · AG SYNC · backup 51% · DNS 3/3`: at 80x24, where one pane
shows at a time, this is how the other four stay in sight. The words carry the verdict
(`err`, `stale`, `3/4`); the style only repeats it.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from cockpit.runner.pane_summary import PaneSummary

SEPARATOR = " · "
VERDICT_STYLES = {"ok": "green", "warn": "bold yellow", "bad": "bold reverse red",
                  "info": "", "waiting": "dim"}


class StatusStrip(Static):
    """Redrawn when a pane changes and each second, for the age that makes a pane stale."""

    DEFAULT_CSS = """
    StatusStrip { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(self, summaries: list[PaneSummary]) -> None:
        self.update(render_strip(summaries))


def render_strip(summaries: list[PaneSummary]) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    for index, summary in enumerate(summaries):
        if index:
            line.append(SEPARATOR, style="dim")
        line.append(summary.text, style=VERDICT_STYLES[summary.verdict])
    return line
