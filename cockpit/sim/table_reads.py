"""The data check's reads of one table, on the simulated SQL Server: `COUNT_BIG(*)` and
`CHECKSUM_AGG(CHECKSUM(*))` or `CHECKSUM_AGG(CHECKSUM([a], [b], ...))` over a three-part name,
and the column types `sys.columns` and `sys.types` report.

CHECKSUM's rule, from "CHECKSUM (Transact-SQL)" (learn.microsoft.com/sql/t-sql/functions/
checksum-transact-sql): with `*`, "CHECKSUM returns an error if any column has a
noncomparable data type", those being cursor, image, ntext, text and XML (and sql_variant
over one of them, which a column cannot hold); an `expression` argument may be "of any type,
except a noncomparable data type". A column named is refused with Msg 8116 ("Argument data
type %ls is invalid for argument %d of %ls function.", errors 8000-8999); `*` over a table
holding one with Msg 8185, whose exact text the documentation does not give.
"""

from __future__ import annotations

import re
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.sim.sql_errors import SimSqlError

_NAME = r"\[(?:[^\]]|\]\])+\]"
_READ = re.compile(rf"^SELECT (COUNT_BIG\(\*\)|CHECKSUM_AGG\(CHECKSUM\((\*|{_NAME}(?:, {_NAME})*)"
                   rf"\)\)) FROM ({_NAME})\.({_NAME})\.({_NAME})$", re.IGNORECASE | re.DOTALL)
NONCOMPARABLE = frozenset({"text", "ntext", "image", "xml"})
# sys.types: (name, system_type_id, user_type_id) of the types the sim's tables declare
# ("sys.types (Transact-SQL)"; a system type's user_type_id is its system_type_id).
TYPES = (("image", 34, 34), ("text", 35, 35), ("datetime2", 42, 42), ("datetimeoffset", 43, 43),
         ("int", 56, 56), ("float", 62, 62), ("ntext", 99, 99), ("bit", 104, 104),
         ("decimal", 106, 106), ("bigint", 127, 127), ("varbinary", 165, 165),
         ("varchar", 167, 167), ("nvarchar", 231, 231), ("xml", 241, 241))
_TYPE_IDS = {name: user_type_id for name, _system, user_type_id in TYPES}


@dataclass(frozen=True)
class TableRead:
    what: str  # "count" or "checksum"
    database: str
    schema: str
    table: str
    columns: tuple[str, ...] | None = None  # CHECKSUM's arguments; None for `*`


def parse(text: str) -> TableRead | None:
    """The read, if `text` is one of the data check's; None for anything else."""
    match = _READ.match(text.strip())
    if match is None:
        return None
    database, schema, table = (_unquote(match.group(n)) for n in (3, 4, 5))
    if match.group(1).upper().startswith("COUNT"):
        return TableRead("count", database, schema, table)
    listed = match.group(2)
    columns = None if listed == "*" else tuple(
        _unquote(name) for name in re.findall(_NAME, listed))
    return TableRead("checksum", database, schema, table, columns)


def _unquote(token: str) -> str:
    return token[1:-1].replace("]]", "]")


def type_of(declared: str) -> str:
    """A declared column type's base name: `nvarchar(40)` -> `nvarchar`."""
    return declared.split("(")[0].strip().lower()


# A column declared with one of SQLite's own type names (not by the sim's seeding) shows as
# the SQL Server type that holds such values.
_SQLITE_TYPES = {"integer": "bigint", "real": "float", "blob": "varbinary", "": "nvarchar"}


def type_id(declared: str) -> int:
    name = type_of(declared)
    return _TYPE_IDS.get(name) or _TYPE_IDS[_SQLITE_TYPES.get(name, "nvarchar")]


def columns_of(data: sqlite3.Connection, stored: str) -> list[tuple[str, str]]:
    """(name, declared type) of each column of a table, in its order."""
    quoted = '"' + stored.replace('"', '""') + '"'
    return [(str(row[1]), str(row[2])) for row in data.execute(f"PRAGMA table_info({quoted})")]


def answer(data_file: Path, stored: str, read: TableRead) -> list[tuple[Any, ...]]:
    """The one row the read returns, or SQL Server's refusal."""
    with sqlite3.connect(data_file) as data:
        columns = columns_of(data, stored)
        if read.what == "count":
            rows: list[tuple[Any, ...]] = [
                (int(data.execute(f"SELECT COUNT(*) FROM {_q(stored)}").fetchone()[0]),)]
        else:
            picked = _checksummed(columns, read)
            listed = ", ".join(_q(name) for name in picked)
            values = data.execute(f"SELECT {listed} FROM {_q(stored)}").fetchall()
            rows = [(checksum_agg(values) if values else None,)]
    data.close()
    return rows


def _checksummed(columns: list[tuple[str, str]], read: TableRead) -> list[str]:
    """The columns CHECKSUM reads, refused as SQL Server refuses a noncomparable one."""
    types = {name.lower(): (name, type_of(kind)) for name, kind in columns}
    if read.columns is None:
        if any(kind in NONCOMPARABLE for _, kind in types.values()):
            raise SimSqlError(8185, 'Error expanding "*": An incomparable column has been '
                                    "found in an underlying table or view.")
        return [name for name, _ in columns]
    picked = []
    for n, wanted in enumerate(read.columns, start=1):
        if wanted.lower() not in types:
            raise SimSqlError(207, f"Invalid column name '{wanted}'.")
        name, kind = types[wanted.lower()]
        if kind in NONCOMPARABLE:
            raise SimSqlError(8116, f"Argument data type {kind} is invalid for argument {n} "
                                    "of checksum function.")
        picked.append(name)
    return picked


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def checksum_agg(rows: list[tuple[Any, ...]]) -> int:
    """The sim's CHECKSUM_AGG(CHECKSUM(...)): an order-free XOR of a 32-bit hash per row."""
    value = 0
    for row in rows:
        value ^= zlib.crc32(repr(row).encode())
    return value - (1 << 32) if value >= 1 << 31 else value
