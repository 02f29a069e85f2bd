"""What the simulated SQL Server understands: the statements `cockpit.estate.tsql` writes,
and SELECTs (which it runs on SQLite). Anything else is refused as SQL Server would
refuse it: Msg 102, incorrect syntax.

Names are read back through the same quoting rules the generator uses (`]]` inside
`[...]`, `''` inside `'...'`), so a hostile name arrives as one name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cockpit.sim.sql_errors import SimSqlError

_NAME = r"\[(?:[^\]]|\]\])+\]"
_TEXT = r"'(?:[^']|'')*'"
_COMMENTS = re.compile(r"^\s*(?:--[^\n]*(?:\n|$)\s*)*")


def unquote_name(token: str) -> str:
    return token[1:-1].replace("]]", "]")


def unquote_text(token: str) -> str:
    return token[1:-1].replace("''", "'")


@dataclass(frozen=True)
class Select:
    """Run as it is, on SQLite, with the DMVs attached as `sys`."""

    sql: str


@dataclass(frozen=True)
class Use:
    database: str


@dataclass(frozen=True)
class TableQuery:
    """`COUNT_BIG(*)` or `CHECKSUM_AGG(CHECKSUM(*))` of one table."""

    what: str  # "count" or "checksum"
    database: str
    schema: str
    table: str


@dataclass(frozen=True)
class SetOption:
    database: str
    option: str  # RESTRICTED_USER, READ_ONLY, READ_WRITE, MULTI_USER
    rollback_immediate: bool


@dataclass(frozen=True)
class JoinAg:
    database: str
    ag: str


@dataclass(frozen=True)
class AgDatabase:
    ag: str
    verb: str  # ADD or REMOVE
    database: str


@dataclass(frozen=True)
class DropDatabase:
    database: str


@dataclass(frozen=True)
class InsertSentinel:
    """`INSERT INTO [db].[schema].[table] ([sentinel], [written_at]) VALUES ('x',
    SYSUTCDATETIME())`: the one row the cockpit writes, the fence's marker."""

    database: str
    schema: str
    table: str
    value: str


Statement = (Select | Use | TableQuery | SetOption | JoinAg | AgDatabase | DropDatabase
             | InsertSentinel)


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile("^" + text + "$", re.IGNORECASE | re.DOTALL)


_USE = _pattern(rf"USE ({_NAME})")
_TABLE = _pattern(rf"SELECT (COUNT_BIG\(\*\)|CHECKSUM_AGG\(CHECKSUM\(\*\)\)) "
                  rf"FROM ({_NAME})\.({_NAME})\.({_NAME})")
_SET = _pattern(rf"ALTER DATABASE ({_NAME}) SET (RESTRICTED_USER|READ_ONLY|READ_WRITE|"
                rf"MULTI_USER)( WITH ROLLBACK IMMEDIATE)?")
_JOIN = _pattern(rf"ALTER DATABASE ({_NAME}) SET HADR AVAILABILITY GROUP = ({_NAME})")
_AG = _pattern(rf"ALTER AVAILABILITY GROUP ({_NAME}) (ADD|REMOVE) DATABASE ({_NAME})")
_DROP = _pattern(rf"DROP DATABASE ({_NAME})")
_INSERT = _pattern(rf"INSERT INTO ({_NAME})\.({_NAME})\.({_NAME}) \(\[sentinel\], "
                   rf"\[written_at\]\) VALUES \(({_TEXT}), SYSUTCDATETIME\(\)\)")


def strip_comments(statement: str) -> str:
    return _COMMENTS.sub("", statement).strip()


def parse(statement: str) -> Statement:
    """The statement, understood; SimSqlError (Msg 102) for anything else."""
    text = strip_comments(statement)
    if re.match(r"SELECT\b", text, re.IGNORECASE) and not _TABLE.match(text):
        return Select(statement)
    for pattern, build in _GRAMMAR:
        match = pattern.match(text)
        if match:
            return build(match)
    raise incorrect_syntax(text)


def incorrect_syntax(text: str) -> SimSqlError:
    near = (text.split() or ["(end of batch)"])[0][:40]
    return SimSqlError(102, f"Incorrect syntax near '{near}'.", sqlstate="42000")


def _table(m: re.Match[str]) -> TableQuery:
    what = "count" if m.group(1).upper().startswith("COUNT") else "checksum"
    return TableQuery(what, *(unquote_name(m.group(n)) for n in (2, 3, 4)))


_GRAMMAR: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Statement]]] = [
    (_USE, lambda m: Use(unquote_name(m.group(1)))),
    (_TABLE, _table),
    (_SET, lambda m: SetOption(unquote_name(m.group(1)), m.group(2).upper(),
                               bool(m.group(3)))),
    (_JOIN, lambda m: JoinAg(unquote_name(m.group(1)), unquote_name(m.group(2)))),
    (_AG, lambda m: AgDatabase(unquote_name(m.group(1)), m.group(2).upper(),
                               unquote_name(m.group(3)))),
    (_DROP, lambda m: DropDatabase(unquote_name(m.group(1)))),
    (_INSERT, lambda m: InsertSentinel(unquote_name(m.group(1)), unquote_name(m.group(2)),
                                       unquote_name(m.group(3)), unquote_text(m.group(4)))),
]
