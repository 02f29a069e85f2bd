"""What a probe may send to SQL Server: one SELECT that changes nothing, told by a T-SQL
parser. Each refusal is one a prefix check (`starts with SELECT`) would have let through,
or a statement that is not a SELECT at all; each is refused before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.plans import PHASE_TWO

from cockpit.estate.handle import ReadOnlyError
from cockpit.estate.sql import ReadOnlyConnection
from cockpit.plan.loader import PlanLoadError, load_plan_text
from cockpit.plan.read_sql import read_refusal

QUERIES = Path(__file__).resolve().parents[2] / "cockpit" / "estate" / "queries"


@pytest.mark.parametrize("statement", [
    "SELECT COUNT(*) FROM dbo.orders WHERE status = 'NEW'",
    "/* the DBA's check */ SELECT TOP 1 order_id FROM dbo.orders ORDER BY order_id DESC",
    "WITH open_orders AS (SELECT order_id FROM dbo.orders WHERE status <> 'delivered') "
    "SELECT COUNT(*) FROM open_orders",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT name FROM sys.databases WHERE state_desc <> 'ONLINE'",
])
def test_a_select_that_reads_passes(statement: str) -> None:
    assert read_refusal(statement) is None


@pytest.mark.parametrize(("statement", "why"), [
    ("SELECT 1; DROP TABLE dbo.orders", "2 statements"),
    ("SELECT 1 -- harmless\n; DELETE FROM dbo.orders", "2 statements"),
    ("SELECT * INTO dbo.orders_copy FROM dbo.orders", "INTO creates a table"),
    ("SELECT NEXT VALUE FOR dbo.order_numbers", "advances a sequence"),
    ("SELECT * FROM OPENQUERY(dc, 'DELETE FROM dbo.orders')", "another server"),
    ("SELECT * FROM OPENROWSET('MSOLEDBSQL', 'Server=dc;', 'TRUNCATE TABLE t')",
     "another server"),
    ("UPDATE dbo.orders SET status = 'lost'", "UPDATE is not a SELECT"),
    ("EXEC sp_configure 'show advanced options', 1", "EXEC is not a SELECT"),
    ("USE [OMS]", "USE is not a SELECT"),
    ("SELECT 1\nGO\nDROP TABLE dbo.orders", "not read as T-SQL"),
    ("", "no statement"),
])
def test_anything_else_is_refused_naming_why(statement: str, why: str) -> None:
    refusal = read_refusal(statement)
    assert refusal is not None and why in refusal, refusal


def test_the_cockpits_own_dmv_queries_pass_the_guard() -> None:
    """A read-only handle sends them through the same guard: none may be refused."""
    for query in sorted(QUERIES.glob("*.sql")):
        assert read_refusal(query.read_text()) is None, query.name


class Recording:
    """A connection that keeps what reaches it: to show that a refusal sends nothing."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def cursor(self) -> Any:
        return self

    def execute(self, statement: str, *params: Any) -> Any:
        self.sent.append(statement)
        return self


def test_a_read_only_connection_sends_nothing_it_refuses() -> None:
    server = Recording()
    reading = ReadOnlyConnection(server)
    with pytest.raises(ReadOnlyError, match="2 statements"):
        reading.cursor().execute("SELECT 1; DROP TABLE dbo.orders")
    reading.cursor().execute("USE [OMS]")
    reading.cursor().execute("SELECT COUNT(*) FROM dbo.orders")
    assert server.sent == ["USE [OMS]", "SELECT COUNT(*) FROM dbo.orders"]


def test_a_plan_whose_query_is_a_batch_is_refused_at_its_line() -> None:
    text = PHASE_TWO.read_text()
    needle = "query = \"SELECT COUNT(*) AS orphaned_lines"
    assert text.count(needle) == 1
    start = text.index(needle)
    end = text.index('"', start + len('query = "'))
    bad = text[:start] + 'query = "SELECT 1; DROP TABLE dbo.orders' + text[end:]
    line = bad[:start].count("\n") + 1
    with pytest.raises(PlanLoadError) as caught:
        load_plan_text(bad, Path("plan.toml"))
    said = [str(p) for p in caught.value.problems]
    assert any(s.startswith(f"plan.toml:{line}:") and "2 statements" in s for s in said), said


def test_a_query_must_say_what_it_expects_once() -> None:
    text = PHASE_TWO.read_text()
    assert ", equals = 0 }" in text
    with pytest.raises(PlanLoadError) as caught:
        load_plan_text(text.replace(", equals = 0 }", ", equals = 0, at_most = 3 }", 1),
                       Path("plan.toml"))
    assert "exactly one of equals, at_most, at_least, no_rows" in str(caught.value.problems)
