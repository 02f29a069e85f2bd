"""`panes.jsonl`: what is recorded, what is not, and that it reads back as it was shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.runner.pane_recording import PaneRecorder, read_recording
from cockpit.runner.panes import PaneRow, PaneView
from cockpit.session.folder import SessionFolder

START = datetime(2026, 3, 14, 1, 0, tzinfo=UTC)


def dns_view(seconds: float, ttl: int, answer: str = "oms-web.dc1.retail.example",
             error: str | None = None) -> PaneView:
    return PaneView(pane="dns", title="DNS", columns=["name", "source", "answer", "TTL"],
                    rows=[PaneRow(status="ok", cells=["orders", "route53", answer, ""]),
                          PaneRow(status="ok", cells=["", "dc-dns-1", answer, str(ttl)])],
                    error=error, taken_at=START + timedelta(seconds=seconds))


def recorder(folder: SessionFolder, part_bytes: int = 1 << 20) -> PaneRecorder:
    folder.create()
    return PaneRecorder(folder.panes, folder.pane_part, part_bytes=part_bytes)


def played(folder: SessionFolder) -> list[tuple[float, PaneView]]:
    """Every recorded moment and the DNS pane as it stood then."""
    playback = read_recording(p.read_bytes() for p in folder.pane_parts())
    seen = []
    for t in playback.times:
        playback.play_to(t)
        seen.append((t, playback.views()["dns"]))
    return seen


def drawn(view: PaneView) -> tuple[object, ...]:
    return (view.columns, [(r.status, r.cells) for r in view.rows], view.error, view.note,
            view.taken_at)


def test_a_pane_polled_to_the_same_view_records_nothing(tmp_path: Path) -> None:
    folder = SessionFolder(tmp_path)
    rec = recorder(folder)
    assert rec.record(dns_view(0, 60))
    assert not rec.record(dns_view(2, 60))  # a new poll, the same rows
    assert rec.record(dns_view(4, 58))
    assert len(folder.panes.read_bytes().splitlines()) == 2


def test_changes_read_back_as_the_views_that_were_shown(tmp_path: Path) -> None:
    folder = SessionFolder(tmp_path)
    rec = recorder(folder)
    shown = [dns_view(0, 60), dns_view(2, 58), dns_view(4, 56, "oms-alb-1.elb"),
             dns_view(6, 56, "oms-alb-1.elb", error="Throttling"), dns_view(8, 54)]
    for view in shown:
        rec.record(view)
    rec.close()
    assert [drawn(v) for _, v in played(folder)] == [drawn(v) for v in shown]
    lines = folder.panes.read_bytes().splitlines()
    assert b'"c"' in lines[0] and not any(b'"c"' in line for line in lines[1:])  # deltas


def test_rotated_parts_each_start_whole_and_read_back_in_order(tmp_path: Path) -> None:
    folder = SessionFolder(tmp_path)
    rec = recorder(folder, part_bytes=400)
    shown = [dns_view(i * 2, 60 - i) for i in range(20)]
    for view in shown:
        rec.record(view)
    rec.close()
    parts = folder.pane_parts()
    assert len(parts) > 2 and parts[-1] == folder.panes
    assert all(b'"c"' in p.read_bytes().splitlines()[0] for p in parts)
    assert all(p.stat().st_size <= 400 for p in parts)
    assert [drawn(v) for _, v in played(folder)] == [drawn(v) for v in shown]


def test_a_torn_last_line_is_skipped_and_the_next_driver_starts_a_new_one(
        tmp_path: Path) -> None:
    folder = SessionFolder(tmp_path)
    rec = recorder(folder)
    rec.record(dns_view(0, 60))
    rec.close()
    with folder.panes.open("ab") as torn:  # the driver died mid-write
        torn.write(b'{"t": 3.0, "p": "dns", "d": [[1, 4')
    again = recorder(folder)  # the next driver's session
    again.record(dns_view(10, 50))
    again.close()
    playback = read_recording([folder.panes.read_bytes()])
    assert playback.unreadable == 1
    assert [drawn(v) for _, v in played(folder)] == [drawn(dns_view(0, 60)),
                                                      drawn(dns_view(10, 50))]


def test_a_closed_recorder_records_nothing(tmp_path: Path) -> None:
    folder = SessionFolder(tmp_path)
    rec = recorder(folder)
    rec.close()
    assert not rec.record(dns_view(0, 60))
    assert folder.pane_parts() == []


def test_a_pane_polled_to_the_same_view_for_a_while_replays_as_fresh(tmp_path: Path) -> None:
    """The driver saw the pane polled every 2 s: replay must not call its view stale."""
    folder = SessionFolder(tmp_path)
    rec = recorder(folder)
    for seconds in range(0, 21, 2):
        rec.record(dns_view(seconds, 60))
    rec.close()
    lines = folder.panes.read_bytes().splitlines()
    assert 1 < len(lines) <= 1 + 20 // 5  # the view once, then its time every 5 s at most
    moments = played(folder)
    assert (START + timedelta(seconds=20) - moments[-1][1].taken_at).total_seconds() < 5
    assert all(drawn(v)[:4] == drawn(dns_view(0, 60))[:4] for _, v in moments)


def test_the_next_change_is_what_a_pane_showed_next_not_a_repoll(tmp_path: Path) -> None:
    folder = SessionFolder(tmp_path)
    rec = recorder(folder)
    for seconds in range(0, 13, 2):  # the same view to 12 s (repolls said at 6 s and 12 s)
        rec.record(dns_view(seconds, 60))
    rec.record(dns_view(14, 46))
    rec.close()
    playback = read_recording([folder.panes.read_bytes()])
    assert len(playback.lines) == 4
    assert playback.next_change_after(START.timestamp()) == START.timestamp() + 14
    assert playback.next_change_after(START.timestamp() + 14) is None


def test_a_recording_that_cannot_be_written_stops_without_failing_the_poll(
        tmp_path: Path) -> None:
    folder = SessionFolder(tmp_path / "gone")  # never created: every write fails
    rec = PaneRecorder(folder.panes, folder.pane_part)
    assert not rec.record(dns_view(0, 60))
    assert rec.failed is not None and "PANES NOT RECORDED" in rec.failed
    assert not rec.record(dns_view(2, 58))
