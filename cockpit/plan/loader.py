"""Read a plan file into a `Plan`, or say everything that is wrong with it, by line.

First the file: a regular file (not a pipe, a device or a directory, which could block or
never end), at most `MAX_PLAN_BYTES`, in UTF-8. Then one pass of `toml_lines` (every key's
line; a dotted key or a nesting deeper than any plan's is refused there, before tomllib
spends quadratic time on it), then TOML syntax (tomllib; a syntax error ends it there, as
nothing after it can be read for sure), then the schema (pydantic, with
its errors put back on the lines `toml_lines` finds) *and* the checks a schema cannot make
(`checks`), which read whatever parts of the file did validate: every problem of both is
reported, in file order. Whatever a file holds, the answer is a `Plan` or a
`PlanLoadError`: the command line must never show an engineer a traceback.

Every pass is linear in the size of the file (see `tests/unit/test_plan_scaling.py`).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cockpit.plan.checks import Finding, check_plan
from cockpit.plan.inline_secrets import find_secret, secret_key
from cockpit.plan.messages import describe, node_at
from cockpit.plan.models import Plan
from cockpit.plan.toml_lines import KeyPath, Scan, line_of, scan_toml

# The largest plan file read. The plans this cockpit was built for are 5-15 KB, and a
# window of several hundred steps is a few hundred KB: 1 MiB (some 4,000 steps) is far past
# any runbook a person drives in one night, so a larger file is a log, a dump or the wrong
# path. Refusing it at once keeps a mistake from holding a terminal: a plan at the limit is
# checked in a second or two, the refusal takes no time at all.
MAX_PLAN_BYTES = 1024 * 1024
_FILE_TYPES = (
    (stat.S_ISDIR, "Is a directory"),
    (stat.S_ISFIFO, "Is a named pipe (FIFO), not a plan file"),
    (stat.S_ISCHR, "Is a character device, not a plan file"),
    (stat.S_ISBLK, "Is a block device, not a plan file"),
    (stat.S_ISSOCK, "Is a socket, not a plan file"),
)
# Opening never waits: on a FIFO swapped in after the check, O_RDONLY alone blocks until a
# writer appears (forever); O_NONBLOCK returns at once, and a regular file reads the same.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)

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
        unique = list(dict.fromkeys(problems))  # a schema error and a check may agree
        self.problems = sorted(unique, key=lambda problem: problem.line)
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
    if len(text) > MAX_PLAN_BYTES:  # a character is at least a byte
        raise _one(path, 1, _too_large(None))
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PLAN_BYTES:
        raise _one(path, 1, _too_large(size))
    scan = _scan(text, path)
    data = _parse(text, path)
    lines = scan.lines
    schema: ValidationError | None = None
    try:
        plan: Plan | None = Plan.model_validate(data)
    except ValidationError as exc:
        plan, schema = None, exc
    # Both stages, whatever the first found: every problem, in file order.
    problems = _problems(check_plan(plan, data, lines), path)
    if schema is not None:
        problems += _schema_problems(schema, data, lines, path, secrets_reported=bool(problems))
    if problems or plan is None:
        raise PlanLoadError(problems)
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
    """The file's bytes: only a regular file, only up to the limit, never waiting."""
    try:
        _check_file(os.stat(path), path)
        fd = os.open(path, _OPEN_FLAGS)
        with os.fdopen(fd, "rb") as file:
            _check_file(os.fstat(file.fileno()), path)  # the same file as checked
            raw = file.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise _one(path, 1, f"cannot read the plan: {exc.strerror or exc}") from None
    if len(raw) > MAX_PLAN_BYTES:  # grew since, or a file whose size stat does not know
        raise _one(path, 1, _too_large(None))
    return raw


def _check_file(info: os.stat_result, path: Path) -> None:
    for is_type, what in _FILE_TYPES:
        if is_type(info.st_mode):
            raise _one(path, 1, f"cannot read the plan: {what}")
    if not stat.S_ISREG(info.st_mode):
        raise _one(path, 1, "cannot read the plan: not a regular file")
    if info.st_size > MAX_PLAN_BYTES:
        raise _one(path, 1, _too_large(info.st_size))


def _too_large(size: int | None) -> str:
    written = f"{size:,} bytes" if size is not None else "larger than that"
    return (
        f"the plan is too large: at most {MAX_PLAN_BYTES:,} bytes (1 MiB) is read, and this "
        f"file is {written}; no runbook is that long: is this the right file?"
    )


def _decode(raw: bytes, path: Path) -> str:
    try:
        # utf-8-sig: an editor on a Windows jump host may have saved a byte-order mark.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}): save the plan as UTF-8"
        raise _one(path, line, message) from None


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    """The TOML data in `text`, or a PlanLoadError at the line of what is wrong."""
    _scan(text, path)
    return _parse(text, path)


def _scan(text: str, path: Path) -> Scan:
    """Every key's line, or the refusal of a key or nesting too deep for tomllib to read in
    linear time (`toml_lines`)."""
    try:
        scan = scan_toml(text)
    except RecursionError:  # unreachable with MAX_NESTING, but a line is only a courtesy
        return Scan()
    if scan.refused:
        line, message = scan.refused
        raise _one(path, line, message)
    return scan


def _parse(text: str, path: Path) -> dict[str, Any]:
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
    # From the start of a run of digits only: `\d{1000,}` alone retries inside every run.
    match = re.search(r"(?<!\d)\d{1000,}", text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _last_line(text: str) -> int:
    return max(1, text.count("\n") + (0 if text.endswith("\n") else 1))


# --- problems ------------------------------------------------------------------------------


def _schema_problems(
    exc: ValidationError, data: Any, lines: dict[KeyPath, int], path: Path,
    secrets_reported: bool,
) -> list[Problem]:
    problems: dict[Problem, None] = {}  # each once, in pydantic's order
    for error in exc.errors(include_url=False):
        if (secrets_reported and error["type"] == "extra_forbidden"
                and _is_secret(error["loc"], data)):
            continue  # an unknown key holding a credential: the checks report the secret
        problems.setdefault(Problem(path, line_of(lines, error["loc"]), describe(error, data)))
    return list(problems)


def _is_secret(loc: KeyPath, data: Any) -> bool:
    value = node_at(data, loc)
    name = loc[-1] if loc else ""
    return isinstance(value, str) and bool(
        (isinstance(name, str) and value.strip() and secret_key(name)) or find_secret(value)
    )


def _problems(findings: list[Finding], path: Path) -> list[Problem]:
    return [Problem(path, finding.line, finding.message) for finding in findings]


def _one(path: Path, line: int, message: str) -> PlanLoadError:
    return PlanLoadError([Problem(path, line, message)])
