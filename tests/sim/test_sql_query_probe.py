"""`sql.query`: a runbook's own SELECT, run on the simulated SQL Server through the same
adapter as production, its result judged as the plan says, with the rows as evidence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from support.estate import running_sim
from support.plans import PHASE_TWO, load

from cockpit.plan.models import SqlQuery
from cockpit.runner.probes import ProbeContext, judge

if TYPE_CHECKING:
    from cockpit.estate.handle import EstateHandle

# the simulated OMS holds 600 customers (its orders grow while the apps write)
CUSTOMERS = "SELECT COUNT(*) AS customers FROM dbo.customers"


@pytest.fixture(scope="module")
def source() -> Iterator[EstateHandle]:
    """Phase Two's estate; only read here, so the module shares it."""
    with running_sim(load(PHASE_TWO)) as (_sim, handle):
        yield handle


def query(**fields: Any) -> SqlQuery:
    return SqlQuery.model_validate({"kind": "sql.query", "endpoint": "oms-db-dc",
                                    "database": "oms", **fields})


@pytest.mark.parametrize(("expect", "holds"), [
    ({"equals": 600}, True),
    ({"equals": 599}, False),
    ({"at_least": 500}, True),
    ({"at_most": 500}, False),
    ({"equals": "600"}, True),
])
def test_the_first_value_is_judged_as_the_plan_says(source: EstateHandle,
                                                    expect: dict[str, Any],
                                                    holds: bool) -> None:
    verdict = judge(query(query=CUSTOMERS, **expect), ProbeContext(source))
    assert verdict.ok is holds, verdict.summary
    assert verdict.evidence["value"] == 600
    assert verdict.evidence["rows"] == [{"customers": 600}]
    assert "600" in verdict.summary


def test_no_rows_holds_only_when_the_query_returns_none(source: EstateHandle) -> None:
    empty = judge(query(query="SELECT order_id FROM dbo.orders WHERE status = 'lost'",
                        no_rows=True), ProbeContext(source))
    some = judge(query(query="SELECT order_id FROM dbo.orders WHERE status = 'packed'",
                       no_rows=True), ProbeContext(source))
    assert empty.ok and empty.evidence["row_count"] == 0
    assert not some.ok and some.evidence["row_count"] == 20  # the evidence is capped
    assert len(some.evidence["rows"]) == 5


def test_an_error_from_the_server_is_a_failed_verdict_in_its_words(
    source: EstateHandle,
) -> None:
    verdict = judge(query(query="SELECT COUNT(*) FROM dbo.no_such_table", equals=0),
                    ProbeContext(source))
    assert not verdict.ok
    assert "Invalid object name" in verdict.summary


def test_a_runbook_query_is_read_as_tsql(source: EstateHandle) -> None:
    """TOP, N'...' and a three-part name, as a DBA writes them for SQL Server."""
    top = judge(query(query="SELECT TOP (5) order_id FROM dbo.orders "
                            "WHERE status = N'packed' ORDER BY order_id DESC", no_rows=True),
                ProbeContext(source))
    assert not top.ok and top.evidence["row_count"] == 5  # 20 packed orders, TOP (5) of them
    age = judge(query(query="SELECT DATEDIFF(minute, d.create_date, SYSUTCDATETIME()) AS age "
                            "FROM master.sys.databases AS d WHERE d.name = N'OMS'",
                      at_most=60), ProbeContext(source))
    assert age.ok, age.summary
    assert age.evidence["rows"] == [{"age": age.evidence["value"]}]


def test_sqlites_limit_is_refused_as_sql_server_refuses_it(source: EstateHandle) -> None:
    verdict = judge(query(query="SELECT order_id FROM dbo.orders LIMIT 5", no_rows=True),
                    ProbeContext(source))
    assert not verdict.ok
    assert "Incorrect syntax near '5'" in verdict.summary
