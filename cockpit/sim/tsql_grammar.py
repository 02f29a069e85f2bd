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
_URLS = rf"URL = {_TEXT}(?:, URL = {_TEXT})*"
_COMMENTS = re.compile(r"^\s*(?:--[^\n]*(?:\n|$)\s*)*")


def unquote_name(token: str) -> str:
    return token[1:-1].replace("]]", "]")


def unquote_text(token: str) -> str:
    return token[1:-1].replace("''", "'")


def _urls(text: str) -> list[str]:
    return [unquote_text(token) for token in re.findall(_TEXT, text)]


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
class BackupToUrl:
    database: str
    urls: list[str]
    max_transfer_size: int


@dataclass(frozen=True)
class BackupToDisk:
    database: str
    path: str


@dataclass(frozen=True)
class Restore:
    database: str
    urls: list[str]
    recovery: bool


Statement = (Select | Use | TableQuery | SetOption | JoinAg | AgDatabase | DropDatabase
             | BackupToUrl | BackupToDisk | Restore)


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
_BACKUP_URL = _pattern(rf"BACKUP DATABASE ({_NAME}) TO ({_URLS}) WITH FORMAT, COMPRESSION, "
                       r"MAXTRANSFERSIZE = (\d+), STATS = \d+")
_BACKUP_DISK = _pattern(rf"BACKUP DATABASE ({_NAME}) TO DISK = ({_TEXT}) WITH FORMAT, "
                        r"COMPRESSION, STATS = \d+")
_RESTORE = _pattern(rf"RESTORE DATABASE ({_NAME}) FROM ({_URLS}) WITH (RECOVERY|NORECOVERY), "
                    r"STATS = \d+")


def parse(statement: str) -> Statement:
    """The statement, understood; SimSqlError (Msg 102) for anything else."""
    text = _COMMENTS.sub("", statement).strip()
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
    (_BACKUP_URL, lambda m: BackupToUrl(unquote_name(m.group(1)), _urls(m.group(2)),
                                        int(m.group(3)))),
    (_BACKUP_DISK, lambda m: BackupToDisk(unquote_name(m.group(1)),
                                          unquote_text(m.group(2)))),
    (_RESTORE, lambda m: Restore(unquote_name(m.group(1)), _urls(m.group(2)),
                                 m.group(3).upper() == "RECOVERY")),
]
