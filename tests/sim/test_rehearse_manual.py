"""A manual step in a headless rehearsal: confirmed with the note given, or refused when
there is nobody to ask (no terminal, no note). Its own module: each rehearsal starts a sim
of its own, and only one runs in a process at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner
from support.audit import log_entries
from support.plans import MANUAL_NOTE, MANUAL_PHASE, write_plan

from cockpit.cli import main


def rehearse(plan: Path, folder: Path, *options: str) -> Any:
    return CliRunner().invoke(main, ["rehearse", str(plan), "--sim", "--speed", "50",
                                     "--session", str(folder), *options])


def test_rehearse_without_a_terminal_or_a_note_refuses_the_manual_step(tmp_path: Path) -> None:
    path, _ = write_plan(tmp_path, MANUAL_PHASE)
    result = rehearse(path, tmp_path / "session")
    assert result.exit_code == 1, result.output
    assert "no terminal to ask on" in result.output
    assert "stopped at call-bridge" in result.output
    entries = log_entries(tmp_path / "session")
    assert [e.event for e in entries if e.step] == ["step.started", "step.withdrawn"]


def test_rehearse_with_a_note_records_it(tmp_path: Path) -> None:
    path, _ = write_plan(tmp_path, MANUAL_PHASE)
    result = rehearse(path, tmp_path / "session", "--manual-note", MANUAL_NOTE)
    assert result.exit_code == 0, result.output
    done = [e for e in log_entries(tmp_path / "session") if e.event == "step.progress"]
    assert done[-1].detail["outputs"]["note"] == MANUAL_NOTE


