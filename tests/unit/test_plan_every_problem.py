"""`plan validate` reports every problem of every stage, each at its line, in file order;
steps and durations that would prove nothing are refused; AWS session tokens are secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.plans import BASE_PLAN, PLANS, ROOT

from cockpit.plan.inline_secrets import find_secret, secret_key
from cockpit.plan.loader import PlanLoadError, Problem, load_plan, load_plan_text

TEXT = BASE_PLAN.read_text()


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(PlanLoadError) as caught:
        load_plan_text(text, Path("plan.toml"))
    return caught.value.problems


def edited(old: str, new: str, text: str = TEXT) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(needle: str, text: str, start: int = 1) -> int:
    return next(
        n for n, line in enumerate(text.split("\n"), 1) if n >= start and needle in line
    )


# --- every stage -----------------------------------------------------------------------------


def test_a_schema_error_and_two_check_errors_are_all_reported_in_file_order() -> None:
    text = edited("port = 8080", "port = 0")  # schema
    text = edited('id = "register-targets"', 'id = "apps-healthy"', text)  # duplicate id
    text = edited('after = ["register-targets"]', 'after = ["register-target"]', text)
    second = line_of('id = "apps-healthy"', text, line_of('id = "apps-healthy"', text) + 1)
    assert [(p.line, p.message) for p in problems_of(text)] == [
        (line_of("port = 0", text), "'port' must be at least 1, not 0"),
        (second, f"duplicate step id 'apps-healthy' (first at line {second - 7})"),
        (
            line_of('after = ["register-target"]', text),
            "unknown step 'register-target' in step 'switch-dns' (known: apps-healthy, "
            "switch-dns)",
        ),
    ]


def test_a_step_the_schema_refuses_still_has_its_references_and_cycles_checked() -> None:
    text = edited('title = "New app servers healthy"\n', "")  # no title: the step is invalid
    text = edited('id = "apps-healthy"', 'id = "apps-healthy"\nafter = ["switch-dns"]', text)
    messages = [p.message for p in problems_of(text)]
    assert messages == [
        "step 'apps-healthy' has no 'title'",
        "dependency cycle: apps-healthy -> switch-dns -> register-targets -> apps-healthy",
    ]


def test_checks_of_a_valid_part_run_beside_a_schema_error_elsewhere() -> None:
    text = edited("port = 8080", 'port = "x"')
    text = edited('az = "ap-southeast-2a"\n', "", text)
    text = edited('name = "OMS Phase One (test copy)"',
                  'name = "OMS"\ndescription = "key AKIAIOSFODNN7EXAMPLE"', text)
    messages = [p.message for p in problems_of(text)]
    assert messages[0].startswith("secret written inline in 'description': an AWS access key")
    assert messages[1:] == [
        "app server 'oms-app-1' is in aws but has no 'az' (e.g. az = \"ap-southeast-2a\")",
        "'port' must be an integer, not \"x\"",
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # A server whose id cannot be read: references to it are not called unknown (the id
        # is the one error to fix), nor is it judged for its 'az'.
        ('[[estate.app_servers]]\nid = "oms-app-1"', "[[estate.app_servers]]\nid = 7", "'id'"),
        # An action of an unknown kind: not "a step with no action", nor "its 'do' is not
        # route53.upsert" for the insync that waits on it, nor its `value` checked.
        (
            'do = { kind = "route53.upsert", records = ["orders"], value = "alb:oms-alb" }',
            'do = { kind = "route53.upsertt", records = ["orders"], value = "alb:nowhere" }',
            "unknown step kind",
        ),
        # A condition list that is not a list: not "a step with no condition".
        ('until = [{ kind = "http.healthy", servers = ["oms-app-1"] }]', "until = 5", "'until'"),
        # A step id that is not a string: the steps after it are not "after an unknown step".
        ('id = "apps-healthy"', "id = 5", "'id' must be a string"),
        # A kind that is not even a string.
        ('do = { kind = "elb.register"', 'do = { kind = ["elb"]', "unknown step kind"),
        # An empty table where a list of conditions goes: not "a step with no condition".
        ('until = [{ kind = "http.healthy", servers = ["oms-app-1"] }]', "until = {}", "'until'"),
    ],
    ids=["server-id-unreadable", "unknown-kind", "until-not-a-list", "step-id-unreadable",
         "kind-not-a-string", "until-an-empty-table"],
)
def test_a_schema_error_does_not_cascade_into_check_errors(
    old: str, new: str, expected: str
) -> None:
    problems = problems_of(edited(old, new))
    assert len(problems) == 1, problems
    assert expected in problems[0].message


def test_a_missing_estate_is_not_followed_by_unknown_references() -> None:
    text = TEXT.replace("[estate]", "[estates]").replace("[[estate.", "[[estates.")
    assert [(p.line, p.message) for p in problems_of(text)] == [
        (1, "the plan has no [estate] table"),
        (line_of("[estates]", text), "unknown key 'estates' in the plan (did you mean 'estate'?)"),
    ]


def test_a_value_nested_hundreds_deep_is_reported_shortened_not_a_crash() -> None:
    # Within the limits (16 parts a key, 32 levels of inline tables): 480 nested tables.
    key = ".".join("abcdefghijklmnop")
    value = f"{{ {key} = " * 30 + "1" + " }" * 30
    [problem] = problems_of(edited('name = "OMS Phase One (test copy)"', f"name = {value}"))
    assert problem.message == "'name' must be a string, not { a = { b = { c = { ... } } } }"


# --- what proves nothing -------------------------------------------------------------------------


def test_a_step_that_does_nothing_is_refused_at_its_header() -> None:
    text = edited('until = [{ kind = "http.healthy", servers = ["oms-app-1"] }]\n', "")
    [problem] = problems_of(text)
    assert problem.line == line_of('id = "apps-healthy"', text) - 1
    assert problem.message.startswith(
        "step 'apps-healthy' does nothing: it has no 'do', no 'gates' and no 'until', so "
        "running it would record a success that proves nothing; give it an action"
    )


@pytest.mark.parametrize(
    "fields",
    [
        'gates = [{ kind = "http.healthy", servers = ["oms-app-1"] }]',
        'until = [{ kind = "http.healthy", servers = ["oms-app-1"] }]',
        'do = { kind = "manual", instruction = "Call the bridge" }',
    ],
    ids=["only-gates", "only-until", "only-manual-do"],
)
def test_a_step_with_a_gate_an_action_or_a_condition_is_fine(fields: str) -> None:
    text = edited('until = [{ kind = "http.healthy", servers = ["oms-app-1"] }]', fields)
    assert load_plan_text(text, Path("plan.toml")).steps()[0].id == "apps-healthy"


def test_an_undo_alone_is_still_a_step_that_does_nothing() -> None:
    text = edited(
        'until = [{ kind = "http.healthy", servers = ["oms-app-1"] }]',
        'undo = { kind = "manual", instruction = "Nothing to undo" }',
    )
    [problem] = problems_of(text)
    assert "does nothing" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('timeout = "2m"', "timeout = 0", "'timeout' must be more than 0s, not 0: a step given "
         "no time to wait fails at its first check; give its 'until' the time it needs to "
         "hold, such as 90s or 5m"),
        ('timeout = "2m"', 'timeout = "0s"', "'timeout' must be more than 0s, not \"0s\""),
        ('timeout = "2m"', "timeout = -1.5", "'timeout' must be more than 0s, not -1.5"),
        ('budget = "30m"', 'budget = "0s"', "'budget' must be more than 0s, not \"0s\": it is "
         "the window's length, which the header's clock counts down; give the agreed outage "
         "window, such as 45m or 2h"),
        ('budget = "1m"', "budget = 0", "'budget' must be more than 0s, not 0: it is the time "
         "the step is expected to take, counted on the window's clock; give an estimate such "
         "as 30s or 2m"),
        ('budget = "2m"', 'budget = "0h 0m 0s"', "'budget' must be more than 0s"),
    ],
    ids=["timeout-0", "timeout-0s", "timeout-negative", "plan-budget-0s", "step-budget-0",
         "step-budget-all-zero"],
)
def test_no_time_is_refused_at_its_line(old: str, new: str, message: str) -> None:
    text = edited(old, new)
    [problem] = problems_of(text)
    assert problem.line == line_of(new, text)
    assert problem.message.startswith(message)


def test_the_shipped_plans_with_manual_and_gate_only_steps_stay_valid() -> None:
    steps = [
        step
        for path in [*sorted(PLANS.glob("*.toml")), ROOT / "cockpit" / "demo" / "oms-demo.toml"]
        for step in load_plan(path).steps()
    ]
    assert any(step.gates and not step.do and not step.until for step in steps)
    assert any(step.do and step.do.kind == "manual" and not step.until for step in steps)


# --- AWS session tokens ---------------------------------------------------------------------

TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaDmFwLXNvdXRoZWFzdC0yIkcwRQIhAKEXAMPLE"


@pytest.mark.parametrize(
    "text",
    [
        TOKEN,
        f"use {TOKEN}= then",
        "FwoGZXIvYXdzEBYaDHhBTEXAMPLEtokenAAAAAAAA",
        "FQoGZXIvYXdzEBYaDHhBTEXAMPLEtokenAAAAAAAA",
        "AQoDYXdzEJr1K...AQoDYXdzEJr1KAAAAAAAAAAAAAAAA",
        "AQoEXAMPLEH4aoAH0gNCAPyJxz4BlCFFxWNE1OPTgk5TthT",
        "export AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEJrABCDEFG",
        "aws_session_token = abcdefghijklmnopqrstuvwx",
        'AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMIK7MDENGbPxRfiCY"',
        "aws_security_token: ABCDEFGHIJKLMNOPQRSTUVWX",
    ],
)
def test_session_tokens_and_secret_keys_are_recognised(text: str) -> None:
    assert find_secret(text) in ("an AWS session token", "an AWS secret access key")


@pytest.mark.parametrize(
    "text",
    [
        "IQoJb3JpZ2luX2",  # the prefix alone
        "export AWS_SESSION_TOKEN=$(aws configure get aws_session_token)",
        "the session token is in the vault",
        "aws_session_token",
        "xIQoJb3JpZ2luX2VjEJrABCDEFGHIJKLMNOP",  # inside a longer run: not its start
    ],
)
def test_text_about_session_tokens_is_not_a_secret(text: str) -> None:
    assert find_secret(text) is None


@pytest.mark.parametrize(
    ("key", "what"),
    [
        ("aws_session_token", "an AWS session token"),
        ("AWS_SESSION_TOKEN", "an AWS session token"),
        ("SessionToken", "an AWS session token"),
        ("aws-secret-access-key", "an AWS secret access key"),
        ("SecretAccessKey", "an AWS secret access key"),
        ("aws_profile", None),
        ("token_bucket", None),
    ],
)
def test_keys_that_name_a_credential(key: str, what: str | None) -> None:
    assert secret_key(key) == what


def test_a_session_token_key_is_one_problem_saying_secret_not_unknown_key() -> None:
    text = edited('region = "ap-southeast-2"\n',
                  'region = "ap-southeast-2"\naws_session_token = "from-the-vault"\n')
    [problem] = problems_of(text)
    assert problem.line == line_of("aws_session_token", text)
    assert problem.message.startswith(
        "secret written inline in 'aws_session_token': an AWS session token in [estate]; "
        "keep it in the environment or a credential store and out of the plan"
    )
    assert "from-the-vault" not in problem.message


def test_an_unknown_key_that_is_not_a_secret_is_still_an_unknown_key() -> None:
    text = edited('region = "ap-southeast-2"\n', 'region = "ap-southeast-2"\nsession = "x"\n')
    [problem] = problems_of(text)
    assert problem.message.startswith("unknown key 'session' in [estate]")
