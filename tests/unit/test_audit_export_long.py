"""A long log, exported a line at a time, is the document the whole log read at once makes;
a line that is not an entry, however deep in the log, stops an export before any of it."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cockpit.audit import Actor, AuditEntry, AuditReadError, AuditWriter, read_entries, verify_log
from cockpit.audit import events as ev
from cockpit.audit.board import build_board
from cockpit.audit.export import CSV_COLUMNS, export_chunks, export_log
from cockpit.audit.line import render_ts
from cockpit.audit.render_html import render_html
from cockpit.audit.render_md import render_md
from cockpit.audit.scan import LogEntry
from cockpit.cli import main

JO = Actor(user="jo", host="jump1", ssh_client="10.1.1.5 50522 22")
SAM = Actor(user="sam", host="jump2")
STEPS = 500  # about nineteen entries a step: 9,500 entries, a 9 MB json export


def targets(n: int) -> dict[str, Any]:
    return {f"oms-app-{i}": {"state": "healthy" if (n + i) % 7 else "initial", "reason": None,
                             "latency_s": 1e-05 * (n % 3 + 1), "az": f"eu-west-1{'abc'[i % 3]}"}
            for i in range(1, 4)}


def one_step(w: AuditWriter, n: int) -> None:
    step = f"S{n:04d}"
    w.append(ev.STEP_STARTED, step=step, detail={"title": f"Check «{n}» *targets*",
                                                  "attempt": 1 + n % 2})
    for k in range(17):
        w.append(ev.STEP_PROGRESS, step=step, detail={
            "message": f"oms-web: {k % 4} target(s) not healthy | <yet>", "evidence": targets(k)})
    if n % 50 == 0:
        w.append(ev.STEP_PROGRESS, step=step, detail={
            "message": "done: registered", "outputs": {"registered": [f"i-0{n:x}"]}})
    end = ev.STEP_FAILED if n % 97 == 0 else ev.STEP_SUCCEEDED
    w.append(end, step=step, detail={
        "duration_s": 12.5 + n, "reason": "timed out\nafter 2m", "summary": f"rows {10**20 + n}",
        "gates": [{"gate": "sql.ag_healthy(ag=oms-ag)", "held": True, "summary": "healthy",
                   "evidence": {"replicas": [{"name": "OMS-SQL-1", "role": "PRIMARY"},
                                             {"name": "OMS-SQL-2", "role": "SECONDARY"}]}}],
        "evidence": {"rows": 120345 + n, "bytes": 1.5e16, "checked": [n, "ok", None, True]}})
    if n % 10 == 0:
        w.append(ev.NOTE_ADDED, step=step,
                 detail={"text": f"note {n}: all _quiet_ on «the» bridge"})


def write_long_window(log: Path, steps: int) -> None:
    for number, actor in enumerate((JO, SAM)):
        with AuditWriter(log, session=f"s{number}", actor=actor, mode="driver") as w:
            w.append(ev.SESSION_OPENED,
                     detail={"plan_name": "OMS window 1", "plan_sha256": "ab" * 32})
            for n in range(number * steps // 2, (number + 1) * steps // 2):
                one_step(w, n)
            w.append(ev.GATE_OVERRIDDEN, step="S0001", detail={
                "gate": "no_user_sessions", "reason": "the monitor", "evidence": {"sessions": 2}})
            w.append(ev.STEP_SKIPPED, step="S9999", detail={"reason": "TTL lowered last week"})
        if number == 0:
            with AuditWriter(log, session="s0", actor=JO, mode="driver") as w:
                w.append(ev.SESSION_CLOSED)


@pytest.fixture(scope="module")
def long_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    log = tmp_path_factory.mktemp("long") / "audit.jsonl"
    # Durability is not what these tests are about: 9,500 fsyncs would be most of their time.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda fd: None)
        write_long_window(log, STEPS)
    return log


@pytest.fixture(scope="module")
def entries(long_log: Path) -> list[AuditEntry]:
    return read_entries(long_log).entries


def whole_log_read_at_once(log: Path, entries: list[AuditEntry], fmt: str) -> str:
    """The export as the whole log read into `AuditEntry` models, then written out."""
    if fmt == "json":
        dumped = [entry.model_dump(mode="json") for entry in entries]
        return json.dumps(dumped, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return csv_of(entries)
    board = build_board([LogEntry.of(entry) for entry in entries], verify_log(log))
    return render_md(board) if fmt == "md" else render_html(board)


def csv_of(entries: list[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        detail = json.dumps(e.detail, ensure_ascii=False, separators=(",", ":"))
        writer.writerow([e.seq, render_ts(e.ts), e.actor.user, e.actor.host, e.mode, e.event,
                         e.step or "", detail, e.hash])
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["json", "csv", "md", "html"])
def test_a_long_log_exports_as_the_whole_log_read_at_once(long_log: Path,
                                                          entries: list[AuditEntry],
                                                          fmt: str) -> None:
    exported = export_log(long_log, fmt)
    assert exported == whole_log_read_at_once(long_log, entries, fmt)
    assert f"S{STEPS - 1:04d}" in exported and f"«{STEPS - 1}»" in exported


def test_the_long_logs_record_says_what_a_reader_checks(long_log: Path) -> None:
    md = export_log(long_log, "md")
    assert f"intact, {len(long_log.read_bytes().splitlines())} entries" in md
    assert "jo@jump1 from 10.1.1.5, sam@jump2" in md
    assert "(the last of 17 samples)" in md and "| failed |" in md
    assert md.count("**gate held: sql.ag_healthy(ag=oms-ag): healthy**") == STEPS


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_line_that_is_not_an_entry_deep_in_the_log_stops_the_export_first(
        long_log: Path, tmp_path: Path, fmt: str) -> None:
    lines = long_log.read_bytes().splitlines(keepends=True)
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b"".join([*lines[:9_000], b'{"seq": "not an entry"}\n', *lines[9_000:]]))
    with pytest.raises(AuditReadError, match="line 9001 is not an audit entry"):
        export_chunks(log, fmt)
    record = tmp_path / f"record.{fmt}"
    result = CliRunner().invoke(main, ["audit", "export", str(log), "--format", fmt,
                                       "-o", str(record)])
    assert result.exit_code == 2 and "line 9001 is not an audit entry" in result.stderr
    assert not record.exists()
