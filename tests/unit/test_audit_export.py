"""export_log: the change board's record (md, html) and the data exports (json, csv)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cockpit.audit import Actor, AuditEntry, AuditReadError, AuditWriter, Redactor, read_entries
from cockpit.audit import events as ev
from cockpit.audit.export import export_log

JO = Actor(user="jo", host="jump1", ssh_client="10.1.1.5 50522 22")
SAM = Actor(user="sam", host="jump2")
PLAN_SHA = "ab" * 32
SECRET = "Sup3rS3cret!"


def write_window(log: Path) -> None:
    """A small window: two steps (one retried), an override, a skip, a note, evidence."""
    redactor = Redactor()
    redactor.add_secret(SECRET)
    with AuditWriter(log, session="20261126-143323-ab12", actor=JO, mode="driver",
                     redactor=redactor) as w:
        w.append(ev.SESSION_OPENED, detail={
            "plan_name": "OMS window 1", "plan_path": "plans/oms.toml", "plan_sha256": PLAN_SHA,
            "cockpit_version": "0.1.0",
            "aws_identity": {"account": "123456789012",
                             "arn": "arn:aws:sts::123456789012:assumed-role/cutover/jo"}})
        w.append(ev.STEP_STARTED, step="S1", detail={
            "title": "Stop the DC app servers", "kind": "manual", "phase": "prep", "attempt": 1})
        w.append(ev.STEP_PROGRESS, step="S1", detail={"message": "stopping", "evidence": {"n": 1}})
        w.append(ev.STEP_SUCCEEDED, step="S1", detail={"duration_s": 42.5, "evidence": {
            "instances": [{"id": "i-0abc", "state": "stopped"},
                          {"id": "i-0def", "state": "stopped"}],
            "dsn": f"Server=db;UID=sa;PWD={SECRET};"}})
        w.append(ev.GATE_OVERRIDDEN, step="S2", detail={
            "gate": "no_user_sessions",
            "reason": "the two sessions are the <script>alert(1)</script> monitor",
            "evidence": {"sessions": ["monitor", "sa"]}})
        for attempt, end in ((1, ev.STEP_FAILED), (2, ev.STEP_SUCCEEDED)):
            w.append(ev.STEP_STARTED, step="S2", detail={
                "title": "Back up OMS to S3", "kind": "sql.backup", "phase": "data",
                "attempt": attempt})
            w.append(end, step="S2", detail={
                "duration_s": 754.0 if attempt == 2 else 3.1,
                "reason": "backup timed out at 12%",
                "evidence": {"rows": {"orders": 120345, "order_lines": 456789},
                             "checksum_match": attempt == 2}})
        w.append(ev.STEP_SKIPPED, step="S3", detail={"reason": "TTL lowered last week"})
        w.append(ev.NOTE_ADDED, step="S2", detail={"text": "Raised the backup timeout to 30 min"})
        w.append(ev.SESSION_CLOSED)


@pytest.fixture
def window(tmp_path: Path) -> Path:
    log = tmp_path / "audit.jsonl"
    write_window(log)
    return log


def test_json_round_trips_to_the_same_entries(window: Path) -> None:
    exported = json.loads(export_log(window, "json"))
    assert [AuditEntry.model_validate(item) for item in exported] == read_entries(window).entries
    assert exported[0]["ts"].endswith("Z")


def test_csv_has_one_row_per_entry(window: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(export_log(window, "csv"))))
    entries = read_entries(window).entries
    assert list(rows[0]) == ["seq", "ts", "user", "host", "mode", "event", "step", "detail",
                             "hash"]
    assert [int(r["seq"]) for r in rows] == [e.seq for e in entries]
    assert [json.loads(r["detail"]) for r in rows] == [e.detail for e in entries]
    assert rows[1]["user"] == "jo" and rows[1]["step"] == "S1" and rows[0]["step"] == ""
    assert rows[-1]["hash"] == entries[-1].hash


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_board_record_shows_header_timeline_decisions_notes_evidence(window: Path,
                                                                     fmt: str) -> None:
    text = export_log(window, fmt)
    head = read_entries(window).entries[-1]
    for expected in (
        "OMS window 1", PLAN_SHA, "0.1.0", "arn:aws:sts::123456789012:assumed-role/cutover/jo",
        f"head seq 12 {head.hash[:12]}", "session closed", "jo@jump1 from 10.1.1.5",
        # the timeline
        "Stop the DC app servers", "42.5 s", "Back up OMS to S3 (attempt 2)", "12 min 34 s",
        "succeeded", "failed", "skipped",
        # overrides, skips, notes with their reasons
        "gate no_user_sessions overridden", "TTL lowered last week",
        "backup timed out at 12%", "Raised the backup timeout to 30 min",
        # evidence
        "i-0abc", "i-0def", "120345", "456789", "checksum", "monitor",
    ):
        assert expected in text, expected
    assert SECRET not in text


def test_md_timeline_is_a_table_row_per_run(window: Path) -> None:
    md = export_log(window, "md")
    timeline = md.split("## Timeline")[1].split("##")[0]
    rows = [line for line in timeline.splitlines() if line.startswith("| S") and "Step" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| S1", "| S2", "| S2", "| S3"]
    assert [row.split(" | ")[5] for row in rows] == ["succeeded", "failed", "succeeded", "skipped"]
    assert r"\<script\>" in md  # shown as text, not run as html


def test_html_is_self_contained_and_escapes_log_text(window: Path) -> None:
    html = export_log(window, "html")
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "src=" not in html and "<link" not in html  # nothing fetched when opened or printed
    assert "@media print" in html


def test_interrupted_and_undone_steps_show_in_the_timeline(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with AuditWriter(log, session="first", actor=JO, mode="driver") as w:
        w.append(ev.SESSION_OPENED, detail={"plan_name": "P", "plan_sha256": PLAN_SHA})
        w.append(ev.STEP_STARTED, step="S5", detail={"title": "Switch DNS", "attempt": 1})
    with AuditWriter(log, session="second", actor=SAM, mode="driver") as w:
        w.append(ev.SESSION_OPENED, detail={"plan_name": "P", "plan_sha256": "cd" * 32})
        w.append(ev.SESSION_INTERRUPTED, detail={"step": "S5", "last_event": "step.started"})
        w.append(ev.STEP_UNDONE, step="S5", detail={"duration_s": 12.0, "evidence": {
            "record": "oms.example.com", "points_to": "10.0.0.5"}})
    md = export_log(log, "md")
    assert "| S5 | Switch DNS |" in md
    assert "| interrupted |" in md and "| undone |" in md
    assert "the previous session died during step S5" in md
    assert "cut short (a new session opened)" in md
    assert "open or cut short (no session.closed)" in md
    assert "plan file changed between sessions" in md
    assert "jo@jump1 from 10.1.1.5, sam@jump2" in md
    first_session = next(line for line in md.splitlines() if line.startswith("| first |"))
    assert "jo@jump1" in first_session and "sam" not in first_session
    assert "oms.example.com" in md


def test_a_step_cut_short_by_a_signal_says_the_cockpit_was_stopped(tmp_path: Path) -> None:
    """The session did not die: the cockpit stopped on a signal, and the record says so."""
    log = tmp_path / "audit.jsonl"
    with AuditWriter(log, session="first", actor=JO, mode="driver") as w:
        w.append(ev.SESSION_OPENED, detail={"plan_name": "P", "plan_sha256": PLAN_SHA})
        w.append(ev.STEP_STARTED, step="S5", detail={"title": "Switch DNS", "attempt": 1})
        w.append(ev.STEP_FAILED, step="S5", detail={"reason": "cancelled while waiting"})
        w.append(ev.SESSION_INTERRUPTED, step="S5", detail={
            "step": "S5", "last_event": "step.failed", "stopped_by": "SIGHUP"})
    md = export_log(log, "md")
    assert "the cockpit was stopped (SIGHUP) during step S5" in md
    assert "previous session died" not in md


def test_an_altered_log_is_exported_with_a_warning(window: Path) -> None:
    window.write_bytes(window.read_bytes().replace(b"120345", b"120346", 1))
    for fmt in ("md", "html"):
        text = export_log(window, fmt)
        assert "did not verify" in text and "ALTERED at line 7 (seq 7)" in text


def test_a_torn_log_is_exported_with_a_warning(window: Path) -> None:
    with window.open("ab") as f:
        f.write(b'{"seq":13,')
    md = export_log(window, "md")
    assert "did not verify" in md and "TORN last line" in md
    assert len(json.loads(export_log(window, "json"))) == 12


def test_unreadable_logs_raise_audit_read_error(tmp_path: Path) -> None:
    with pytest.raises(AuditReadError, match="no such file"):
        export_log(tmp_path / "missing.jsonl", "md")
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"\x00\x01\x02 not a log\n")
    with pytest.raises(AuditReadError, match="line 1 is not an audit entry"):
        export_log(garbage, "html")


def test_unknown_format_is_refused(window: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format 'pdf'"):
        export_log(window, "pdf")


def test_what_the_runner_adds_reaches_the_record(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with AuditWriter(log, session="s1", actor=JO, mode="driver") as w:
        w.append(ev.SESSION_OPENED, detail={"plan_name": "P", "aws_identity": {
            "error": "NoCredentialsError: Unable to locate credentials"}})
        w.append(ev.STEP_STARTED, step="S7", detail={
            "title": "Register EC2 targets", "attempt": 2,
            "reason": "re-check after interruption"})
        w.append(ev.STEP_PROGRESS, step="S7", detail={
            "message": "done: register 2 targets", "outputs": {"registered": ["i-0abc"]}})
        w.append(ev.STEP_SUCCEEDED, step="S8", detail={
            "duration_s": 0.0, "reason": "marked done: checked by hand in the console",
            "marked_done": True, "evidence": {}})
        w.append(ev.SESSION_HANGUP, detail={"signal": "SIGHUP"})
    md = export_log(log, "md")
    assert "not known: NoCredentialsError: Unable to locate credentials" in md
    assert "Register EC2 targets (attempt 2, re-check after interruption)" in md
    assert "done: register 2 targets: outputs" in md and "i-0abc" in md
    assert "| marked done | marked done: checked by hand in the console |" in md
    assert "| SSH session hung up | signal: SIGHUP |" in md
    assert "| running |" in md  # S7 never ended and the log is still open


def test_a_long_log_shows_each_runs_last_sample_and_every_step_end(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with AuditWriter(log, session="s1", actor=JO, mode="driver") as w:
        w.append(ev.SESSION_OPENED, detail={"plan_name": "P", "plan_sha256": PLAN_SHA})
        for n in range(200):
            step = f"S{n:03d}"
            w.append(ev.STEP_STARTED, step=step, detail={"title": f"Check {n}", "attempt": 1})
            for k in range(4):
                w.append(ev.STEP_PROGRESS, step=step, detail={
                    "message": "waiting", "evidence": {"sample": f"{step}-sample-{k}"}})
            w.append(ev.STEP_SUCCEEDED, step=step, detail={
                "duration_s": 1.0, "evidence": {"rows": 1000 + n}})
        w.append(ev.SESSION_CLOSED)
    for fmt in ("md", "html"):
        text = export_log(log, fmt)
        assert "intact, 1202 entries" in text and "session closed" in text
        for step in ("S000", "S117", "S199"):
            assert f"{step}-sample-3" in text and f"{step}-sample-2" not in text
        assert "(the last of 4 samples)" in text
        assert all(str(1000 + n) in text for n in range(200))


def test_lines_in_another_shape_that_are_entries_all_the_same_are_shown(
        tmp_path: Path) -> None:
    """Keys in another order, no `ssh_client`, an offset for UTC: not how the writer
    writes, so the chain breaks there, but still entries, and the record shows them."""
    log = tmp_path / "audit.jsonl"
    with AuditWriter(log, session="s1", actor=JO, mode="driver") as w:
        w.append(ev.SESSION_OPENED, detail={"plan_name": "P"})
    odd = {"ts": "2026-11-26T14:40:00+00:00", "seq": 2, "session": "s1",
           "actor": {"host": "jump2", "user": "sam"}, "mode": "driver",
           "event": ev.NOTE_ADDED, "step": "S2", "detail": {"text": "checked «by hand»"},
           "prev": "0" * 64, "hash": "1" * 64}
    with log.open("a", encoding="utf-8") as f:
        f.write(json.dumps(odd, ensure_ascii=False) + "\n")
    md = export_log(log, "md")
    assert "ALTERED at line 2 (seq 2)" in md
    assert "checked «by hand»" in md and "sam@jump2" in md and "14:40:00" in md


def test_a_line_after_a_break_with_a_hash_that_is_not_one_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with AuditWriter(log, session="s1", actor=JO, mode="driver") as w:
        w.append(ev.SESSION_OPENED, detail={"plan_name": "P"})
        w.append(ev.NOTE_ADDED, detail={"text": "first"})
    lines = log.read_bytes().splitlines(keepends=True)
    last = json.loads(lines[-1])
    last["prev"] = "Z" * 64
    log.write_bytes(lines[0] + json.dumps(last, separators=(",", ":")).encode() + b"\n")
    with pytest.raises(AuditReadError, match="line 2 is not an audit entry .prev"):
        export_log(log, "md")
