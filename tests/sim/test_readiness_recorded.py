"""`cockpit check --session`: the verdicts go into the session's audit log (one entry,
hash-chained like every other), and the driver opening the session says them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from support.plans import PHASE_TWO

from cockpit.audit import events
from cockpit.audit.readiness import last_verdicts
from cockpit.audit.verify import read_entries
from cockpit.cli import main
from cockpit.runner.lock import DriverLock


def _check(session: Path, *options: str) -> str:
    result = CliRunner().invoke(main, ["check", str(PHASE_TWO), "--sim", "--speed", "20",
                                       "--session", str(session), *options])
    assert "Traceback" not in result.output, result.output
    return result.output


def test_each_check_is_one_entry_of_the_sessions_log_and_the_last_is_said(
    tmp_path: Path,
) -> None:
    session = tmp_path / "session"
    first = _check(session, "--at", "t-48h")
    second = _check(session, "--at", "t-1h", "--sim-fault", "listener-offline=oms-ag")
    log = read_entries(session / "audit.jsonl")
    checked = [e for e in log.entries if e.event == events.READINESS_CHECKED]
    assert f"recorded in {session / 'audit.jsonl'} (entry 1)" in first
    assert "(entry 2)" in second
    assert [e.detail["at"] for e in checked] == ["t-48h", "t-1h"]
    assert [e.detail["go"] for e in checked] == [True, False]
    failing = [c for c in checked[1].detail["checks"] if not c["ok"]]
    assert [c["id"] for c in failing] == ["listener-online"]
    assert "Start-ClusterResource" in failing[0]["seen"] and failing[0]["fix"]
    assert len({e.session for e in log.entries}) == 1  # one session, across the checks
    said = last_verdicts(log.entries)
    assert said is not None
    text, go = said
    assert not go
    assert "readiness at t-1h" in text and "NO-GO, 1 of" in text
    assert text.endswith("failed (listener-online)")


def test_while_a_driver_holds_the_session_the_check_is_printed_not_recorded(
    tmp_path: Path,
) -> None:
    session = tmp_path / "session"
    session.mkdir()
    driver = DriverLock(session / "lock")
    driver.acquire()
    try:
        output = _check(session, "--at", "go")
    finally:
        driver.release()
    assert "not recorded:" in output and "drives" in output
    assert "GO: every check holds" in output
    assert not (session / "audit.jsonl").exists()
