"""Replay's recording: how big `panes.jsonl` grows over a 3-hour window on the ten-times
estate, and what recording one pane's view costs the poller that does it.

The views are the cockpit's own: the ten-times plan (`bench/scale.py`: 60 app servers,
4 target groups of 40, 30 names on 3 resolvers) on the in-process sim, canary switched,
every pane polled through the driver's session. Its SQL side is given the shape of the
scale's (20 databases in an AG of 3 replicas: 60 AG rows; a backup or restore row per
database), since restoring 20 databases in the sim would take the bench longer than the
figure is worth.

A 3-hour window is then played through the real `PaneRecorder`: every pane polled every
`pane_every_s` (2 s), and one pane (the DNS one, the widest) polled every
`pane_fast_every_s` (0.5 s) for the whole window, as if a step waited on it throughout.
What changes between polls is pessimistic on purpose: every app server's latency, every
resolver's TTL, every replica's send and redo queue and every backup's percent, rate, ETA
and bytes change at every poll; a target changes state every 30 s. (In life most polls
change far less: a repoll to the same view records nothing.)

Printed: the bytes of every part after the window, the lines written, the per-record
cost (p50 and p99 of `PaneRecorder.record`, a changed view and an unchanged one), and what
reading it back costs a replay (read every part, play to the end, build every pane's view;
the memory that takes). Never asserted.

    python -m bench.replay_size [--hours 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import Figure, note, percentile, report
from bench.harness import open_driver, refresh_all, switch_canary
from bench.scale import Scale, build
from cockpit.runner.pane_recording import PaneRecorder, read_recording
from cockpit.runner.panes import PANES, PaneRow, PaneView
from cockpit.session.folder import SessionFolder
from cockpit.settings import PollingSettings

TARGET_MB = 50.0
DATABASES, REPLICAS = 20, 3


def scaled_views(tmp: Path) -> dict[str, PaneView]:
    """The ten-times estate's panes as the driver's session builds them."""
    plan_file, _plan = build(Scale(), tmp)
    with open_driver(plan_file, tmp / "probe-session") as driver, \
            ThreadPoolExecutor(max_workers=len(PANES)) as pool:
        switch_canary(driver)
        refresh_all(driver.session, pool)
        views = dict(driver.session.view().panes)
    views["ag"] = _ag_at_scale()
    views["backup"] = _backup_at_scale()
    return views


def _ag_at_scale() -> PaneView:
    rows = [PaneRow(status="ok", cells=[
        "oms-ag", f"sql-{r + 1}", "primary" if r == 0 else "secondary", f"oms_db_{d:02d}",
        "SYNCHRONIZED", "HEALTHY", "0", "0"]) for d in range(DATABASES) for r in range(REPLICAS)]
    return PaneView(pane="ag", title=PANES["ag"], rows=rows, columns=[
        "AG", "replica", "role", "db", "sync", "health", "send KB", "redo KB"])


def _backup_at_scale() -> PaneView:
    rows = [PaneRow(status="info", cells=[
        "restore @ sql-2", f"oms_db_{d:02d}", "0", "-", "-", "-", "-"]) for d in range(DATABASES)]
    return PaneView(pane="backup", title=PANES["backup"], rows=rows, columns=[
        "operation", "db", "%", "rate", "ETA", "S3 parts", "bytes"])


# --- what changes from one poll to the next (pessimistic: see the module's docstring) -----

def _changed(view: PaneView, poll: int, columns: list[str]) -> list[PaneRow]:
    at = [view.columns.index(c) for c in columns if c in view.columns]
    rows = []
    for i, row in enumerate(view.rows):
        cells = list(row.cells)
        for j in at:
            if cells[j] not in ("", "-") or view.pane in ("ag", "backup"):
                cells[j] = str((poll * 7 + i * 13 + j) % 97)
        rows.append(PaneRow.model_construct(status=row.status, cells=cells))
    return rows


def _targets(view: PaneView, poll: int, now_s: float) -> list[PaneRow]:
    rows = [PaneRow.model_construct(status=r.status, cells=list(r.cells)) for r in view.rows]
    flap = int(now_s // 30)
    if flap % 2 and rows:  # one target unhealthy for 30 s, then healthy again
        row = rows[flap % len(rows)]
        row.cells[4], row.status = "unhealthy", "bad"
    return rows


VOLATILE: dict[str, Callable[[PaneView, int, float], list[PaneRow]]] = {
    "apps": lambda v, n, _t: _changed(v, n, ["ms"]),
    "targets": _targets,
    "dns": lambda v, n, _t: _changed(v, n, ["TTL"]),
    "ag": lambda v, n, _t: _changed(v, n, ["send KB", "redo KB"]),
    "backup": lambda v, n, _t: _changed(v, n, ["%", "rate", "ETA", "bytes"]),
}


def record_window(views: dict[str, PaneView], folder: SessionFolder, hours: float,
                  polling: PollingSettings) -> tuple[PaneRecorder, list[float], list[float]]:
    """Play the window's polls through the recorder; the cost of each changed record and
    of each repoll that changed nothing."""
    recorder = PaneRecorder(folder.panes, folder.pane_part)
    start = datetime(2026, 3, 14, 1, 0, tzinfo=UTC)
    schedule = sorted(
        [(k * polling.pane_every_s, pane) for pane in PANES
         for k in range(int(hours * 3600 / polling.pane_every_s))]
        + [(k * polling.pane_fast_every_s, "dns")
           for k in range(int(hours * 3600 / polling.pane_fast_every_s))])
    changed, unchanged = [], []
    polls: dict[str, int] = {}
    for at_s, pane in schedule:
        poll = polls[pane] = polls.get(pane, -1) + 1
        base = views[pane]
        view = PaneView.model_construct(
            pane=pane, title=base.title, columns=base.columns,
            rows=VOLATILE[pane](base, poll // 2, at_s),  # every other poll repeats the last
            error=None, note=base.note, taken_at=start + timedelta(seconds=at_s))
        began = time.perf_counter()
        wrote = recorder.record(view)
        (changed if wrote else unchanged).append(time.perf_counter() - began)
    recorder.close()
    return recorder, changed, unchanged


def measure(hours: float) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        views = scaled_views(Path(tmp))
        note("panes at ten times: " + ", ".join(
            f"{name} {len(view.rows)} rows" for name, view in sorted(views.items())))
        folder = SessionFolder(Path(tmp) / "window")
        folder.create()
        recorder, changed, unchanged = record_window(views, folder, hours, PollingSettings())
        parts = folder.pane_parts()
        size_mb = sum(p.stat().st_size for p in parts) / 1e6
        read_s, play_s, held_mb = read_back(folder)
    note(f"{recorder.written:,} lines written in {len(parts)} part(s); "
         f"{len(unchanged):,} repolls recorded nothing")
    return [
        report(Figure(f"panes.jsonl after a {hours:g} h window at 10x", size_mb, "MB",
                      TARGET_MB, "max")),
        report(Figure("record a changed pane view, p50", percentile(changed, 50) * 1e6, "us")),
        report(Figure("record a changed pane view, p99", percentile(changed, 99) * 1e6, "us")),
        report(Figure("repoll to the same view, p50", percentile(unchanged, 50) * 1e6, "us")),
        report(Figure("replay: read that window's recording", read_s, "s")),
        report(Figure("replay: play it to its end and build every pane", play_s, "s")),
        report(Figure("replay: memory the read recording holds", held_mb, "MB")),
    ]


def read_back(folder: SessionFolder) -> tuple[float, float, float]:
    """What `cockpit replay` does with the recording before its first frame at the end:
    timed, then done again under tracemalloc (which slows it) for the memory it holds."""
    began = time.perf_counter()
    played = read_recording(p.read_bytes() for p in folder.pane_parts())
    read_s = time.perf_counter() - began
    began = time.perf_counter()
    played.play_to(played.times[-1])
    played.views()
    play_s = time.perf_counter() - began
    del played
    tracemalloc.start()
    held = read_recording(p.read_bytes() for p in folder.pane_parts())
    held.play_to(held.times[-1])
    held.views()
    held_mb = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    return read_s, play_s, held_mb


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0)
    args = parser.parse_args(argv)
    return measure(args.hours)


if __name__ == "__main__":
    main()
