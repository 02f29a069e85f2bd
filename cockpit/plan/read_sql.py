"""Which T-SQL a probe may send: one statement that reads and changes nothing.

Told by a parser (sqlglot's T-SQL dialect), not by how the text starts: a prefix check
passes `SELECT 1; DROP TABLE dbo.orders` (a batch), `SELECT * INTO dbo.copy FROM ...` (a
new table), `SELECT NEXT VALUE FOR dbo.order_no` (a sequence advanced) and `SELECT * FROM
OPENQUERY(dc, 'DELETE ...')` (a statement run on another server). Text the parser cannot
read is refused too: what cannot be classified is not sent.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# Rowset functions that send their text to another server, which runs it as written.
_PASS_THROUGH = {"OPENQUERY", "OPENROWSET", "OPENDATASOURCE"}


def read_refusal(statement: str, *, allow_use: bool = False) -> str | None:
    """Why `statement` may not be sent by something that must only read; None if it may.
    `allow_use`: a `USE <database>` alone passes too (it changes the session's database,
    not the server)."""
    return _refusal(statement, allow_use)


@lru_cache(maxsize=256)  # the cockpit's own reads are a handful of texts, sent every poll
def _refusal(statement: str, allow_use: bool) -> str | None:
    # Imported here: a quarter of a second that a plan without a query never pays.
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        trees = [t for t in sqlglot.parse(statement, read="tsql") if t is not None]
    except ParseError as exc:
        return f"not read as T-SQL ({str(exc).splitlines()[0]}): only a SELECT is sent"
    if len(trees) != 1:
        return (f"{len(trees)} statements: one SELECT is sent, never a batch"
                if trees else "no statement: write one SELECT")
    tree = trees[0]
    if allow_use and isinstance(tree, exp.Use):
        return None
    if not isinstance(tree, exp.Query):
        first = statement.split(None, 1)[0].upper()
        return f"{first} is not a SELECT: only a SELECT is sent"
    return _change_in(tree)


def _change_in(tree: Any) -> str | None:  # a parsed query (sqlglot's base class moved)
    from sqlglot import exp

    # Anything that changes, creates or runs something, wherever it sits in the tree.
    changed = tree.find(exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Drop, exp.Create,
                        exp.Alter, exp.Command, exp.Into, exp.NextValueFor, exp.TruncateTable)
    if isinstance(changed, exp.Into):
        return "SELECT ... INTO creates a table: only a SELECT that changes nothing is sent"
    if isinstance(changed, exp.NextValueFor):
        return "NEXT VALUE FOR advances a sequence: only a SELECT that changes nothing is sent"
    if changed is not None:
        return f"it holds {_kind(changed)}: only a SELECT that changes nothing is sent"
    for call in tree.find_all(exp.Anonymous):
        if str(call.name).upper() in _PASS_THROUGH:
            return (f"{str(call.name).upper()} runs its text on another server: only a SELECT "
                    "on this one is sent")
    return None


def _kind(tree: Any) -> str:
    return type(tree).__name__.upper()
