"""A plan about a database of its own, not the demo's OMS: the simulated databases hold the
tables the plan names (rows made from a fixed seed), so its data check compares real rows,
leaves the legacy ntext column out of its checksums by name, and catches a row a restore
lost."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.audit import entries_named
from support.plans import load
from support.rehearsal import PRESTAGED, evidence_of, outputs_of, quick_copy, rehearse

from cockpit.estate import sql
from cockpit.plan.models import Database
from cockpit.sim.faults import FaultSet
from cockpit.sim.oms_data import oms_database_bytes
from cockpit.sim.plan_data import database_bytes, sentinel_tables, stored_tables
from cockpit.sim.sql_errors import SimSqlError
from cockpit.sim.sql_estate import AppView, SimSqlEstate

OWN_TABLES = '''tables = ["dbo.invoices", "sales.returns"]
checksum_tables = ["dbo.invoices", "sales.returns"]'''
OMS_TABLES = '''tables = ["dbo.customers", "dbo.orders", "dbo.order_lines"]
checksum_tables = ["dbo.orders", "dbo.order_lines"]'''
OMS_QUERY = "SELECT COUNT(*) AS orphaned_lines FROM dbo.order_lines WHERE order_id NOT IN " \
            "(SELECT order_id FROM dbo.orders)"


def own_tables_plan(tmp_path: Path) -> Path:
    """The pre-staged plan, about a database whose tables are invoices and returns, its
    sentinel written to a table of its own."""
    text = PRESTAGED.read_text()
    assert OMS_TABLES in text and OMS_QUERY in text
    text = text.replace(OMS_TABLES, OWN_TABLES).replace(
        OMS_QUERY, "SELECT COUNT(*) AS unreferenced FROM dbo.invoices WHERE reference IS NULL"
    ).replace('table = "dbo.cutover_sentinel"', 'table = "sales.cutover_marker"')
    return quick_copy(tmp_path, text)


def test_a_plan_s_own_tables_are_made_up_the_same_way_every_time(tmp_path: Path) -> None:
    plan = load(own_tables_plan(tmp_path))
    db = plan.estate.databases[0]
    assert sentinel_tables(plan) == {db.id: ["sales.cutover_marker"]}
    image = database_bytes(db, ["sales.cutover_marker"])
    assert image == database_bytes(db.model_copy(), ["sales.cutover_marker"])
    (tmp_path / "db.sqlite").write_bytes(image)
    with sqlite3.connect(tmp_path / "db.sqlite") as data:
        schemas = stored_tables(data)
        counts = {name: data.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
                  for name in schemas}
    data.close()
    assert schemas == {"invoices": "dbo", "returns": "sales", "cutover_marker": "sales"}
    assert all(300 <= counts[t] <= 3000 for t in ("invoices", "returns"))
    assert counts["cutover_marker"] == 0


def test_a_plan_naming_only_oms_tables_gets_the_oms_rows() -> None:
    oms = Database(id="oms", name="OMS", source="oms-db-dc",
                   tables=["dbo.orders", "order_lines"], checksum_tables=["dbo.orders"])
    assert database_bytes(oms) == oms_database_bytes()


def test_the_window_rehearses_on_the_plan_s_own_tables(tmp_path: Path) -> None:
    session = tmp_path / "session"
    said = rehearse(own_tables_plan(tmp_path), session)
    assert said.startswith("exit 0"), said
    compared = evidence_of(session, "data-check", "sql.data_matches")
    target = compared["target"]
    assert {"dbo.invoices", "sales.returns", "sales.cutover_marker"} <= set(target)
    for table in ("dbo.invoices", "sales.returns"):
        assert target[table]["rows"] == compared["source"][table]["rows"] > 0
        assert target[table]["checksum"] is not None
        assert target[table]["skipped"] == ["notes (ntext)"]  # CHECKSUM cannot take it
    assert target["sales.cutover_marker"]["stats_rows"] == 1  # the sentinel came across
    verdict = [e for e in entries_named(session, "step.succeeded") if e.step == "data-check"]
    assert "notes (ntext)" in str(verdict[0].detail)


def test_a_row_lost_in_the_restore_of_a_plan_s_own_table_is_caught(tmp_path: Path) -> None:
    session = tmp_path / "session"
    said = rehearse(own_tables_plan(tmp_path), session, "restore-drops-row=sales.returns")
    assert said.startswith("exit 1"), said
    failed = entries_named(session, "step.failed")
    assert [e.step for e in failed] == ["data-check"]
    fence = outputs_of(session, "tail-log")["backups"][0]["data"]["sales.returns"]["rows"]
    assert f"sales.returns (rows {fence} vs {fence - 1}" in str(failed[0].detail["reason"])


@pytest.fixture
def own_sql(tmp_path: Path) -> Iterator[SimSqlEstate]:
    """The SQL side alone (no AWS, no apps), built from the plan naming its own tables."""
    plan = load(own_tables_plan(tmp_path))
    estate = SimSqlEstate(plan.estate, speed=1.0, faults=FaultSet(), s3=None, s3_host="-",
                          apps=AppView(running_apps=list, resolve=lambda name: None),
                          sentinels=sentinel_tables(plan))
    estate.start()
    yield estate
    estate.stop()


def test_checksum_refuses_a_noncomparable_column_as_sql_server_does(
    own_sql: SimSqlEstate,
) -> None:
    conn = own_sql.servers["oms-db-dc"].connect()
    with pytest.raises(SimSqlError) as star:
        conn.execute("SELECT CHECKSUM_AGG(CHECKSUM(*)) FROM [OMS].[dbo].[invoices]")
    assert star.value.number == 8185
    with pytest.raises(SimSqlError) as named:
        conn.execute("SELECT CHECKSUM_AGG(CHECKSUM([id], [notes])) FROM [OMS].[sales].[returns]")
    assert named.value.number == 8116
    assert "Argument data type ntext is invalid for argument 2" in str(named.value)
    comparable = conn.execute("SELECT CHECKSUM_AGG(CHECKSUM([id], [reference])) "
                              "FROM [OMS].[sales].[returns]").fetchone()
    assert comparable is not None and isinstance(comparable[0], int)


def test_the_sim_reports_column_types_and_reaches_a_table_by_its_schema(
    own_sql: SimSqlEstate,
) -> None:
    conn = own_sql.servers["oms-db-dc"].connect()
    conn.execute("USE [OMS]")
    rows = sql.fetch(conn, sql.query_text("table_columns"))
    returns = [(r["column_name"], r["type_name"]) for r in rows
               if (r["schema_name"], r["table_name"]) == ("sales", "returns")]
    assert returns == [("id", "int"), ("reference", "nvarchar"), ("amount_cents", "bigint"),
                       ("created_at", "datetime2"), ("notes", "ntext")]
    count = conn.execute("SELECT COUNT(*) FROM sales.returns").fetchone()
    assert count is not None and 300 <= count[0] <= 3000


def test_a_plan_mixing_an_oms_name_with_its_own_tables_gets_every_table_it_names(
    tmp_path: Path,
) -> None:
    mixed = Database(id="shop", name="Shop", source="oms-db-dc",
                     tables=["dbo.orders", "sales.returns"], checksum_tables=["sales.returns"])
    (tmp_path / "db.sqlite").write_bytes(database_bytes(mixed))
    with sqlite3.connect(tmp_path / "db.sqlite") as data:
        assert stored_tables(data) == {"orders": "dbo", "returns": "sales",
                                       "cutover_sentinel": "dbo"}
    data.close()
