"""The loader's API and its messages, on small edits of a valid plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.plans import ROOT

from cockpit.plan import models
from cockpit.plan.checks import ESTATE_COLLECTIONS
from cockpit.plan.graph import find_cycles
from cockpit.plan.inline_secrets import find_secret
from cockpit.plan.loader import PlanLoadError, Problem, load_plan, load_plan_text, validate_files
from cockpit.plan.schema import ref_of, walk_models

PHASE_ONE = ROOT / "plans" / "oms-phase1-app-servers.toml"
# The bad plans' valid base: a fixture of our own, so other plans can change freely.
BASE_PLAN = ROOT / "tests" / "data" / "bad_plans" / "_base.toml"
TEXT = BASE_PLAN.read_text()


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(PlanLoadError) as caught:
        load_plan_text(text, Path("plan.toml"))
    return caught.value.problems


def edited(old: str, new: str, text: str = TEXT) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(needle: str, text: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), 1) if needle in line)


def test_problem_reads_like_a_compiler_error() -> None:
    assert str(Problem(Path("plans/x.toml"), 12, "it is wrong")) == "plans/x.toml:12: it is wrong"


def test_the_phase_one_plan_loads() -> None:
    plan = load_plan(PHASE_ONE)
    assert plan.steps() and all(step.id for step in plan.steps())
    assert validate_files([PHASE_ONE]) == []


def test_spec_messages_word_for_word() -> None:
    text = edited('budget = "2m"', 'bugdet = "2m"')
    text = edited('timeout = "2m"', "timeout = true", text)
    text = edited("port = 8080", 'port = "eighty"', text)
    text = edited('title = "Register the new app servers with the ALB"\n', "", text)
    text = edited('do = { kind = "elb.register"', 'do = { kind = "ec2.reboot"', text)
    messages = {problem.line: problem.message for problem in problems_of(text)}
    assert messages == {
        line_of("port = ", text): "'port' must be an integer, not \"eighty\"",
        line_of("timeout = true", text): "'timeout' must be a duration such as 90s or 5m, not true",
        line_of('id = "register-targets"', text) - 1: "step 'register-targets' has no 'title'",
        line_of('do = { kind = "ec2.reboot"', text): (
            "unknown step kind 'ec2.reboot' in 'do' (known: ec2.start, ec2.stop, elb.register, "
            "elb.deregister, route53.upsert, manual, sql.set_read_only, sql.set_read_write, "
            "sql.backup_to_url, sql.backup_to_disk, sql.restore_from_url, sql.drop_database, "
            "sql.add_to_ag, sql.remove_from_ag, s3.abort_multipart, sql.backup, sql.restore, "
            "sql.recover, sql.ship_logs, sql.write_sentinel)"
        ),
        line_of(
            "bugdet", text
        ): "unknown key 'bugdet' in step 'switch-dns' (did you mean 'budget'?)",
    }


def test_problems_are_sorted_by_line_and_all_reported() -> None:
    text = edited('budget = "1m"', 'budget = "soon"')
    text = edited('address = "10.60.0.2"', "address = 5", text)
    lines = [problem.line for problem in problems_of(text)]
    assert lines == sorted(lines) and len(lines) == 2


def test_an_error_inside_a_multiline_array_of_inline_tables_is_at_its_element() -> None:
    text = edited('resolvers = ["vpc-resolver"]', 'resolvers = "vpc-resolver"')
    [problem] = problems_of(text)
    assert problem.line == line_of('{ kind = "dns.resolves_to"', text)
    assert problem.message == '\'resolvers\' must be a list such as ["a", "b"], not "vpc-resolver"'


def test_a_missing_field_of_a_condition_is_at_the_condition() -> None:
    text = edited(
        '{ kind = "dns.resolves_to", records = ["orders"],', '{ kind = "dns.resolves_to",'
    )
    [problem] = problems_of(text)
    assert problem.line == line_of('{ kind = "dns.resolves_to"', text)
    assert problem.message == "'until' of step 'switch-dns' has no 'records'"


def test_checks_run_even_when_the_schema_fails() -> None:
    # Until the README's "every problem" was kept, checks ran only when the schema held and
    # this file reported the port alone; now both, each at its line, in file order.
    text = edited(
        'target_group = "oms-web", servers = ["oms-app-1"] }\nkey',
        'target_group = "nowhere", servers = ["oms-app-1"] }\nkey',
    )
    text = edited("port = 8080", 'port = "x"', text)
    assert [(p.line, p.message) for p in problems_of(text)] == [
        (line_of('port = "x"', text), "'port' must be an integer, not \"x\""),
        (
            line_of('target_group = "nowhere"', text),
            "unknown target group 'nowhere' in step 'register-targets' (known: oms-web)",
        ),
    ]


def test_syntax_error_is_one_problem_at_tomllib_line_without_its_suffix() -> None:
    text = edited('name = "oms.retail.example."', 'name = "oms.retail.example.')
    [problem] = problems_of(text)
    assert problem.line == line_of('name = "oms.retail.example.', text)
    assert "(at line" not in problem.message and problem.message.startswith("invalid TOML")


def test_validate_files_reports_files_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "b.toml", tmp_path / "a.toml"
    first.write_text(edited("port = 8080", "port = 0"))
    second.write_text("")
    problems = validate_files([first, BASE_PLAN, second])
    assert [problem.path for problem in problems] == [first, second, second, second]


def test_every_ref_names_a_collection_the_checks_know() -> None:
    known = set(ESTATE_COLLECTIONS) | {"steps", "readiness"}
    for model in vars(models).values():
        if isinstance(model, type) and issubclass(model, models.Strict):
            for field in model.model_fields.values():
                ref = ref_of(field)
                assert ref is None or ref.collection in known, (model, ref)


def test_every_ref_field_of_the_base_plan_is_walked() -> None:
    plan = load_plan(BASE_PLAN)
    walked = {
        (type(model).__name__, name)
        for _, model in walk_models(plan)
        for name, field in type(model).model_fields.items()
        if ref_of(field)
    }
    assert {("Register", "servers"), ("TargetGroup", "load_balancer"), ("Step", "after")} <= walked
    assert {("DnsRecord", "zone"), ("ResolvesTo", "resolvers"), ("ChangeInsync", "of")} <= walked


@pytest.mark.parametrize(
    "text",
    [
        "Driver={ODBC Driver 18};Server=db;UID=sa;PWD=hunter2;",
        "Server=db;Password = hunter2",
        "https://admin:hunter2@10.0.0.1/health",
        "AKIAIOSFODNN7EXAMPLE",
        "key ASIAY34FZKBOKMUTVV7A in use",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ],
)
def test_secrets_are_recognised(text: str) -> None:
    assert find_secret(text)


@pytest.mark.parametrize(
    "text",
    [
        "http://10.20.1.11:8080/health",
        "https://user@example.com/path",
        "ask the DBA for the sa password",
        "OMS_DC_DSN",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "oms-web.dc1.retail.example.",
        "alb:oms-alb",
    ],
)
def test_ordinary_text_is_not_a_secret(text: str) -> None:
    assert find_secret(text) is None


def test_find_cycles_reports_each_cycle_once_from_its_earliest_step() -> None:
    graph = {"a": ["c"], "b": ["a"], "c": ["b"], "d": ["d"], "e": ["a"]}
    order = {name: n for n, name in enumerate(graph)}
    assert find_cycles(graph, order) == [["a", "c", "b"], ["d"]]


def test_a_long_chain_of_steps_is_not_a_recursion_problem() -> None:
    graph = {f"s{n}": [f"s{n + 1}"] for n in range(5000)}
    graph["s5000"] = ["s0"]
    order = {name: n for n, name in enumerate(graph)}
    [cycle] = find_cycles(graph, order)
    assert len(cycle) == 5001 and cycle[0] == "s0"
