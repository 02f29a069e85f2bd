"""Each live pane said in a few characters, for the strip under the header.

At 80x24 one pane shows at a time: the strip is how the other four stay in sight, and a
pane's title carries the same count when its rows are too many to see. Everything here
reads the `PaneView`s the screens already have (the driver's own, or a watcher's copy from
`state.json`): no estate is asked anything, and the words are the same on both screens.
The verdict is a word as well as a style, so the strip reads in 16 colours and with
NO_COLOR.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from cockpit.runner.panes import PANES, PaneRow, PaneView

Verdict = Literal["ok", "warn", "bad", "info", "waiting"]

LABELS: dict[str, str] = {"apps": "apps", "targets": "ALB", "ag": "AG", "backup": "backup",
                          "dns": "DNS"}
NOT_POLLED = "…"  # one cell wide everywhere; the pane itself says "waiting"
SEPARATOR = " · "
ERROR = "err"


@dataclass(frozen=True)
class PaneSummary:
    pane: str
    label: str  # `ALB`; a backup pane says `restore` while a restore runs
    detail: str  # `2/2 healthy`, `51%`, `err`, `…`
    verdict: Verdict
    stale: bool = False
    brief: str = ""  # the detail in fewer words, for a line that is short of room

    @property
    def text(self) -> str:
        return f"{self.label} {self.detail}" + (" stale" if self.stale else "")

    def short(self, *, say_stale: bool = True) -> str:
        stale = " stale" if self.stale and say_stale else ""
        return f"{self.label} {self.brief or self.detail}{stale}"


def strip_parts(summaries: Sequence[PaneSummary], width: int) -> list[tuple[str, Verdict]]:
    """The strip's pieces, each with its verdict, in `width` cells if words can be spared:
    first every pane in full; else in brief, and when every pane is stale (a watcher of a
    session whose driver has gone) `stale:` said once in front. (A pane in error says
    `err` and nothing about its age: its data is not live either way.)"""
    full = [(s.text, s.verdict) for s in summaries]
    if _width(full) <= width:
        return full
    if any(s.stale for s in summaries) and all(s.stale or s.detail == ERROR for s in summaries):
        return [("stale:", "warn"), *((s.short(say_stale=False), s.verdict) for s in summaries)]
    return [(s.short(), s.verdict) for s in summaries]


def _width(parts: list[tuple[str, Verdict]]) -> int:
    return sum(len(text) for text, _ in parts) + len(SEPARATOR) * max(0, len(parts) - 1)


def summarise_panes(views: Mapping[str, PaneView], now: datetime,
                    stale_after_s: float) -> list[PaneSummary]:
    """Every pane, in the order the screen lays them out, polled or not yet."""
    return [summarise_pane(pane, views.get(pane), now, stale_after_s) for pane in PANES]


def summarise_pane(pane: str, view: PaneView | None, now: datetime,
                   stale_after_s: float) -> PaneSummary:
    label = LABELS[pane]
    if view is None:
        return PaneSummary(pane, label, NOT_POLLED, "waiting")
    if view.error:  # whatever rows it still has may be what failed to be read
        return PaneSummary(pane, label, ERROR, "bad")
    if not view.columns:  # the plan has nothing for this pane: its note says so
        return PaneSummary(pane, label, "n/a", "info")
    summary = _SUMMARISERS[pane](label, view)
    if view.age_s(now) > stale_after_s:  # a frozen count must not pass for a live one
        verdict: Verdict = "bad" if summary.verdict == "bad" else "warn"
        return replace(summary, verdict=verdict, stale=True)
    return summary


def pane_count(view: PaneView) -> str | None:
    """What a pane's title adds once it has rows: with hundreds of targets only a few fit,
    and the count says what the rest are. Errors and age are the pane's subtitle's."""
    if view.error or not view.columns or not view.rows or view.pane not in _SUMMARISERS:
        return None
    summary = _SUMMARISERS[view.pane](LABELS[view.pane], view)
    return summary.text if view.pane == "backup" else summary.detail


def _counted(pane: str, label: str, rows: list[PaneRow], suffix: str = "") -> PaneSummary:
    """`3/4`: rows ok of rows judged. Any bad row makes it bad, else any short is a warning."""
    judged = [r for r in rows if r.status != "info"]
    ok = sum(r.status == "ok" for r in judged)
    counted = f"{ok}/{len(judged)}"
    return PaneSummary(pane, label, f"{counted} {suffix}".strip(),
                       _worst(judged) if judged else "info", brief=counted)


def _worst(rows: list[PaneRow]) -> Verdict:
    statuses = {r.status for r in rows}
    return "bad" if "bad" in statuses else "warn" if "warn" in statuses else "ok"


def _apps(label: str, view: PaneView) -> PaneSummary:
    return _counted("apps", label, view.rows)


def _targets(label: str, view: PaneView) -> PaneSummary:
    """Healthy of registered, across every group: `(no targets)` rows judge nothing."""
    if not any(r.status != "info" for r in view.rows):
        return PaneSummary("targets", label, "no targets", "info")
    return _counted("targets", label, view.rows, "healthy")


_SYNC_WORDS = {"SYNCHRONIZED": "SYNC", "SYNCHRONIZING": "SYNCING",
               "NOT SYNCHRONIZING": "NOT SYNC"}


def _ag(label: str, view: PaneView) -> PaneSummary:
    """`SYNC` when every replica is as it should be; else the worst replica's sync state
    and how many are fine."""
    if not view.rows:
        return PaneSummary("ag", label, "no replicas", "info")
    verdict = _worst(view.rows)
    if verdict == "ok" and not any(_cell(view, r, "sync") not in ("", "-") for r in view.rows):
        # Healthy replicas with no database joined yet (before the restore): not "SYNC".
        up = f"{len(view.rows)}/{len(view.rows)}"
        return PaneSummary("ag", label, f"{up} up, no db", "ok", brief=f"{up} no db")
    if verdict == "ok":
        return PaneSummary("ag", label, "SYNC", "ok")
    worst = next(r for r in view.rows if r.status == verdict)
    state = _cell(view, worst, "sync")
    ok = sum(r.status == "ok" for r in view.rows)
    return PaneSummary("ag", label, f"{_SYNC_WORDS.get(state, state)} {ok}/{len(view.rows)}",
                       verdict)


def _backup(label: str, view: PaneView) -> PaneSummary:
    """The running backup or restore's percent; else what S3 holds of the plan's backups."""
    running = [r for r in view.rows if _cell(view, r, "%").replace(".", "").isdigit()
               and not _is_landed(view, r) and not _is_shipping(view, r)]
    if running:
        first = running[0]
        operation = _cell(view, first, "operation").split(" ")[0] or label
        more = f" +{len(running) - 1}" if len(running) > 1 else ""
        return PaneSummary("backup", operation, f"{_cell(view, first, '%')}%{more}", "info")
    open_uploads = sum(_cell(view, r, "operation").startswith("open upload") for r in view.rows)
    if open_uploads:
        return PaneSummary("backup", label, f"{open_uploads} open upload", "warn")
    if any(_is_landed(view, r) for r in view.rows):
        return PaneSummary("backup", label, "in S3", "ok")
    replicas = [r for r in view.rows if _cell(view, r, "operation").startswith("restoring @")]
    if replicas:  # a pre-staged chain: how many replicas have every log the source took
        caught = sum(_cell(view, r, "ETA") == "caught up" for r in replicas)
        return PaneSummary("backup", label, f"{caught}/{len(replicas)} caught up",
                           "ok" if caught == len(replicas) else "warn")
    return PaneSummary("backup", label, "none", "info")


def _is_shipping(view: PaneView, row: PaneRow) -> bool:
    """A replica's share of the shipped logs restored: a chain's, not a running request."""
    return _cell(view, row, "operation").startswith("restoring @")


def _is_landed(view: PaneView, row: PaneRow) -> bool:
    return _cell(view, row, "operation").startswith(("in S3", "open upload"))


def _dns(label: str, view: PaneView) -> PaneSummary:
    """Resolver answers that match what the records should say; Route 53's own rows only
    when no resolver is named."""
    answers = [r for r in view.rows if _cell(view, r, "source") != "route53"]
    return _counted("dns", label, answers or view.rows)


def _cell(view: PaneView, row: PaneRow, column: str) -> str:
    """A row's cell by its column's name: the panes' column order is theirs to change."""
    try:
        return row.cells[view.columns.index(column)]
    except (ValueError, IndexError):
        return ""


_SUMMARISERS: dict[str, Callable[[str, PaneView], PaneSummary]] = {
    "apps": _apps, "targets": _targets, "ag": _ag, "backup": _backup, "dns": _dns}
