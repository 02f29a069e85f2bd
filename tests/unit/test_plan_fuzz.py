"""Whatever text a plan file holds, loading it gives a Plan or a PlanLoadError whose problems
sit on lines of that file: never another exception, never a line that is not there."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.plans import ROOT

from cockpit.plan.loader import PlanLoadError, load_plan_text
from cockpit.plan.models import Plan

SEEDS = [
    (ROOT / "plans" / "oms-phase1-app-servers.toml").read_text(),
    (ROOT / "tests" / "data" / "bad_plans" / "_base.toml").read_text(),
]
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
MORE = settings(FUZZ, max_examples=300)
# Characters that matter to TOML and to the plan schema, so edits hit the interesting paths.
EDIT_CHARS = st.sampled_from(list("[]{}\"'=.,#\n \\0123456789-_:abcdefstruAKIA\x00\u00e9"))


def assert_loads_or_reports(text: str) -> None:
    try:
        plan = load_plan_text(text, Path("fuzz.toml"))
    except PlanLoadError as exc:
        assert exc.problems, "a PlanLoadError must say what is wrong"
        last_line = text.count("\n") + 1
        for problem in exc.problems:
            assert 1 <= problem.line <= last_line, problem
            assert problem.message and "\n" not in problem.message, problem
        assert [p.line for p in exc.problems] == sorted(p.line for p in exc.problems)
    else:
        assert isinstance(plan, Plan)


@FUZZ
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    assert_loads_or_reports(text)


@FUZZ
@given(st.text(alphabet="[]{}\"'=.,#\n \\abcdeilnpstu_0123456789", max_size=300))
def test_toml_like_text(text: str) -> None:
    assert_loads_or_reports(text)


def delete_line(lines: list[str], at: int, other: int) -> None:
    del lines[at % len(lines)]


def duplicate_line(lines: list[str], at: int, other: int) -> None:
    lines.insert(other % len(lines), lines[at % len(lines)])


def swap_lines(lines: list[str], at: int, other: int) -> None:
    i, j = at % len(lines), other % len(lines)
    lines[i], lines[j] = lines[j], lines[i]


MUTATIONS = st.tuples(
    st.sampled_from([delete_line, duplicate_line, swap_lines]),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=10_000),
)
CHAR_EDITS = st.tuples(
    st.sampled_from(["replace", "insert", "delete"]),
    st.integers(min_value=0, max_value=100_000),
    EDIT_CHARS,
)


def edit_chars(text: str, edits: list[tuple[str, int, str]]) -> str:
    for action, position, char in edits:
        at = position % (len(text) + 1)
        if action == "insert":
            text = text[:at] + char + text[at:]
        elif action == "replace":
            text = text[:at] + char + text[at + 1 :]
        else:
            text = text[:at] + text[at + 1 :]
    return text


@MORE
@given(st.sampled_from(SEEDS), st.lists(MUTATIONS, min_size=1, max_size=4))
def test_line_mutations_of_a_valid_plan(
    seed: str, mutations: list[tuple[object, int, int]]
) -> None:
    lines = seed.split("\n")
    for mutate, at, other in mutations:
        assert callable(mutate)
        mutate(lines, at, other)
    assert_loads_or_reports("\n".join(lines))


@MORE
@given(st.sampled_from(SEEDS), st.lists(CHAR_EDITS, min_size=1, max_size=6))
def test_character_edits_of_a_valid_plan(seed: str, edits: list[tuple[str, int, str]]) -> None:
    assert_loads_or_reports(edit_chars(seed, edits))


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(MUTATIONS, max_size=2),
    st.lists(CHAR_EDITS, max_size=3),
)
def test_both_kinds_of_mutation(
    seed: str, mutations: list[tuple[object, int, int]], edits: list[tuple[str, int, str]]
) -> None:
    lines = seed.split("\n")
    for mutate, at, other in mutations:
        assert callable(mutate)
        mutate(lines, at, other)
    assert_loads_or_reports(edit_chars("\n".join(lines), edits))
