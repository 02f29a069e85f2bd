"""`cockpit plan validate`: every bad plan is reported at its line, every real plan passes,
and no input at all can make the command print a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.plans import ROOT

from cockpit.cli import main

BAD_PLANS = ROOT / "tests" / "data" / "bad_plans"
BASE_PLAN = BAD_PLANS / "_base.toml"
PLANS = sorted((ROOT / "plans").glob("*.toml"))
EXPECT = re.compile(r"^# expect: (\d+): (.+)$")


def bad_plans() -> list[Path]:
    return sorted(path for path in BAD_PLANS.glob("*.toml") if not path.name.startswith("_"))


def expectation(path: Path) -> tuple[int, str]:
    first_line = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    match = EXPECT.match(first_line)
    assert match, f"{path.name} must start with '# expect: <line>: <message fragment>'"
    return int(match.group(1)), match.group(2)


def validate(*paths: Path | str) -> Result:
    result = CliRunner().invoke(main, ["plan", "validate", *map(str, paths)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def problem_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_there_are_enough_bad_plans() -> None:
    assert len(bad_plans()) >= 25


def test_the_base_of_the_bad_plans_is_valid() -> None:
    result = validate(BASE_PLAN)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("path", bad_plans(), ids=lambda path: path.stem)
def test_bad_plan_is_reported_at_its_line(path: Path) -> None:
    line, fragment = expectation(path)
    result = validate(path)
    assert result.exit_code == 2
    problems = problem_lines(result)
    wanted = f"{path}:{line}: "
    assert any(p.startswith(wanted) and fragment in p for p in problems), "\n".join(problems)
    # One thing is wrong in each file, so one problem: no cascade of follow-on noise.
    assert len(problems) == 1, "\n".join(problems)


@pytest.mark.parametrize("path", PLANS, ids=lambda path: path.stem)
def test_real_plans_validate(path: Path) -> None:
    result = validate(path)
    assert result.exit_code == 0, result.stderr
    assert f"{path}: ok" in result.stdout


def test_every_file_is_checked_and_only_bad_ones_are_reported(tmp_path: Path) -> None:
    bad = bad_plans()[:3]
    result = validate(BASE_PLAN, *bad)
    assert result.exit_code == 2
    reported = {line.split(":", 1)[0] for line in problem_lines(result)}
    assert reported == {str(path) for path in bad}


def test_secrets_are_never_echoed() -> None:
    secrets = ("Winter2024!", "S3cretPass", "wJalrXUtnFEMI", "AKIAIOSFODNN7EXAMPLE")
    secrets += ("IQoJb3JpZ2luX2Vj", "paste-me-each-window", "not/a/forty/char/key")
    paths = sorted(BAD_PLANS.glob("secret-*.toml"))
    result = validate(*paths)
    assert result.exit_code == 2
    assert len(paths) >= 4  # the four of old, and the AWS session token ones since
    assert len(problem_lines(result)) == len(paths)
    assert not any(secret in result.output for secret in secrets)


def test_a_secret_in_a_wrongly_typed_value_is_not_echoed(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(BASE_PLAN.read_text().replace("port = 8080", 'port = "AKIAIOSFODNN7EXAMPLE"'))
    result = validate(plan)
    assert "'port' must be an integer" in result.stderr
    assert "AKIA" not in result.output


# --- files that are not plans at all -------------------------------------------------------

JUNK: dict[str, bytes] = {
    "empty": b"",
    "only-comments": b"# nothing here\n",
    "binary": bytes(range(256)) * 4,
    "nul-bytes": b"[plan]\x00\x00\nname = 1\n",
    "latin-1": '[plan]\nname = "caf\xe9"\n'.encode("latin-1"),
    "utf-16": '[plan]\nname = "x"\n'.encode("utf-16"),
    "deep-nesting": b"a = " + b"[" * 5000,
    "huge-integer": b"a = " + b"9" * 5000,
    "not-a-table": b"plan = 5\nestate = []\nphases = 'x'\n",
}


@pytest.mark.parametrize("name", sorted(JUNK))
def test_junk_is_a_problem_not_a_traceback(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.toml"
    path.write_bytes(JUNK[name])
    for command in (["validate"], ["show"]):
        result = CliRunner().invoke(main, ["plan", *command, str(path)])
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit)
        assert problem_lines(result)
        assert all(re.match(rf"{re.escape(str(path))}:\d+: \S", p) for p in problem_lines(result))


def test_a_missing_file_is_a_problem_at_line_1(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    result = validate(path)
    assert result.exit_code == 2
    assert problem_lines(result) == [f"{path}:1: cannot read the plan: No such file or directory"]


def test_a_directory_is_a_problem_at_line_1(tmp_path: Path) -> None:
    result = validate(tmp_path)
    assert result.exit_code == 2
    assert problem_lines(result) == [f"{tmp_path}:1: cannot read the plan: Is a directory"]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE_PLAN.read_bytes())
    assert validate(path).exit_code == 0
