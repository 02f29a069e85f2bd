"""`cockpit plan budget`: budgets from rehearsals' logs, written into the plan line by line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.plans import estate_toml, load

from cockpit.audit import Actor, AuditWriter
from cockpit.audit import events as ev
from cockpit.cli import main
from cockpit.plan.budgets import BudgetLineError, round_up, step_budgets, write_budgets

PHASES = """
# The window proper: keep this comment.
[[phases]]
id = "window"
title = "The window"

[[phases.steps]]
id = "stop-apps"   # the datacentre pair
title = "Stop the apps"
do = { kind = "manual", instruction = "Stop them" }
budget = "2m"      # a guess, before any rehearsal

[[phases.steps]]
id = "backup"
title = "Back up"
after = ["stop-apps"]
do = { kind = "manual", instruction = "Back it up" }
  # no budget yet: the default minute

[[phases.steps]]
id = "switch"
title = "Switch"
after = ["backup"]
do = { kind = "manual", instruction = "Switch" }
budget = 300
timeout = "10m"
"""


def cockpit(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def rehearsal(folder: Path, runs: dict[str, list[tuple[str, float]]]) -> Path:
    """A session folder whose log holds, per step, runs ending as (event, seconds)."""
    folder.mkdir(parents=True)
    with AuditWriter(folder / "audit.jsonl", session=folder.name,
                     actor=Actor(user="jo", host="jump1"), mode="driver") as log:
        log.append(ev.SESSION_OPENED, detail={"plan_name": "small"})
        for step, ends in runs.items():
            for event, seconds in ends:
                if event == ev.STEP_SKIPPED:
                    log.append(event, step=step, detail={"reason": "not tonight"})
                    continue
                log.append(ev.STEP_STARTED, step=step, detail={"title": step})
                log.append(event, step=step, detail={"duration_s": seconds})
        log.append(ev.SESSION_CLOSED)
    return folder


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(estate_toml() + PHASES, encoding="utf-8")
    return path


@pytest.fixture
def rehearsals(tmp_path: Path) -> list[Path]:
    return [
        rehearsal(tmp_path / "oms-1-a1b2", {
            "stop-apps": [(ev.STEP_SUCCEEDED, 41.0)],
            "backup": [(ev.STEP_FAILED, 3.0), (ev.STEP_SUCCEEDED, 600.2)],
            "switch": [(ev.STEP_SKIPPED, 0.0)]}),
        rehearsal(tmp_path / "oms-2-c3d4", {
            "stop-apps": [(ev.STEP_SUCCEEDED, 44.0)],
            "backup": [(ev.STEP_SUCCEEDED, 580.0)]}),
    ]


def test_the_table_proposes_the_worst_time_scaled_and_rounded_up(
        plan: Path, rehearsals: list[Path]) -> None:
    result = cockpit("plan", "budget", plan, "--from", rehearsals[0], "--from", rehearsals[1],
                     "--scale", "1.5")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line}
    assert rows["step"] == ["step", "runs", "median", "worst", "budget", "now", "proposed"]
    assert rows["stop-apps"] == ["stop-apps", "2", "42.5s", "44.0s", "120s", "66s"]
    assert rows["backup"] == ["backup", "2", "590.1s", "600.2s", "60s", "901s"]
    assert "switch" not in rows
    said = result.stderr
    assert "backup failed in oms-1-a1b2: not counted" in said
    assert "switch was skipped in oms-1-a1b2: not counted" in said
    assert "switch: no successful run in these rehearsals, budget kept" in said
    assert plan.read_text(encoding="utf-8") == estate_toml() + PHASES  # not written


def test_write_changes_only_the_budget_lines_and_keeps_every_other_byte(
        plan: Path, rehearsals: list[Path]) -> None:
    before = plan.read_text(encoding="utf-8").split("\n")
    result = cockpit("plan", "budget", plan, "--from", rehearsals[0], "--from", rehearsals[1],
                     "--write")
    assert result.exit_code == 0, result.output
    after = plan.read_text(encoding="utf-8").split("\n")
    changed = [line for line in after if line not in before]
    assert changed == [
        "budget = 44  # from 2 rehearsals (oms-1-a1b2, oms-2-c3d4): median 42 s, worst 44 s, "
        "x1.0",
        "budget = 601  # from 2 rehearsals (oms-1-a1b2, oms-2-c3d4): median 590 s, "
        "worst 600 s, x1.0",
    ]
    assert [line for line in before if line not in after] == [
        'budget = "2m"      # a guess, before any rehearsal']
    # The new budget line of `backup` follows its id; everything else is where it was.
    assert after[after.index('id = "backup"') + 1].startswith("budget = 601")
    budgets = {step.id: step.budget for step in load(plan).steps()}
    assert budgets == {"stop-apps": 44.0, "backup": 601.0, "switch": 300.0}


def test_steps_are_found_by_their_id_wherever_a_phase_keeps_them() -> None:
    text = ('[[phases]]\r\nid = "w"\r\n[[phases.steps]]\r\nid = "a"\r\nbudget = 5\r\n'
            '[[phases.rollback]]\r\n    id = "undo-a"\r\n    title = "Back"\r\n')
    assert step_budgets(text) == {"a": 5.0, "undo-a": 60.0}  # the phase `w` is no step
    written = write_budgets(text, {"a": (7.0, "from 1 rehearsal"),
                                   "undo-a": (3.5, "from 1 rehearsal"), "w": (1.0, "no")})
    assert written == ('[[phases]]\r\nid = "w"\r\n[[phases.steps]]\r\nid = "a"\r\n'
                       'budget = 7  # from 1 rehearsal\r\n[[phases.rollback]]\r\n'
                       '    id = "undo-a"\r\n    budget = 3.5  # from 1 rehearsal\r\n'
                       '    title = "Back"\r\n')


def test_a_step_written_as_an_inline_table_is_refused_at_its_line(tmp_path: Path) -> None:
    text = '[[phases]]\nid = "w"\nsteps = [\n  { id = "a", budget = 5 },\n]\n'
    with pytest.raises(BudgetLineError) as refused:
        write_budgets(text, {"a": (7.0, "from 1 rehearsal")})
    assert refused.value.line == 4
    assert "a `budget = ...` line of its own" in str(refused.value)


def test_the_scale_is_said_as_given(plan: Path, rehearsals: list[Path]) -> None:
    result = cockpit("plan", "budget", plan, "--from", rehearsals[1], "--scale", "1.25",
                     "--write")
    assert result.exit_code == 0, result.output
    assert "budget = 55  # from 1 rehearsal (oms-2-c3d4): median 44 s, worst 44 s, x1.25" in (
        plan.read_text(encoding="utf-8"))


def test_a_rehearsal_whose_chain_is_broken_is_refused(
        plan: Path, rehearsals: list[Path]) -> None:
    log = rehearsals[1] / "audit.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"duration_s":44.0', b'"duration_s":4.0'))
    result = cockpit("plan", "budget", plan, "--from", rehearsals[0], "--from", rehearsals[1],
                     "--write")
    assert result.exit_code == 2
    assert f"{log}: its chain does not verify" in result.output
    assert "ALTERED at line 3 (seq 3)" in result.output
    assert plan.read_text(encoding="utf-8") == estate_toml() + PHASES


def test_a_missing_rehearsal_is_refused_by_name(plan: Path, tmp_path: Path) -> None:
    result = cockpit("plan", "budget", plan, "--from", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert "nowhere" in result.output and "no such file" in result.output


@pytest.mark.parametrize(("seconds", "budget"), [
    (0.012, 0.1), (0.41, 0.5), (4.0, 4.0), (9.96, 10.0), (41.2, 42.0), (44.0, 44.0)])
def test_budgets_round_up(seconds: float, budget: float) -> None:
    assert round_up(seconds) == budget


def test_seconds_are_not_lost_to_float_noise() -> None:
    assert round_up(timedelta(seconds=1.1).total_seconds() * 3) == 3.3
