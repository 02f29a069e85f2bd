"""The change board's record of gates that held (each with its evidence, never "(empty)")
and of the warning an opening gives about uploads a dead driver's backup left open."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.audit import Actor, AuditWriter
from cockpit.audit import events as ev
from cockpit.audit.export import export_log

JO = Actor(user="jo", host="jump1")
AG_SEEN = {"OMS-SQL-1": {"role": "PRIMARY", "connected": "CONNECTED", "health": "HEALTHY"},
           "OMS-SQL-2": {"role": "SECONDARY", "connected": "CONNECTED", "health": "HEALTHY"}}
AG_GATE = {"gate": "sql.ag_healthy(ag=oms-ag)", "kind": "sql.ag_healthy", "held": True,
           "summary": "oms-ag: 2 replica(s) connected and healthy", "evidence": AG_SEEN}
NO_SESSIONS = {"sessions": [], "total": 0}
SESSIONS_GATE = {"gate": "sql.no_user_sessions(endpoint=oms-db-dc, database=oms)",
                 "kind": "sql.no_user_sessions", "held": True,
                 "summary": "no user sessions on OMS at oms-db-dc", "evidence": NO_SESSIONS}
UPLOAD = {"key": "oms/OMS-phase2-full.bak", "upload_id": "upload-a1b2c3", "parts": 3,
          "bytes": 15728640}


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    with AuditWriter(path, session="s", actor=JO, mode="driver") as w:
        w.append(ev.SESSION_OPENED, detail={"plan_name": "OMS Phase Two"})
        w.append(ev.STEP_STARTED, step="ag-healthy", detail={"title": "Go/no-go: AG healthy"})
        w.append(ev.STEP_SUCCEEDED, step="ag-healthy", detail={
            "duration_s": 0.2, "summary": f"gates held: {AG_GATE['summary']}",
            "gates": [AG_GATE], "evidence": {"sql.ag_healthy": AG_SEEN}})
        w.append(ev.STEP_STARTED, step="source-read-only", detail={"title": "Read-only"})
        w.append(ev.STEP_SUCCEEDED, step="source-read-only", detail={
            "duration_s": 1.5, "summary": "OMS at oms-db-dc is READ_ONLY, RESTRICTED_USER",
            "gates": [SESSIONS_GATE],
            "evidence": {"sql.read_only": {"is_read_only": True}}})
        w.append(ev.STEP_STARTED, step="backup", detail={"title": "Back up"})
        w.append(ev.SESSION_OPENED, detail={"plan_name": "OMS Phase Two", "resumed": True})
        w.append(ev.SESSION_INTERRUPTED, step="backup", detail={"step": "backup"})
        w.append(ev.STEP_PROGRESS, step="backup", detail={
            "message": "warning: backup was cut short and left 1 orphaned multipart upload(s)",
            "warning": "orphaned_uploads", "orphaned_uploads": [UPLOAD],
            "abort_with": "s3.abort_multipart(bucket=oms-backups, key=oms/OMS-phase2-full.bak)"})
    return path


def section(md: str, step: str) -> str:
    return md.split(f"### {step} — ")[1].split("\n### ")[0]


def test_md_shows_a_held_gate_with_its_evidence_and_a_gates_only_step_once(log: Path) -> None:
    md = export_log(log, "md")
    go = section(md, "ag-healthy")
    assert ("**gate held: sql.ag_healthy(ag=oms-ag): oms-ag: 2 replica(s) connected and "
            "healthy**") in go
    assert "- **OMS-SQL-2**:" in go and "- **health**: HEALTHY" in go
    assert "(empty)" not in go
    assert go.count("- **OMS-SQL-2**:") == 1  # its evidence is its gate's: shown once
    gated = section(md, "source-read-only")
    assert "**gate held: sql.no_user_sessions(endpoint=oms-db-dc, database=oms): " \
           "no user sessions on OMS at oms-db-dc**" in gated
    assert "**succeeded: OMS at oms-db-dc is READ_ONLY, RESTRICTED_USER**" in gated


def test_html_shows_the_held_gates_too(log: Path) -> None:
    html = export_log(log, "html")
    assert "gate held: sql.ag_healthy(ag=oms-ag): oms-ag: 2 replica(s) connected and " \
           "healthy" in html
    assert "<dt>OMS-SQL-2</dt>" in html
    assert "gate held: sql.no_user_sessions(endpoint=oms-db-dc, database=oms)" in html


def test_the_orphaned_uploads_warning_is_a_problem_with_its_uploads_as_evidence(
    log: Path,
) -> None:
    md = export_log(log, "md")
    problems = md.split("## Failures and interruptions")[1].split("\n## ")[0]
    assert "| warning | warning: backup was cut short and left 1 orphaned multipart" in problems
    backup = section(md, "backup")
    assert "**warning: orphaned multipart uploads**" in backup
    assert "| oms/OMS-phase2-full.bak | upload-a1b2c3 | 3 | 15728640 |" in backup
