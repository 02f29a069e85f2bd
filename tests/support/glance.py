"""Reading the export's "Planned against actual" chart back: its rows and what is on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Row:
    step: str
    critical: bool
    figures: str = ""
    shapes: list[dict[str, str]] = field(default_factory=list)
    """Each bar and mark on the row: its attributes (`class`, `data-start`, `data-at`...)."""

    def shapes_of(self, kind: str) -> list[dict[str, str]]:
        return [s for s in self.shapes if kind in s.get("class", "").split()]


@dataclass
class Chart:
    rows: list[Row] = field(default_factory=list)
    lines: list[dict[str, str]] = field(default_factory=list)

    def row(self, step: str) -> Row:
        return next(row for row in self.rows if row.step == step)


class _ChartReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chart = Chart()
        self.depth = 0
        self.row: Row | None = None
        self.row_depth = 0
        self.in_figures = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "div":
            return
        self.depth += 1
        got = {k: v or "" for k, v in attrs}
        classes = got.get("class", "").split()
        if "gantt-row" in classes:
            self.row = Row(got["data-step"], "critical" in classes)
            self.row_depth = self.depth
            self.chart.rows.append(self.row)
        elif "ponr-line" in classes:
            self.chart.lines.append(got)
        elif self.row is not None and {"planned", "actual", "mark"} & set(classes):
            self.row.shapes.append(got)
        self.in_figures = "gantt-figures" in classes

    def handle_endtag(self, tag: str) -> None:
        if tag != "div":
            return
        if self.row is not None and self.depth == self.row_depth:
            self.row = None
        self.depth -= 1
        self.in_figures = False

    def handle_data(self, data: str) -> None:
        if self.in_figures and self.row is not None:
            self.row.figures += data


def read_chart(html: str) -> Chart:
    start = html.index("<h2>Planned against actual</h2>")
    reader = _ChartReader()
    reader.feed(html[start:html.index("</section>", start)])
    return reader.chart


def left_percent(shape: dict[str, str]) -> float:
    style = dict(part.split(":") for part in shape["style"].split(";"))
    return float(style["left"].rstrip("%"))
