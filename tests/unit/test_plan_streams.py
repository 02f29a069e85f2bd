"""Streams and auto steps in a plan file: `stream` and `auto` read as written; a step that
starts by itself and asks someone (a typed confirmation, a second engineer, a person's
task) is refused where it is written; `step.succeeded` names steps of the plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.plans import ROOT

from cockpit.plan.loader import PlanLoadError, Problem, load_plan_text

TEXT = (ROOT / "tests" / "data" / "bad_plans" / "_base.toml").read_text()


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(PlanLoadError) as caught:
        load_plan_text(text, Path("plan.toml"))
    return caught.value.problems


def edited(old: str, new: str, text: str = TEXT) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(needle: str, text: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), 1) if needle in line)


def test_stream_and_auto_are_read_from_the_step() -> None:
    text = edited('after = ["apps-healthy"]\n', 'after = ["apps-healthy"]\nstream = "apps"\n'
                  "auto = true\n")
    step = load_plan_text(text, Path("plan.toml")).step("register-targets")
    assert (step.stream, step.auto) == ("apps", True)


def test_auto_beside_confirm_is_refused_at_its_line() -> None:
    text = edited("confirm = true\n", "confirm = true\nauto = true\n")
    (problem,) = problems_of(text)
    assert problem.line == line_of("auto = true", text)
    assert str(problem).startswith(f"plan.toml:{problem.line}: step 'switch-dns' has "
                                   "auto = true")
    assert "confirm = true" in problem.message and "drop one of them" in problem.message


def test_auto_beside_a_manual_action_and_a_second_person_names_both() -> None:
    text = edited('do = { kind = "elb.register", target_group = "oms-web", '
                  'servers = ["oms-app-1"] }',
                  'do = { kind = "manual", instruction = "Phone the bridge" }\n'
                  "auto = true\nsecond_person = true")
    (problem,) = problems_of(text)
    assert problem.line == line_of("auto = true", text)
    assert "second_person = true and a manual action" in problem.message


def test_step_succeeded_must_name_steps_of_the_plan() -> None:
    text = edited('after = ["register-targets"]\n',
                  'after = ["register-targets"]\n'
                  'gates = [{ kind = "step.succeeded", steps = ["apps-healty"] }]\n')
    (problem,) = problems_of(text)
    assert problem.line == line_of("step.succeeded", text)
    assert "apps-healty" in problem.message
