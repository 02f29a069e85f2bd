"""`cockpit plan show`: the runbook as a plain table, readable when piped or pasted."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from support.plans import PHASE_TWO, ROOT

from cockpit.cli import main
from cockpit.plan.loader import load_plan, load_plan_text
from cockpit.plan.table import format_duration, render_plan_table

PHASE_ONE = ROOT / "plans" / "oms-phase1-app-servers.toml"
BASE_PLAN = ROOT / "tests" / "data" / "bad_plans" / "_base.toml"


@pytest.fixture(scope="module")
def shown() -> str:
    result = CliRunner().invoke(main, ["plan", "show", str(PHASE_ONE)])
    assert result.exit_code == 0, result.output
    return result.stdout


def row_of(table: str, step_id: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(step_id + " "))


def test_every_step_of_phase_one_is_listed(shown: str) -> None:
    for step in load_plan(PHASE_ONE).steps():
        assert re.search(rf"^{re.escape(step.id)}\s", shown, re.M), step.id


def test_phase_heading_and_columns(shown: str) -> None:
    assert "phase-one: App servers to AWS behind the ALB" in shown
    header = next(line for line in shown.splitlines() if line.startswith("step "))
    assert header.split() == ["step", "key", "kind", "until", "after", "budget", "confirm", "undo"]


def test_a_row_shows_kind_key_after_budget_confirm_and_undo() -> None:
    table = render_plan_table(load_plan(BASE_PLAN))
    row = row_of(table, "switch-dns").split()
    assert row == [
        "switch-dns", "2", "route53.upsert", "route53.insync", "register-targets", "2m", "yes",
        "route53.upsert",
    ]  # fmt: skip
    # Several `until` kinds stack in their column, one per line.
    continued = table.splitlines()[table.splitlines().index(row_of(table, "switch-dns")) + 1]
    assert continued.split() == ["dns.resolves_to"]
    assert continued.index("dns.resolves_to") == row_of(table, "switch-dns").index("route53.insync")


def test_a_step_with_only_conditions_is_a_check(shown: str) -> None:
    assert row_of(shown, "instances-running").split()[:2] == ["instances-running", "check"]


def test_totals_compare_the_critical_path_with_the_plan_budget() -> None:
    table = render_plan_table(load_plan(BASE_PLAN))
    # 1m + the default 60s + 2m in one chain, against the plan's 30m
    assert table.rstrip().endswith(
        "total: 3 steps, budget 4m; critical path 4m of 30m (within the plan's budget)")


def test_a_step_beside_the_chain_adds_to_the_budget_not_to_the_window() -> None:
    """Phase Two's comms step runs beside the restore: summed, the budgets pass the
    plan's; along the critical path they do not."""
    plan = load_plan(PHASE_TWO)
    total = sum(step.budget for step in plan.steps())
    comms = plan.step("tell-stores-restoring")
    assert total > plan.plan.budget >= total - comms.budget
    assert render_plan_table(plan).rstrip().endswith("(within the plan's budget)")


def test_phase_one_totals_count_its_steps(shown: str) -> None:
    steps = len(load_plan(PHASE_ONE).steps())
    assert re.search(rf"^total: {steps} steps, budget \S+; critical path \S+ of \S+ \(",
                     shown.splitlines()[-1])


def test_over_budget_is_called_out() -> None:
    text = BASE_PLAN.read_text().replace('budget = "30m"', 'budget = "2m"')
    table = render_plan_table(load_plan_text(text, BASE_PLAN))
    assert table.rstrip().endswith("critical path 4m of 2m (OVER the plan's budget)")


def test_output_is_plain_ascii_without_escape_codes(shown: str) -> None:
    assert shown.isascii()
    assert "\x1b" not in shown


def test_control_characters_in_titles_are_not_sent_to_the_terminal() -> None:
    text = BASE_PLAN.read_text().replace('"App servers to AWS"', '"App servers\\u001b[2J to AWS"')
    table = render_plan_table(load_plan_text(text, BASE_PLAN))
    assert "\x1b" not in table
    assert "\\u001b[2J" in table


def test_show_of_a_bad_plan_prints_problems_and_exits_2() -> None:
    bad = ROOT / "tests" / "data" / "bad_plans" / "unknown-server.toml"
    result = CliRunner().invoke(main, ["plan", "show", str(bad)])
    assert result.exit_code == 2
    assert "unknown app server 'oms-app-3'" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("seconds", "written"),
    [
        (0, "0s"),
        (45, "45s"),
        (60, "1m"),
        (90, "1m30s"),
        (3600, "1h"),
        (5400, "1h30m"),
        (1.5, "1.5s"),
    ],
)
def test_format_duration(seconds: float, written: str) -> None:
    assert format_duration(seconds) == written
