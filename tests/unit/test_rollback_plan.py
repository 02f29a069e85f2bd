"""A phase's rollback path in the plan file: read as steps, refused with `file:line:`."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.plans import PLANS

from cockpit.plan.loader import PlanLoadError, load_plan, load_plan_text

SIMPLE = PLANS / "oms-phase2-simple.toml"
PRESTAGED = PLANS / "oms-phase2-database.toml"


def problems_of(text: str) -> list[str]:
    with pytest.raises(PlanLoadError) as caught:
        load_plan_text(text, Path("plan.toml"))
    return [str(p) for p in caught.value.problems]


def line_of(needle: str, text: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), 1) if needle in line)


def test_the_database_windows_declare_their_way_back() -> None:
    prestaged, simple = load_plan(PRESTAGED), load_plan(SIMPLE)
    back = [(s.id, s.do.kind if s.do else None) for s in prestaged.phases[-1].rollback]
    assert back == [("rb-drain-aws-apps", "elb.deregister"), ("rb-stop-aws-apps", "ec2.stop"),
                    ("rb-dns-to-dc", "route53.upsert"), ("rb-recover-source", "sql.recover"),
                    ("rb-start-dc-apps", "manual")]
    assert [s.id for s in simple.phases[-1].rollback][3] == "rb-source-read-write"
    assert prestaged.phases[0].rollback == []  # the pre-stage has nothing to roll back
    assert prestaged.is_rollback("rb-recover-source") and not prestaged.is_rollback("tail-log")
    assert "rb-recover-source" not in [s.id for s in prestaged.steps()]  # not the window's


def test_a_rollback_step_with_after_a_key_or_a_taken_id_is_refused_at_its_line() -> None:
    text = SIMPLE.read_text()
    text = text.replace('id = "rb-stop-aws-apps"\n',
                        'id = "stop-apps"\nkey = "8"\nafter = ["rb-drain-aws-apps"]\n')
    text = text.replace('after = ["start-apps"]\ndo = { kind = "elb.register"',
                        'after = ["start-apps", "rb-dns-to-dc"]\ndo = { kind = "elb.register"')

    said = problems_of(text)

    window_at = line_of('id = "stop-apps"', text)
    rollback_at = text.split("\n").index('id = "stop-apps"', window_at) + 1
    dependent_at = line_of('"start-apps", "rb-dns-to-dc"', text)
    assert (f"plan.toml:{rollback_at}: duplicate step id 'stop-apps' (first at line "
            f"{window_at})") in said
    assert (f"plan.toml:{rollback_at + 1}: rollback step 'stop-apps' has 'key': a rollback "
            "step starts from the rollback key, with the path; drop 'key'") in said
    assert (f"plan.toml:{rollback_at + 2}: rollback step 'stop-apps' has 'after': a rollback "
            "step runs in the order the rollback path lists; drop 'after'") in said
    assert (f"plan.toml:{dependent_at}: step 'register-apps' comes after 'rb-dns-to-dc', a "
            "rollback step, which runs only in a rollback: name a step of the window") in said
    assert len(said) == 4, said


def test_a_rollback_step_is_checked_as_any_step() -> None:
    text = SIMPLE.read_text().replace(
        'id = "rb-dns-to-dc"\n', 'id = "rb-dns-to-dc"\nbogus = 1\n')
    assert f"plan.toml:{line_of('bogus = 1', text)}: unknown key 'bogus' in rollback step " \
        "'rb-dns-to-dc'" in problems_of(text)
