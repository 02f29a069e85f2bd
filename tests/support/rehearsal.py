"""Rehearsing the pre-staged Phase Two plan on the simulated estate, headless, at the pace a
test can afford, and reading what its steps recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cockpit.cli import main
from support.audit import entries_named
from support.plans import PLANS

PRESTAGED = PLANS / "oms-phase2-database.toml"


def quick_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The shipped plan (or `text`, a copy of it) with its log shipped every minute, three
    times (the rehearsal's pace; the plan's own is every 15 minutes, four times)."""
    text = PRESTAGED.read_text() if text is None else text
    assert 'every = "15m", rounds = 4' in text
    plan = tmp_path / "prestaged.toml"
    plan.write_text(text.replace('every = "15m", rounds = 4', 'every = "1m", rounds = 3'))
    return plan


def shipping_copy(folder: Path, shipping: str) -> Path:
    """The shipped plan with its log shipping as `shipping` says (the `every`, `rounds` and
    `keep_shipping` of the step's `do`), for a test's pace."""
    text = PRESTAGED.read_text(encoding="utf-8")
    old = 'every = "15m", rounds = 4, keep_shipping = true }'
    assert old in text
    path = folder / "prestaged.toml"
    path.write_text(text.replace(old, shipping + " }"), encoding="utf-8")
    return path


STAGING = ("stage-full", "stage-restore", "ship-logs")


def stage(runner: Any) -> None:
    """The pre-stage phase, run step by step by the driver's runner: each must succeed."""
    for step in STAGING:
        assert runner.run_step(step).status.value == "succeeded", step


def rehearse(plan: Path, session: Path, *faults: str) -> str:
    args = ["rehearse", str(plan), "--sim", "--speed", "50", "--manual-note", "rehearsal",
            "--session", str(session)]
    for fault in faults:
        args += ["--sim-fault", fault]
    result = CliRunner().invoke(main, args)
    assert "Traceback" not in result.output, result.output
    return f"exit {result.exit_code}\n{result.output}"


def outputs_of(session: Path, step: str) -> dict[str, Any]:
    """What the step's action returned, as the log records it (its "done" line)."""
    done = [e for e in entries_named(session, "step.progress")
            if e.step == step and isinstance(e.detail.get("outputs"), dict)]
    assert done, f"{step} recorded no outputs"
    return dict(done[-1].detail["outputs"])


def evidence_of(session: Path, step: str, kind: str, event: str = "step.succeeded") -> Any:
    """What a condition of the step showed when the step ended (`event`)."""
    ended = [e for e in entries_named(session, event) if e.step == step]
    assert ended, f"{step}: no {event}"
    return ended[-1].detail["evidence"][kind]
