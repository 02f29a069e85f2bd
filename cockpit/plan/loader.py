"""Read a plan file into a `Plan`, or say everything that is wrong with it, by line.

Three passes, each only when the one before it passed: TOML syntax (tomllib), the schema
(pydantic, with its errors put back on the lines `toml_lines` finds), then the checks a
schema cannot make (`checks`). Whatever a file holds, the answer is a `Plan` or a
`PlanLoadError`: the command line must never show an engineer a traceback.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cockpit.plan.checks import Finding, check_plan
from cockpit.plan.messages import describe
from cockpit.plan.models import Plan
from cockpit.plan.toml_lines import KeyPath, line_of, scan_key_lines

_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")
# tomllib says what it met, not what was meant; the usual causes, for the usual messages.
_TOML_HINTS = {
    "Illegal character '\\n'": ": is a string missing its closing quote?",
    "Unclosed array": ": is a ']' missing?",
    "Unclosed inline table": ": is a ',' or '}' missing? (an inline table must fit on one line)",
    "Cannot overwrite a value": ": is a key written twice?",
}


@dataclass(frozen=True)
class Problem:
    """One thing to fix in a plan file, where an editor can jump to it."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class PlanLoadError(Exception):
    """A plan file that cannot be used; `problems` holds every problem found, by line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda problem: problem.line)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class LoadedPlan:
    """A plan with the very bytes it was parsed from: a session keeps a copy of those bytes,
    and their hash names the plan on the record (not a re-read that may have changed)."""

    path: Path
    raw: bytes
    plan: Plan

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def load_plan(path: Path) -> Plan:
    """The plan in `path`, or a PlanLoadError listing every problem in it."""
    return load_plan_file(path).plan


def load_plan_file(path: Path) -> LoadedPlan:
    """The plan in `path` with its bytes, or a PlanLoadError listing every problem in it."""
    raw = _read_bytes(path)
    return LoadedPlan(path, raw, load_plan_text(_decode(raw, path), path))


def load_plan_text(text: str, path: Path) -> Plan:
    """The plan written in `text` (read from `path`, which problems are reported against)."""
    data = parse_toml(text, path)
    lines = _key_lines(text)
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise _schema_error(exc, data, lines, path) from None
    findings = check_plan(plan, data, lines)
    if findings:
        raise PlanLoadError(_problems(findings, path))
    return plan


def validate_files(paths: Iterable[Path]) -> list[Problem]:
    """Every problem in every file, file by file in the order given (none: all valid)."""
    problems: list[Problem] = []
    for path in paths:
        try:
            load_plan(path)
        except PlanLoadError as exc:
            problems += exc.problems
    return problems


# --- reading -------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _one(path, 1, f"cannot read the plan: {exc.strerror or exc}") from None


def _decode(raw: bytes, path: Path) -> str:
    try:
        # utf-8-sig: an editor on a Windows jump host may have saved a byte-order mark.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}): save the plan as UTF-8"
        raise _one(path, line, message) from None


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(str(exc), text, path) from None
    except RecursionError:
        raise _one(path, 1, "invalid TOML: values nested too deeply") from None
    except ValueError:  # tomllib lets int() refuse numbers past Python's digit limit
        raise _one(
            path, _long_number_line(text), "invalid TOML: a number too long to read"
        ) from None


def _toml_error(message: str, text: str, path: Path) -> PlanLoadError:
    """tomllib's error at its line, without the `(at line N, column M)` it appends."""
    match = _TOML_POSITION.search(message)
    reason = message[: match.start()] if match else message
    reason += _TOML_HINTS.get(reason, "")
    if match and match.group(1):
        line, column = int(match.group(1)), match.group(2)
        return _one(path, line, f"invalid TOML at column {column}: {reason}")
    return _one(path, _last_line(text), f"invalid TOML at the end of the file: {reason}")


def _long_number_line(text: str) -> int:
    match = re.search(r"\d{1000,}", text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _last_line(text: str) -> int:
    return max(1, text.count("\n") + (0 if text.endswith("\n") else 1))


def _key_lines(text: str) -> dict[KeyPath, int]:
    try:
        return scan_key_lines(text)
    except RecursionError:  # absurdly nested arrays: report at line 1 rather than fail
        return {}


# --- problems ------------------------------------------------------------------------------


def _schema_error(
    exc: ValidationError, data: Any, lines: dict[KeyPath, int], path: Path
) -> PlanLoadError:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        problem = Problem(path, line_of(lines, error["loc"]), describe(error, data))
        if problem not in problems:
            problems.append(problem)
    return PlanLoadError(problems)


def _problems(findings: list[Finding], path: Path) -> list[Problem]:
    return [Problem(path, finding.line, finding.message) for finding in findings]


def _one(path: Path, line: int, message: str) -> PlanLoadError:
    return PlanLoadError([Problem(path, line, message)])
