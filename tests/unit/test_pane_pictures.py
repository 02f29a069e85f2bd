"""The pictures a pane draws: a bar beside a percent, and the last minutes of a replica's
queues or a server's latency as a sparkline that every screen and the replay share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit.pictures import progress_bar, sparkline
from cockpit.runner.pane_trends import PaneTrends
from cockpit.runner.panes import PaneRow, PaneView

START = datetime(2026, 12, 19, 22, 0, tzinfo=UTC)
AG_COLUMNS = ["AG", "replica", "role", "db", "sync", "health", "send KB", "redo KB"]


def test_a_bar_fills_with_its_percent() -> None:
    assert progress_bar(0, 10) == "░" * 10
    assert progress_bar(100, 10) == "█" * 10
    assert progress_bar(55, 10) == "█████▌░░░░"
    assert all(len(progress_bar(p, 8)) == 8 for p in range(0, 101, 3))
    assert progress_bar(250, 4) == "████" and progress_bar(-5, 4) == "░░░░"


def test_a_sparkline_rises_with_its_figures_and_leaves_gaps_blank() -> None:
    assert sparkline([0, 1, 2, 4, 8]) == "▁▂▃▅█"
    assert sparkline([None, 5, None, 10]) == " ▅ █"
    assert sparkline([0, 0, 0]) == "▁▁▁"  # nothing queued: flat on the floor
    assert sparkline([3], top=6) == "▅"


def ag_view(seconds: float, send: str, redo: str) -> PaneView:
    return PaneView(pane="ag", title="SQL availability group", columns=AG_COLUMNS,
                    taken_at=START + timedelta(seconds=seconds), rows=[
                        PaneRow(status="warn", cells=["oms-ag", "oms-sql-2", "secondary",
                                                      "OMS", "SYNCHRONIZING", "HEALTHY",
                                                      send, redo])])


def trend_of(view: PaneView) -> str:
    return view.rows[0].cells[view.columns.index("send|redo 5m")]


def test_a_replicas_queues_draining_show_as_a_falling_line() -> None:
    trends = PaneTrends()
    for step, queued in enumerate([9000, 7000, 5000, 3000, 1000, 0]):
        shown = trends.add(ag_view(step * 50, f"{queued:,}", f"{queued // 2:,}"))
    send, redo = trend_of(shown).split("|")
    assert len(send) == len(redo) == 6
    filled = send
    assert filled == "█▆▅▃▂▁" and list(filled) == sorted(filled, reverse=True)
    assert shown.rows[0].cells[:8] == ag_view(250, "0", "0").rows[0].cells  # figures kept


def test_a_trend_forgets_what_is_older_than_its_window() -> None:
    trends = PaneTrends(window_s=60, slots=6)
    trends.add(ag_view(0, "50,000", "0"))
    later = trends.add(ag_view(600, "10", "0"))
    assert trend_of(later).split("|")[0] == "     █"  # the old peak no longer scales it


def test_a_failed_poll_adds_no_sample_and_no_second_column() -> None:
    trends = PaneTrends()
    first = trends.add(ag_view(0, "100", "0"))
    gap = trends.add(ag_view(30, "-", "-"))
    assert trend_of(gap).split("|")[0].strip() == "█"  # the one sample, nothing invented
    assert trends.add(first) == first  # a view kept from before: already drawn


def test_the_pane_draws_a_bar_beside_a_running_restores_percent() -> None:
    view = PaneView(pane="backup", title="Backup and restore",
                    columns=["operation", "db", "%", "rate", "ETA", "S3 parts", "bytes"],
                    rows=[PaneRow(cells=["restore @ oms-sql-1", "OMS", "51", "-", "0:04:10",
                                         "-", "-"]),
                          PaneRow(cells=["in S3: oms/full.bak", "-", "-", "-", "-", "12",
                                         "1.2 GB"])])
    drawn = view.drawn()
    assert drawn[1][2].strip() == "████░░░░  51%"
    assert drawn[2][2].strip() == "-"  # nothing running: no bar
    assert view.rows[0].cells[2] == "51"  # the view itself is what was polled


def test_a_trend_is_laid_out_with_its_column() -> None:
    """The poller lays a view out before the trend is added: the view drawn must have
    the trend's column, not the widths of the view before it."""
    from cockpit.runner.panes import laid_out

    shown = PaneTrends().add(laid_out(ag_view(0, "1,204", "88")))
    assert len(shown.widths) == len(shown.columns) == len(AG_COLUMNS) + 1
    assert shown.drawn()[0][-1] == "send|redo 5m" and len(shown.drawn()[1]) == 9
