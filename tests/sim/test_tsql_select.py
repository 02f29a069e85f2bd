"""The simulated SQL Server reads a SELECT as T-SQL: sqlglot's `tsql` dialect parses it, the
SQLite it runs is written from that tree (TOP, three-part names, N'...' and SQL Server's
functions included), and what SQL Server could not read is refused with Msg 102."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cockpit.sim import tsql_select
from cockpit.sim.oms_data import oms_database_bytes
from cockpit.sim.sql_errors import SimSqlError
from cockpit.sim.sqlserver import SimConnection, SimSqlServer
from cockpit.sim.tsql_select import dateadd, datediff, to_sqlite


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimSqlServer]:
    """One instance holding the OMS rows, read only by these tests."""
    server = SimSqlServer("OMS-SQL-9", tmp_path_factory.mktemp("tsql"))
    server.add_database("OMS", oms_database_bytes())
    server.add_database("Staging", None, state="RESTORING")
    with sqlite3.connect(server.msdb_file) as db:  # a full and a log, as BACKUP records them
        db.execute("INSERT INTO backupset (backup_set_id, media_set_id, database_name, type) "
                   "VALUES (1, 1, 'OMS', 'D'), (2, 2, 'OMS', 'L')")
    db.close()
    yield server
    server.close()


@pytest.fixture
def conn(server: SimSqlServer) -> Iterator[SimConnection]:
    connection = server.connect()
    yield connection
    connection.close()


def rows(conn: SimConnection, statement: str, *params: object) -> list[tuple[object, ...]]:
    return conn.cursor().execute(statement, *params).fetchall()


# --- what sqlglot writes for SQLite ------------------------------------------------------------


@pytest.mark.parametrize(("tsql", "sqlite"), [
    ("SELECT TOP (1) name FROM sys.databases ORDER BY name",
     "SELECT name FROM sys.databases ORDER BY name LIMIT 1"),
    ("SELECT TOP 5 name FROM sys.databases", "SELECT name FROM sys.databases LIMIT 5"),
    ("SELECT b.type FROM msdb.dbo.backupset AS b",
     'SELECT b.type FROM "msdb.dbo".backupset AS b'),
    ("SELECT b.type FROM [MSDB]..[backupset] AS b",
     'SELECT b.type FROM "msdb.dbo"."backupset" AS b'),
    ("SELECT name FROM sys.databases WHERE name = N'OMS'",
     "SELECT name FROM sys.databases WHERE name = 'OMS'"),
    ("SELECT CAST(SERVERPROPERTY('ProductMajorVersion') AS int) AS major",
     "SELECT CAST(SERVERPROPERTY('ProductMajorVersion') AS INTEGER) AS major"),
    ("SELECT ISNULL(state_desc, 'x') FROM sys.databases WHERE name = ?",
     "SELECT COALESCE(state_desc, 'x') FROM sys.databases WHERE name = ?"),
    ("SELECT COUNT_BIG(*) FROM dbo.orders", "SELECT COUNT(*) FROM dbo.orders"),
    ("SELECT DATEDIFF(ss, start_time, SYSUTCDATETIME()) FROM sys.dm_exec_requests",
     "SELECT DATEDIFF('second', start_time, SYSUTCDATETIME()) FROM sys.dm_exec_requests"),
    ("SELECT @@SPID AS spid", 'SELECT "@@SPID"() AS spid'),
    ("SELECT name FROM sys.databases ORDER BY name OFFSET 2 ROWS FETCH NEXT 3 ROWS ONLY",
     "SELECT name FROM sys.databases ORDER BY name LIMIT 3 OFFSET 2"),
    ("SELECT r.session_id FROM sys.dm_exec_requests AS r WITH (NOLOCK)",
     "SELECT r.session_id FROM sys.dm_exec_requests AS r"),
    ("SELECT name FROM sys.databases -- the instance's own\n",
     "SELECT name FROM sys.databases"),
])
def test_tsql_is_written_back_as_the_sqlite_the_sim_runs(tsql: str, sqlite: str) -> None:
    assert to_sqlite(tsql) == sqlite


def test_a_text_is_parsed_once_however_often_it_is_polled() -> None:
    text = "SELECT TOP (3) name FROM sys.databases WHERE name <> N'tempdb'"
    assert tsql_select.transpile(text) is tsql_select.transpile(text)


# --- run through a connection ------------------------------------------------------------------


def test_top_returns_that_many_rows(conn: SimConnection) -> None:
    assert rows(conn, "SELECT TOP (2) name FROM sys.databases ORDER BY database_id") == [
        ("master",), ("tempdb",)]


def test_a_three_part_name_reads_msdb_from_master(conn: SimConnection) -> None:
    assert conn.database == "master"
    assert rows(conn, "SELECT TOP (1) b.type FROM msdb.dbo.backupset AS b "
                      "WHERE b.database_name = ? ORDER BY b.backup_set_id DESC", "OMS") == [("L",)]


def test_a_three_part_name_reads_a_user_database_and_its_catalog(conn: SimConnection) -> None:
    assert rows(conn, "SELECT COUNT_BIG(*) AS n FROM OMS.dbo.orders") == [(1500,)]
    assert ("orders",) in rows(conn, "SELECT t.name FROM OMS.sys.tables AS t")


def test_a_three_part_name_into_a_restoring_database_is_refused(conn: SimConnection) -> None:
    with pytest.raises(SimSqlError) as refused:
        rows(conn, "SELECT COUNT(*) FROM Staging.dbo.orders")
    assert refused.value.number == 927


def test_national_literals_compare_as_strings(conn: SimConnection) -> None:
    assert rows(conn, "SELECT name FROM sys.databases WHERE name = N'OMS'") == [("OMS",)]


def test_session_functions_answer_for_this_session(conn: SimConnection,
                                                   server: SimSqlServer) -> None:
    spid, name, here, first = rows(conn, "SELECT @@SPID, @@SERVERNAME, DB_NAME(), DB_NAME(1)")[0]
    assert (spid, name, here, first) == (conn.session_id, "OMS-SQL-9", "master", "master")
    oms = server.require("OMS").database_id
    assert rows(conn, "SELECT DB_ID(N'OMS'), DB_NAME(?), DB_ID('nope')", oms) == [
        (oms, "OMS", None)]
    conn.execute("USE [OMS]")
    assert rows(conn, "SELECT DB_NAME(), DB_ID()") == [("OMS", oms)]


def test_the_utc_clock_is_now(conn: SimConnection) -> None:
    before = datetime.now(UTC)
    (precise, coarse), = rows(conn, "SELECT SYSUTCDATETIME(), GETUTCDATE()")
    for value in (precise, coarse):
        moment = datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
        assert before.replace(microsecond=0) <= moment <= datetime.now(UTC)


def test_datediff_counts_boundaries_through_sql(conn: SimConnection) -> None:
    assert rows(conn, "SELECT DATEDIFF(ss, '2026-01-01 00:00:00.900', "
                      "'2026-01-01 00:00:01.100')") == [(1,)]


@pytest.mark.parametrize(("part", "start", "end", "count"), [
    ("second", "2026-01-01 00:00:00.900", "2026-01-01 00:00:01.100", 1),  # 0.2 s, 1 boundary
    ("day", "2036-03-01", "2036-02-28", -2),  # DATEDIFF's own example: 2036 is a leap year
    ("year", "2025-12-31 23:59:59.999", "2026-01-01 00:00:00", 1),
    ("month", "2026-01-31", "2026-02-01", 1),
    ("week", "2026-11-28", "2026-11-29", 1),  # Saturday to Sunday
    ("week", "2026-11-29", "2026-12-05", 0),  # Sunday to Saturday
    ("millisecond", "2026-01-01 00:00:00.000", "2026-01-01 00:00:01.500", 1500),
])
def test_datediff_is_boundaries_crossed(part: str, start: str, end: str, count: int) -> None:
    assert datediff(part, start, end) == count


def test_dateadd_keeps_the_time_and_ends_a_short_month_on_its_last_day() -> None:
    assert dateadd("month", 1, "2026-08-31 10:15:00") == "2026-09-30 10:15:00.000"
    assert dateadd("second", 90, "2026-01-01 00:00:00") == "2026-01-01 00:01:30.000"
    assert datediff("day", None, "2026-01-01") is None


# --- what SQL Server would refuse ----------------------------------------------------------------


@pytest.mark.parametrize(("statement", "near"), [
    ("SELECT name FROM", "FROM"),
    ("SELECT name FROM sys.databases WHERE", "WHERE"),
    ("SELECT name FROM sys.databases LIMIT 1", "1"),  # SQLite's, not T-SQL
    ("SELECT 1; SELECT 2", "SELECT"),
])
def test_what_tsql_cannot_read_is_msg_102_and_never_runs(conn: SimConnection, statement: str,
                                                         near: str) -> None:
    with pytest.raises(SimSqlError) as refused:
        rows(conn, statement)
    assert refused.value.messages == [(102, 15, 1, f"Incorrect syntax near '{near}'.")]


def test_an_unknown_datepart_is_msg_155(conn: SimConnection) -> None:
    with pytest.raises(SimSqlError) as refused:
        rows(conn, "SELECT DATEDIFF(fortnight, GETUTCDATE(), GETUTCDATE())")
    assert refused.value.number == 155
    assert "'fortnight' is not a recognized datediff option." in str(refused.value)


def test_more_three_part_names_than_sqlite_attaches_at_once_still_read(
    server: SimSqlServer,
) -> None:
    """Seven databases and schemas, twice over: SQLite attaches at most ten files."""
    reads = [f"SELECT COUNT(*) FROM {db}.sys.databases" for db in
             ("master", "msdb", "model", "tempdb")]
    reads += ["SELECT COUNT(*) FROM OMS.sys.tables", "SELECT COUNT(*) FROM OMS.dbo.orders",
              "SELECT COUNT(*) FROM msdb.dbo.backupset"]
    conn = server.connect()
    counts = [rows(conn, text)[0][0] for text in reads + reads]
    conn.close()
    assert counts[:7] == counts[7:] and counts[5] == 1500 and counts[6] == 2


def test_text_without_a_statement_is_msg_102() -> None:
    for text in ("", "-- only a comment"):
        with pytest.raises(SimSqlError) as refused:
            to_sqlite(text)
        assert refused.value.number == 102
