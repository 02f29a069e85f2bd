"""A SELECT as SQL Server reads it, run on the SQLite files that hold the simulated server.

What the adapter and a plan's `sql.query` send is T-SQL: `TOP (n)`, three-part names
(`msdb.dbo.backupset`), `N'...'` literals, SQL Server's functions. Each SELECT is parsed
with sqlglot's T-SQL dialect and written back as SQLite once per distinct text (the panes
send the same few texts every second, so a poll pays a dictionary lookup, not a parse).
Text the parser cannot read is refused with SQL Server's Msg 102, never run as written.

Where sqlglot's SQLite output would differ from SQL Server (DATEDIFF counts boundaries
crossed, not elapsed time; DATEADD keeps the time of day), the call is handed to a function
registered on the connection instead (`register_functions`), as are the functions SQLite
lacks. A three-part name reads the SQLite schema named `"<database>.<schema>"` (lower case),
which whoever runs the text attaches (`Transpiled.schemas` lists them).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import sqlglot
from sqlglot import TokenType, exp
from sqlglot.errors import ParseError, TokenError

from cockpit.sim.sql_errors import SimSqlError

# "DATEDIFF (Transact-SQL)" and "DATEADD (Transact-SQL)" (learn.microsoft.com/sql/t-sql/
# functions/datediff-transact-sql): every datepart name and abbreviation SQL Server accepts.
DATEPARTS = {
    "YEAR": "year", "YY": "year", "YYYY": "year",
    "QUARTER": "quarter", "QQ": "quarter", "Q": "quarter",
    "MONTH": "month", "MM": "month", "M": "month",
    "DAYOFYEAR": "day", "DY": "day", "Y": "day",
    "DAY": "day", "DD": "day", "D": "day",
    "WEEK": "week", "WK": "week", "WW": "week",
    "WEEKDAY": "day", "DW": "day", "W": "day",
    "HOUR": "hour", "HH": "hour",
    "MINUTE": "minute", "MI": "minute", "N": "minute",
    "SECOND": "second", "SS": "second", "S": "second",
    "MILLISECOND": "millisecond", "MS": "millisecond",
    "MICROSECOND": "microsecond", "MCS": "microsecond",
}
# Fixed-length dateparts, in microseconds: a boundary is crossed each whole multiple.
_CLOCK = {"hour": 3_600_000_000, "minute": 60_000_000, "second": 1_000_000,
          "millisecond": 1_000, "microsecond": 1}
_EPOCH = datetime(1900, 1, 1, tzinfo=UTC)  # SQL Server's day 0 ("datetime (Transact-SQL)")


@dataclass(frozen=True)
class Transpiled:
    """A SELECT as SQLite runs it, and the `(database, schema)` pairs its three-part names
    read, each to be attached as the SQLite schema `schema_alias(database, schema)`."""

    sql: str
    schemas: tuple[tuple[str, str], ...] = ()


def schema_alias(database: str, schema: str) -> str:
    return f"{database}.{schema}".lower()


def to_sqlite(tsql_text: str) -> str:
    """The SQLite text of one T-SQL SELECT (SimSqlError, Msg 102, if it is not one)."""
    return transpile(tsql_text).sql


@lru_cache(maxsize=512)  # a handful of texts, each polled every second by a pane
def transpile(tsql_text: str) -> Transpiled:
    tree = _parse(tsql_text)
    schemas = _three_part_names(tree)
    # Deepest first, so a call's arguments are already SQLite when the call is rewritten.
    for node in reversed(list(tree.bfs())):
        rewritten = _sqlite_node(node)
        if rewritten is not node:
            node.replace(rewritten)
    return Transpiled(tree.sql(dialect="sqlite", comments=False), schemas)


# --- reading it as SQL Server would ----------------------------------------------------------


def incorrect_syntax(near: str) -> SimSqlError:
    """Msg 102, Level 15: "Incorrect syntax near '%.*ls'." ("Database engine events and
    errors (0 to 999)", learn.microsoft.com/sql/relational-databases/errors-events/
    database-engine-events-and-errors-0-to-999)."""
    return SimSqlError(102, f"Incorrect syntax near '{near[:40]}'.", level=15)


def _parse(text: str) -> exp.Expr:
    try:
        trees = [t for t in sqlglot.parse(text, read="tsql") if t is not None]
    except ParseError as exc:
        raise incorrect_syntax(_near(exc, text)) from None
    except TokenError:
        raise incorrect_syntax(text.strip()[-40:]) from None
    if len(trees) != 1 or not isinstance(trees[0], exp.Query):
        # One SELECT per statement: the sim runs no batches and nothing else through here.
        first = trees[1].sql(dialect="tsql") if len(trees) > 1 else text
        raise incorrect_syntax((first.split() or ["(end of batch)"])[0])
    _refuse_limit(text)
    return trees[0]


def _near(exc: ParseError, text: str) -> str:
    """The token SQL Server would name: where the parser stopped, or the last one read."""
    errors = exc.errors or [{}]
    highlight = str(errors[0].get("highlight") or "")
    if highlight and highlight != "SENTINEL":
        return highlight
    words = text.split()
    return words[-1] if words else "(end of batch)"


def _refuse_limit(text: str) -> None:
    """sqlglot's T-SQL parser accepts LIMIT, SQL Server does not: its SELECT takes TOP or
    OFFSET ... FETCH ("SELECT - ORDER BY Clause (Transact-SQL)", learn.microsoft.com/sql/
    t-sql/queries/select-order-by-clause-transact-sql). It reads LIMIT as an alias and
    stumbles on what follows."""
    tokens = sqlglot.Dialect.get_or_raise("tsql").tokenize(text)
    for i, token in enumerate(tokens):
        if token.token_type == TokenType.LIMIT:
            raise incorrect_syntax(tokens[i + 1].text if i + 1 < len(tokens) else token.text)


# --- writing it back as SQLite ---------------------------------------------------------------


def _three_part_names(tree: exp.Expr) -> tuple[tuple[str, str], ...]:
    """`msdb.dbo.backupset` -> `"msdb.dbo".backupset`: SQL Server resolves a three-part
    name in the named database whatever the current one ("Database identifiers",
    learn.microsoft.com/sql/relational-databases/databases/database-identifiers);
    `msdb..backupset` names the default schema, dbo."""
    found: set[tuple[str, str]] = set()
    for table in tree.find_all(exp.Table):
        database = table.text("catalog")
        if not database:
            continue
        pair = (database.lower(), (table.text("db") or "dbo").lower())
        found.add(pair)
        table.set("db", exp.to_identifier(schema_alias(*pair), quoted=True))
        table.set("catalog", None)
    return tuple(sorted(found))


def _sqlite_node(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.National):  # SQLite has no N'...': its strings are Unicode
        return exp.Literal.string(node.this)
    if isinstance(node, exp.DateDiff):
        return _call("DATEDIFF", _datepart(node, "datediff"), _bare(node.expression),
                     _bare(node.this))
    if isinstance(node, exp.DateAdd):
        return _call("DATEADD", _datepart(node, "dateadd"), node.expression, node.this)
    if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Parameter):
        return _call(f"@@{node.this.name.upper()}")  # @@SPID: a registered function
    return node


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=exp.to_identifier(name, quoted=name.startswith("@")),
                         expressions=list(args))


def _bare(node: exp.Expr) -> exp.Expr:
    """sqlglot wraps DATEDIFF's dates in a conversion SQLite does not need."""
    return node.this if isinstance(node, exp.TimeStrToTime) else node


def _datepart(node: exp.Expr, function: str) -> exp.Expr:
    """The datepart, checked now as SQL Server checks it when it parses: Msg 155
    "'%.*ls' is not a recognized %ls option." ("Database engine events and errors (0 to
    999)")."""
    unit = node.text("unit").upper() or "DAY"
    if unit not in DATEPARTS:
        raise SimSqlError(155, f"'{unit.lower()}' is not a recognized {function} option.",
                          level=15)
    return exp.Literal.string(DATEPARTS[unit])


# --- SQL Server's functions, on the SQLite connection ------------------------------------------


class Session(Protocol):
    """What the functions a SELECT may call ask of the session running it."""

    session_id: int
    database: str

    def server_name(self) -> str: ...

    def database_name(self, database_id: int) -> str | None: ...

    def database_id(self, name: str) -> int | None: ...


def register_functions(db: Any, session: Session) -> None:
    """The functions the transpiled text calls that SQLite does not have."""
    functions: list[tuple[str, int, Callable[..., Any]]] = [
        # "SYSUTCDATETIME" and "GETUTCDATE (Transact-SQL)": the server's clock in UTC.
        ("SYSUTCDATETIME", 0, lambda: _text(datetime.now(UTC), 6)),
        ("GETUTCDATE", 0, lambda: _text(datetime.now(UTC), 3)),
        ("DATEDIFF", 3, datediff),
        ("DATEADD", 3, dateadd),
        # "DB_NAME (Transact-SQL)": the current database without an argument.
        ("DB_NAME", 0, lambda: session.database),
        ("DB_NAME", 1, lambda i: None if i is None else session.database_name(int(i))),
        # "DB_ID (Transact-SQL)": NULL for a name no database has.
        ("DB_ID", 0, lambda: session.database_id(session.database)),
        ("DB_ID", 1, lambda n: None if n is None else session.database_id(str(n))),
        # "@@SPID (Transact-SQL)", "@@SERVERNAME (Transact-SQL)".
        ("@@SPID", 0, lambda: session.session_id),
        ("@@SERVERNAME", 0, session.server_name),
    ]
    for name, arity, function in functions:
        db.create_function(name, arity, function)


def _text(moment: datetime, digits: int) -> str:
    """A date and time as the DMV files store them (UTC, no zone), to `digits` places."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[: 20 + digits]


def _moment(value: object) -> datetime:
    """A stored date and time: the DMV files keep UTC without a zone."""
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def datediff(part: str, start: object, end: object) -> int | None:
    """"the count (as a signed integer value) of the specified datepart boundaries crossed
    between the specified startdate and enddate" ("DATEDIFF (Transact-SQL)"): one second
    from 00:00:00.900 to 00:00:01.100, though 0.2 s passed. Weeks start on Sunday whatever
    SET DATEFIRST says."""
    if start is None or end is None:
        return None
    return _boundary(part, _moment(end)) - _boundary(part, _moment(start))


def _boundary(part: str, moment: datetime) -> int:
    """How many `part` boundaries lie between SQL Server's day 0 and `moment`."""
    if part in _CLOCK:
        return (moment - _EPOCH) // timedelta(microseconds=_CLOCK[part])
    months = moment.year * 12 + moment.month - 1
    by_calendar = {"year": moment.year, "quarter": months // 3, "month": months,
                   "day": moment.toordinal(), "week": moment.toordinal() // 7}
    return by_calendar[part]  # toordinal() // 7 turns over on a Sunday


def dateadd(part: str, number: object, moment: object) -> str | None:
    """"DATEADD (Transact-SQL)": `number` (truncated to an integer) dateparts added; a month
    with fewer days ends on its last day (Aug 31 + 1 month = Sep 30)."""
    if number is None or moment is None:
        return None
    start, count = _moment(moment), int(float(str(number)))
    if part in ("year", "quarter", "month"):
        return _text(_add_months(start, count * {"year": 12, "quarter": 3, "month": 1}[part]), 3)
    step = timedelta(days=7) if part == "week" else \
        timedelta(days=1) if part == "day" else timedelta(microseconds=_CLOCK[part])
    return _text(start + count * step, 3)


def _add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return start.replace(year=year, month=month + 1, day=day)
