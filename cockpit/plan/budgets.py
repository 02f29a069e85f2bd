"""Step budgets proposed from rehearsals, and written back into the plan file.

The rule: a step's budget is its worst rehearsed time times the scale, rounded up, to the
whole second (to the tenth of a second under ten seconds: on the simulated estate a step
takes a fraction of a second, and a whole second would be many times what it took).

The plan file is edited a line at a time, never re-serialised: its comments, its order,
its spelling of every other value stay byte for byte as the engineer wrote them. Step
tables are found by their `id` wherever the plan keeps them under its phases (forward
steps, and any other list of steps a phase holds), not by their header.
"""

from __future__ import annotations

import math
import re
import statistics
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cockpit.plan.models import Step, parse_duration
from cockpit.plan.toml_lines import KeyPath, scan_key_lines

WHOLE_SECONDS_FROM = 10.0


@dataclass(frozen=True)
class Proposal:
    step: str
    runs: int
    median: float
    worst: float
    budget_now: float
    budget: float


def round_up(seconds: float) -> float:
    """Up to the whole second, or to the tenth under ten seconds; never zero."""
    if seconds >= WHOLE_SECONDS_FROM:
        return float(math.ceil(seconds - 1e-9))
    return max(math.ceil(seconds * 10 - 1e-9) / 10, 0.1)


def propose(budgets_now: Mapping[str, float], times: Mapping[str, Sequence[float]],
            scale: float) -> list[Proposal]:
    """One proposal per step (in the order of `budgets_now`) that has rehearsed times."""
    proposals = []
    for step_id, budget_now in budgets_now.items():
        runs = times.get(step_id, ())
        if runs:
            worst = max(runs)
            proposals.append(Proposal(step_id, len(runs), statistics.median(runs), worst,
                                      budget_now, round_up(worst * scale)))
    return proposals


def step_budgets(text: str) -> dict[str, float]:
    """Every step table's budget as the file has it (the default when it has none), in
    file order: forward steps and any other list of steps a phase holds alike."""
    found = sorted(_step_tables(text), key=lambda item: item[0].id_line)
    return {step_id: where.budget for where, step_id in found}


def seconds_text(seconds: float) -> str:
    """`44` or `4.3`: how a budget is written, and how the comment names a time."""
    if not math.isfinite(seconds):
        return "-"
    return f"{seconds:.0f}" if seconds == int(seconds) else f"{seconds:.1f}"


def provenance(proposal: Proposal, sessions: Sequence[str], scale: float) -> str:
    """`from 2 rehearsals (a, b): median 41 s, worst 44 s, x1.0`: where a budget came from."""
    count = len(sessions)
    return (f"from {count} rehearsal{'' if count == 1 else 's'} ({', '.join(sessions)}): "
            f"median {_time(proposal.median)} s, worst {_time(proposal.worst)} s, x{_scale(scale)}")


def _scale(scale: float) -> str:
    """`1.0`, `1.5`, `1.25`: as given, with at least one decimal."""
    return f"{scale:.1f}" if round(scale, 1) == scale else f"{scale:g}"


def _time(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= WHOLE_SECONDS_FROM else f"{seconds:.2g}"


class BudgetLineError(ValueError):
    """A step whose budget cannot be written on a line of its own: `line` says where."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


_KEY_LINE = re.compile(r"^([ \t]*)(budget|id)[ \t]*=")


def write_budgets(text: str, budgets: Mapping[str, tuple[float, str]]) -> str:
    """`text` with each named step's `budget = ...` line replaced (or, if it has none, one
    put after its `id` line), `budgets` giving the seconds and the comment for each."""
    lines = text.split("\n")  # keeps every `\r`: each line ends as it did
    for where, step_id in _step_tables(text):
        if step_id in budgets:
            seconds, comment = budgets[step_id]
            _set_budget(lines, where, seconds, comment)
    return "\n".join(lines)


@dataclass(frozen=True)
class _Where:
    id_line: int
    budget_line: int | None
    budget: float


def _step_tables(text: str) -> list[tuple[_Where, str]]:
    """Every table under `phases` below a phase that has an `id`, bottom of the file first
    (an inserted line then leaves the line numbers above it as they were)."""
    keys = scan_key_lines(text)
    data = tomllib.loads(text)
    found = []
    for path, line in keys.items():
        if len(path) > 3 and path[0] == "phases" and path[-1] == "id":
            table = _at(data, path[:-1])
            if isinstance(table, dict) and isinstance(table.get("id"), str):
                budget_line = keys.get((*path[:-1], "budget"))
                budget = _seconds(table.get("budget", _DEFAULT_BUDGET))
                found.append((_Where(line, budget_line, budget), table["id"]))
    return sorted(found, key=lambda item: -(item[0].budget_line or item[0].id_line))


_DEFAULT_BUDGET = Step.model_fields["budget"].default


def _seconds(value: Any) -> float:
    """A budget as written (`90`, `"2m"`); one that is not a duration counts as none."""
    try:
        seconds = parse_duration(value)
    except ValueError:
        return float("nan")
    return float(seconds) if isinstance(seconds, int | float) else float("nan")


def _at(data: Any, path: KeyPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _set_budget(lines: list[str], where: _Where, seconds: float, comment: str) -> None:
    if where.budget_line is not None:
        index = where.budget_line - 1
        _own_line(lines[index], "budget", where.budget_line)
    else:
        index = where.id_line  # the new line goes just after the id's
        _own_line(lines[index - 1], "id", where.id_line)
        lines.insert(index, "")
    model = lines[index] if where.budget_line is not None else lines[index - 1]
    indent = _KEY_LINE.match(model)
    ending = "\r" if model.endswith("\r") else ""
    lines[index] = (f"{indent.group(1) if indent else ''}budget = {seconds_text(seconds)}"
                    f"  # {comment}{ending}")


def _own_line(line: str, key: str, number: int) -> None:
    match = _KEY_LINE.match(line)
    if match is None or match.group(2) != key:
        raise BudgetLineError(number, f"the step's `{key}` shares its line with other keys "
                                      f"(an inline table): give the step a `budget = ...` "
                                      "line of its own")
