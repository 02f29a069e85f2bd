"""Loading a plan is linear in its size, a file past the size limit is refused at once, and
only regular files are read (a FIFO or a device could block or never end).

House rule: no test measures time. A quadratic regression is caught by running the loader
in a subprocess with a generous timeout: today each input below takes it well under a
second or two; quadratic, they took from minutes to hours (a 1 MB word: the inline-secret
URL pattern, ~1 h; 800 spaces in a duration: 400 s; 60,000 steps: a known-ids scan per
reference, minutes), so a regression fails loudly as a timeout, naming the input, and
every test asserts what the loader answered, not how fast.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.plans import BASE_PLAN

from cockpit.cli import main
from cockpit.plan.loader import MAX_PLAN_BYTES, PlanLoadError, load_plan_text

TIMEOUT_S = 30  # generous: the slowest input below takes ~2 s on a loaded machine
MEGABYTE = 1_000_000
BASE = BASE_PLAN.read_text()
TITLE = 'name = "OMS Phase One (test copy)"'


def _edit(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def _dense_steps(size: int) -> str:
    """The base plan's estate, then steps until the text is about `size` characters."""
    head = BASE.partition("\n[[phases]]")[0]
    parts = [head, '\n[[phases]]\nid = "bulk"\ntitle = "Many steps"\n']
    total, n = sum(map(len, parts)), 0
    while True:
        after = f'after = ["s{n - 1}"]\n' if n else ""
        step = (
            f'\n[[phases.steps]]\nid = "s{n}"\ntitle = "Step {n}"\n{after}'
            'do = { kind = "elb.register", target_group = "oms-web", servers = ["oms-app-1"] }\n'
            'until = [{ kind = "http.healthy", servers = ["oms-app-1"] }]\n'
        )
        if total + len(step) > size:
            return "".join(parts)
        parts.append(step)
        total += len(step)
        n += 1


def _up_to_limit() -> str:
    """The base plan padded with a comment to exactly the size limit."""
    filler = MAX_PLAN_BYTES - len(BASE.encode()) - 2
    return BASE + "#" + "x" * filler + "\n"


# Each: the text, and what the loader must answer ("ok", or a fragment of its one problem).
# The headline inputs are 1 MB; the rest, 250 KB, is already hours for a quadratic pattern.
WORD = "a" * MEGABYTE
PART = MEGABYTE // 4
ESCAPES = 'a\\"b' * (PART // 4)  # `a\"b`: an escaped quote, over and over
CASES: dict[str, tuple[str, str]] = {
    "a-1-MB-word-in-a-name": (_edit(TITLE, f'name = "{WORD}"'), "ok"),
    "a-1-MB-comment": (BASE + "# " + WORD + "\n", "ok"),
    "steps-up-to-the-size-limit": (_dense_steps(MAX_PLAN_BYTES - 100), "ok"),
    "exactly-the-size-limit": (_up_to_limit(), "ok"),
    "a-word-after-a-scheme": (
        _edit(TITLE, f'name = "x"\ndescription = "https://{"a" * PART}"'), "ok"),
    "colons-after-a-scheme": (
        _edit(TITLE, f'name = "x"\ndescription = "https://{":" * PART}"'), "ok"),
    "a-base64-run": (_edit(TITLE, f'name = "{"A1b+" * (PART // 4)}"'), "ok"),
    "password-words": (_edit(TITLE, f'name = "{"password pwd " * (PART // 13)}"'), "ok"),
    "a-multiline-string-of-escapes": (_edit(TITLE, 'name = """' + ESCAPES + '"""'), "ok"),
    "spaces-in-a-duration": (
        _edit('budget = "30m"', f'budget = "{" " * PART}x"'), "must be a duration"),
    "digits-in-a-duration": (
        _edit('budget = "30m"', f'budget = "{"1" * PART}x"'), "must be a duration"),
    "a-long-unknown-key": (_edit(TITLE, f"{TITLE}\n{'k' * PART} = 1"), "unknown key 'kkk"),
    "a-key-of-many-dotted-parts": (
        _edit(TITLE, f"{TITLE}\n{'.'.join(['a'] * (PART // 2))} = 1"),
        "a key of more than 16 dotted parts"),
    "arrays-nested-deep": (
        _edit(TITLE, f"{TITLE}\nx = {'[' * PART}"), "values nested more than 32 deep"),
}

# Runs in the subprocess: each file's answer as one JSON line, flushed, so a timeout can
# say which input the loader was stuck in.
VALIDATE = """
import json, sys
from pathlib import Path
from cockpit.plan.loader import validate_files
for name in sys.argv[1:]:
    print(json.dumps({"started": name}), flush=True)
    problems = validate_files([Path(name)])
    print(json.dumps({"file": name, "problems": [str(p) for p in problems]}), flush=True)
"""


def run_python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        started = [json.loads(line).get("started") for line in out.splitlines() if line]
        stuck = next((name for name in reversed(started) if name), "?")
        pytest.fail(f"the loader did not finish in {TIMEOUT_S}s (quadratic again?): {stuck}")


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Every case validated by one subprocess: its problems, by case name."""
    folder = tmp_path_factory.mktemp("large")
    paths = []
    for name, (text, _) in CASES.items():
        path = folder / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    result = run_python(VALIDATE, *paths)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return {Path(line["file"]).stem: line["problems"] for line in lines if "file" in line}


@pytest.mark.parametrize("name", list(CASES))
def test_a_large_input_is_answered_and_not_a_hang(name: str, answers: dict[str, list[str]]) -> None:
    text, expected = CASES[name]
    assert len(text.encode()) <= MAX_PLAN_BYTES  # each is read, not refused for its size
    problems = answers[name]
    if expected == "ok":
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0], problems
        assert len(problems[0]) < 400  # a message is one readable line, not the input


# Many steps, straight to the checks: a per-step scan of all steps (ids, references, the
# graph) made 10,000 steps take 30 s; linear, a few seconds. Twice: with a valid plan, and
# with the schema failing (a port of 0), when the checks read what validates on its own.
SCALED_CHECKS = """
from cockpit.plan.checks import check_plan
from cockpit.plan.models import Plan
for port in (80, 0):
    data = {
        "plan": {"name": "scale", "budget": "10h"},
        "estate": {
            "app_servers": [{"id": "a1", "site": "aws", "az": "x", "health_url": "http://h/"}],
            "load_balancers": [{"id": "lb", "azs": ["x"]}],
            "target_groups": [{"id": "tg", "load_balancer": "lb", "port": port}],
        },
        "phases": [{"id": "p", "title": "P", "steps": [
            {"id": f"s{n}", "title": f"Step {n}",
             "after": [f"s{max(0, n - k)}" for k in (3, 2, 1)] if n else ["nowhere"],
             "do": {"kind": "elb.register", "target_group": "tg", "servers": ["a1"]},
             "until": [{"kind": "elb.targets_healthy", "target_group": "tg", "servers": ["a1"]}]}
            for n in range(10_000)
        ]}],
    }
    try:
        plan = Plan.model_validate(data)
    except Exception:
        plan = None
    print(plan is not None, [f.message for f in check_plan(plan, data, {})], flush=True)
"""


def test_the_checks_are_linear_in_the_number_of_steps() -> None:
    result = run_python(SCALED_CHECKS)
    assert result.returncode == 0, result.stderr
    unknown = "unknown step 'nowhere' in step 's0' (known: s0, s1, s2, s3, s4, s5, s6, s7, ...)"
    assert result.stdout.splitlines() == [f'True ["{unknown}"]', f'False ["{unknown}"]']


# --- the size limit --------------------------------------------------------------------------


def problem_lines(path: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["plan", "validate", str(path)])
    return result.exit_code, [line for line in result.stderr.splitlines() if line.strip()]


def test_a_plan_over_the_size_limit_is_refused_at_line_1_saying_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_text(_up_to_limit() + "#\n")
    code, problems = problem_lines(path)
    assert code == 2
    assert problems == [
        f"{path}:1: the plan is too large: at most 1,048,576 bytes (1 MiB) is read, and this "
        f"file is {MAX_PLAN_BYTES + 2:,} bytes; no runbook is that long: is this the right "
        "file?"
    ]


def test_a_10_MB_plan_is_refused_without_being_parsed(tmp_path: Path) -> None:
    path = tmp_path / "ten.toml"
    with path.open("w") as file:  # sparse: 10 MB of NUL bytes that are never read
        file.truncate(10 * MEGABYTE)
    code, problems = problem_lines(path)
    assert code == 2 and len(problems) == 1
    assert problems[0].startswith(f"{path}:1: the plan is too large: at most 1,048,576 bytes")
    assert "this file is 10,000,000 bytes" in problems[0]


def test_text_over_the_limit_is_refused_by_load_plan_text_too() -> None:
    for text in (BASE + "#" * MAX_PLAN_BYTES, BASE + "#" + "é" * (MAX_PLAN_BYTES // 2)):
        with pytest.raises(PlanLoadError) as caught:
            load_plan_text(text, Path("big.toml"))
        [problem] = caught.value.problems
        assert problem.line == 1 and problem.message.startswith("the plan is too large")


# --- only regular files ----------------------------------------------------------------------

CLI = "from cockpit.cli import main; main()"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.toml"
    os.mkfifo(fifo)
    # Nothing ever writes to it: reading it the old way waited for a writer forever.
    result = run_python(CLI, "plan", "validate", str(fifo))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{fifo}:1: cannot read the plan: Is a named pipe (FIFO), not a plan file"
    ]
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # left as it was


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_an_endless_device_is_refused_not_read() -> None:
    result = run_python(CLI, "plan", "validate", "/dev/zero")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "/dev/zero:1: cannot read the plan: Is a character device, not a plan file"
    ]


def test_a_symlink_to_a_plan_is_read(tmp_path: Path) -> None:
    link = tmp_path / "link.toml"
    link.symlink_to(BASE_PLAN)
    assert problem_lines(link) == (0, [])


# --- the benchmark estates -------------------------------------------------------------------


def test_the_hundred_times_estate_the_cost_curve_measures_loads_with_its_counts(
        tmp_path: Path) -> None:
    out = tmp_path / "x100.toml"
    result = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--preset", "100x", "--sql", "--out", str(out)],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
        timeout=TIMEOUT_S, check=False)
    assert result.returncode == 0, result.stderr
    estate = load_plan_text(out.read_text(), out).estate
    sites = [server.site for server in estate.app_servers]
    assert (sites.count("datacentre"), sites.count("aws")) == (200, 400)
    assert len(estate.target_groups) == 40
    assert {len(group.registered) for group in estate.target_groups} == {40}
    registered = [s for group in estate.target_groups for s in group.registered]
    assert {registered.count(s) for s in set(registered)} == {4}  # each AWS server in 4
    assert len(set(registered)) == 400
    assert len({record.name for record in estate.records}) == 300
    assert len(estate.resolvers) == 5
    assert len(estate.databases) == 50
    assert [len(ag.replicas) for ag in estate.availability_groups] == [3]
