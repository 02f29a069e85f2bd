"""The last minutes of a pane's moving figures, as a sparkline column of its own.

A replica's send and redo queues and an app server's latency say more as a shape than as
the latest number: a queue draining, a latency climbing since the switch. The driver keeps
each row's recent samples and adds a `trend` cell to the view it publishes and records,
so every watcher, the browser and a replay show the same picture, and a watcher that joins
late sees the minutes before it came.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from cockpit.pictures import sparkline
from cockpit.runner.panes import PaneRow, PaneView, laid_out

WINDOW_S = 300.0  # the minutes a trend covers
SLOTS = 6  # characters per series, one per 50 s: narrow, as the panes share the screen


@dataclass(frozen=True)
class TrendSpec:
    """Which cells name a row, and which hold the figures drawn."""

    key: tuple[str, ...]
    series: tuple[str, ...]
    column: str


TRENDS = {
    "apps": TrendSpec(key=("server",), series=("ms",), column="ms 5m"),
    "ag": TrendSpec(key=("AG", "replica", "db"), series=("send KB", "redo KB"),
                    column="send|redo 5m"),
}


@dataclass
class _Series:
    samples: deque[tuple[float, float]] = field(default_factory=deque)


class PaneTrends:
    """Per pane, per row, per figure: the samples of the last `window_s` seconds."""

    def __init__(self, window_s: float = WINDOW_S, slots: int = SLOTS) -> None:
        self.window_s, self.slots = window_s, slots
        self._series: dict[tuple[str, tuple[str, ...], str], _Series] = {}

    def add(self, view: PaneView) -> PaneView:
        """`view` with a trend column when its pane has one (and its figures are there)."""
        spec = TRENDS.get(view.pane)
        if spec is None or spec.column in view.columns or \
                not all(c in view.columns for c in (*spec.key, *spec.series)):
            return view  # (a failed poll shows the last view, its trend as it was)
        now = view.taken_at.timestamp()
        keys = [view.columns.index(c) for c in spec.key]
        figures = [view.columns.index(c) for c in spec.series]
        rows = [self._row(view.pane, row, keys, figures, spec.series, now) for row in view.rows]
        # Built anew, not copied: the copy would keep the widths and lines laid out for the
        # view without its trend.
        return laid_out(PaneView(pane=view.pane, title=view.title, rows=rows,
                                 columns=[*view.columns, spec.column], error=view.error,
                                 note=view.note, taken_at=view.taken_at))

    def _row(self, pane: str, row: PaneRow, keys: list[int], figures: list[int],
             names: tuple[str, ...], now: float) -> PaneRow:
        key = tuple(row.cells[i] for i in keys)
        drawn = [self._draw((pane, key, name), figure(row.cells[i]), now)
                 for i, name in zip(figures, names, strict=True)]
        return PaneRow(cells=[*row.cells, "|".join(drawn)], status=row.status)

    def _draw(self, at: tuple[str, tuple[str, ...], str], value: float | None,
              now: float) -> str:
        series = self._series.setdefault(at, _Series())
        if value is not None:
            series.samples.append((now, value))
        while series.samples and series.samples[0][0] <= now - self.window_s:
            series.samples.popleft()
        return sparkline(self._slots(series, now))

    def _slots(self, series: _Series, now: float) -> list[float | None]:
        """The window in slots of fixed times (so a slot does not move between polls),
        oldest first: each the highest sample in it, a space where there was none (before
        the window started, or a failed poll)."""
        slots: list[float | None] = [None] * self.slots
        width = self.window_s / self.slots
        current = math.floor(now / width)
        for taken, value in series.samples:
            index = self.slots - 1 - (current - math.floor(taken / width))
            if 0 <= index < self.slots:
                slots[index] = max(value, slots[index] or 0.0)
        return slots


def figure(cell: str) -> float | None:
    """A pane cell's number (`1,204`), or None for `-` and words."""
    try:
        return float(cell.replace(",", ""))
    except ValueError:  # `-`, a timeout's words: no sample
        return None
