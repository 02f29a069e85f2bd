"""`cockpit rehearse --sim` end to end through the command line (click's CliRunner, in this
process: each rehearsal starts and stops its own sim), and `cockpit audit verify` on the log
it leaves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.audit import events_of, log_entries, me, started_steps
from support.plans import MANUAL_NOTE, PHASE_ONE, load

from cockpit.audit.writer import AuditWriter
from cockpit.cli import main
from cockpit.sim.faults import FAULTS

STEPS = [step.id for step in load(PHASE_ONE).steps()]


def cockpit(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def rehearse(folder: Path, *options: str) -> Result:
    return cockpit("rehearse", PHASE_ONE, "--sim", "--session", folder,
                   "--manual-note", MANUAL_NOTE, *options)


def step_line(output: str, step: str) -> str:
    """The progress line the rehearsal printed for `step` (status first, then the id)."""
    lines = [line for line in output.splitlines()
             if line.split()[1:2] == [step] and line.startswith("  ")]
    assert lines, f"no progress line for {step} in:\n{output}"
    return lines[0]


@pytest.fixture(scope="module")
def phase_one_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    folder = tmp_path_factory.mktemp("rehearsal") / "session"
    return rehearse(folder, "--speed", "20"), folder


# --- a clean rehearsal ----------------------------------------------------------------------


def test_phase_one_rehearses_to_the_end(phase_one_run: tuple[Result, Path]) -> None:
    result, folder = phase_one_run
    assert result.exit_code == 0, result.output
    assert "simulated estate up" in result.output
    for step in STEPS:
        assert step_line(result.output, step).split()[0] == "succeeded", result.output
    assert "every step succeeded" in result.output
    assert str(folder / "audit.jsonl") in result.output
    assert started_steps(folder) == STEPS
    assert events_of(folder)[-1] == "session.closed"


def test_the_rehearsals_log_verifies(phase_one_run: tuple[Result, Path]) -> None:
    _, folder = phase_one_run
    verified = cockpit("audit", "verify", folder / "audit.jsonl")
    assert verified.exit_code == 0, verified.output
    entries = log_entries(folder)
    assert f"intact, {len(entries)} entries" in verified.output
    assert f"head seq {entries[-1].seq} {entries[-1].hash[:12]}" in verified.output
    assert "session closed" in verified.output


def test_one_changed_byte_in_an_earlier_entry_fails_verify_at_that_entry(
    phase_one_run: tuple[Result, Path], tmp_path: Path,
) -> None:
    _, folder = phase_one_run
    log = tmp_path / "audit.jsonl"
    shutil.copyfile(folder / "audit.jsonl", log)
    lines = log.read_bytes().split(b"\n")
    third = json.loads(lines[2])
    assert third["seq"] == 3
    at = lines[2].index(b'"ts":"') + len(b'"ts":"') + len("YYYY-MM-D")  # the day's last digit
    changed = bytearray(lines[2])
    changed[at] = ord("7") if changed[at] != ord("7") else ord("8")
    lines[2] = bytes(changed)
    log.write_bytes(b"\n".join(lines))

    verified = cockpit("audit", "verify", log)
    assert verified.exit_code == 1, verified.output
    assert "ALTERED at line 3 (seq 3)" in verified.output
    assert "2 entries verify before it" in verified.output


# --- rehearsals that stop -------------------------------------------------------------------


def test_a_failing_app_server_stops_the_rehearsal_before_the_alb(tmp_path: Path) -> None:
    folder = tmp_path / "session"
    result = rehearse(folder, "--speed", "100", "--sim-fault", "app-down=oms-app-2")

    assert result.exit_code == 1, result.output
    assert "faults: app-down=oms-app-2" in result.output
    failed = step_line(result.output, "apps-healthy")
    assert failed.split()[0] == "failed"
    assert "timed out" in failed and "oms-app-2" in failed and "503" in failed
    assert "stopped at apps-healthy: nothing after it ran" in result.output
    assert started_steps(folder) == ["announce-start", "instances-running", "apps-healthy"]
    assert not {"register-targets", "switch-dns"} & {e.step for e in log_entries(folder)}


def test_an_alb_that_cannot_reach_a_server_stops_the_rehearsal_before_dns(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "session"
    result = rehearse(folder, "--speed", "100", "--sim-fault", "alb-blocked=oms-app-1")

    assert result.exit_code == 1, result.output
    failed = step_line(result.output, "targets-healthy")
    assert failed.split()[0] == "failed"
    assert "timed out" in failed and "oms-app-1" in failed
    assert "stopped at targets-healthy" in result.output
    assert started_steps(folder) == [
        "announce-start", "instances-running", "apps-healthy", "register-targets",
        "targets-healthy"]
    assert "switch-dns" not in {e.step for e in log_entries(folder)}


def test_an_interrupted_session_taken_over_is_not_run_again(tmp_path: Path) -> None:
    folder = tmp_path / "session"
    folder.mkdir(mode=0o700)
    with AuditWriter(folder / "audit.jsonl", session="20261126-020000-dead", actor=me(),
                     mode="driver") as writer:
        writer.append("session.opened", detail={"plan_name": "OMS Phase One"})
        writer.append("step.started", step="instances-running", detail={"attempt": 1})
    ghost = {"user": "jo", "host": "jump9", "pid": 999999, "since": "2026-11-26 02:00:00Z"}
    (folder / "lock").write_text(json.dumps(ghost), encoding="utf-8")

    result = rehearse(folder, "--speed", "50", "--take-over")

    assert result.exit_code == 1, result.output
    assert "instances-running was running when the last driver stopped" in result.stderr
    assert "stopped at instances-running" in result.output
    assert started_steps(folder) == ["instances-running"]  # the dead driver's, not a new one
    assert events_of(folder)[2:] == [
        "session.opened", "lock.taken_over", "session.interrupted", "session.closed"]
    assert cockpit("audit", "verify", folder / "audit.jsonl").exit_code == 0


# --- the command line itself ----------------------------------------------------------------


@pytest.mark.parametrize("options", [["--speed", "2"], ["--sim-fault", "app-down=oms-app-2"]])
def test_sim_options_without_sim_are_a_usage_error(tmp_path: Path, options: list[str]) -> None:
    result = cockpit("rehearse", PHASE_ONE, "--session", tmp_path / "session", *options)
    assert result.exit_code == 2, result.output
    assert "--speed and --sim-fault only apply with --sim" in result.output
    assert not (tmp_path / "session").exists()


def test_an_unknown_fault_is_refused_before_anything_runs(tmp_path: Path) -> None:
    result = rehearse(tmp_path / "session", "--sim-fault", "disk-full=oms-app-1")
    assert result.exit_code == 2, result.output
    assert "unknown fault 'disk-full'" in result.stderr
    assert not (tmp_path / "session").exists()


def test_rehearse_help_lists_every_fault() -> None:
    result = cockpit("rehearse", "--help")
    assert result.exit_code == 0
    assert "--sim-fault" in result.output
    for name, (arg, _effect) in FAULTS.items():
        assert f"{name}=<{arg}>" in result.output
