"""SQL Server Agent on the simulated server, called as a DBA calls it: one-off jobs added,
started, followed in msdb, deleted; a job's session found by its program_name and KILLed;
and the refusals the procedures' pages document, asserted by message number."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.estate import sql_side
from support.plans import PHASE_TWO, load
from support.waiting import eventually

from cockpit.estate.agent_jobs import JobStep, create_statements
from cockpit.sim.faults import Fault, FaultSet
from cockpit.sim.sql_errors import SimSqlError
from cockpit.sim.sql_estate import SimSqlEstate
from cockpit.sim.sqlserver import SimConnection

BACKUP = r"BACKUP DATABASE [OMS] TO DISK = '\\b\full.bak' WITH CHECKSUM"


def sim(speed: float, faults: FaultSet | None = None) -> SimSqlEstate:
    return sql_side(load(PHASE_TWO), speed=speed, faults=faults)


@pytest.fixture
def quick() -> Iterator[SimSqlEstate]:
    """Statements that take a blink."""
    estate = sim(1000.0)
    yield estate
    estate.stop()


@pytest.fixture
def slow() -> Iterator[SimSqlEstate]:
    """A full backup of several seconds: long enough to KILL in the middle."""
    estate = sim(20.0)
    yield estate
    estate.stop()


def run(conn: SimConnection, statement: str) -> list[tuple[Any, ...]]:
    return conn.cursor().execute(statement).fetchall()


def refused(conn: SimConnection, statement: str) -> SimSqlError:
    with pytest.raises(SimSqlError) as caught:
        run(conn, statement)
    return caught.value


def job(conn: SimConnection, name: str, command: str = BACKUP) -> None:
    for statement in create_statements(name, [JobStep("back up OMS", command)]):
        run(conn, statement)


def msdb(conn: SimConnection, query: str, *params: Any) -> list[tuple[Any, ...]]:
    run(conn, "USE [msdb]")
    try:
        return conn.cursor().execute(query, *params).fetchall()
    finally:
        run(conn, "USE [master]")


def outcome(conn: SimConnection, name: str) -> list[tuple[Any, ...]]:
    return msdb(conn, "SELECT h.step_id, h.run_status, h.message FROM dbo.sysjobhistory AS h "
                      "JOIN dbo.sysjobs AS j ON j.job_id = h.job_id WHERE j.name = ? "
                      "ORDER BY h.instance_id", name)


def running(conn: SimConnection, name: str) -> bool:
    rows = msdb(conn, "SELECT a.stop_execution_date FROM dbo.sysjobactivity AS a JOIN "
                      "dbo.sysjobs AS j ON j.job_id = a.job_id WHERE j.name = ? AND "
                      "a.start_execution_date IS NOT NULL", name)
    return bool(rows) and rows[0][0] is None


def test_a_started_job_runs_on_after_its_client_is_gone(slow: SimSqlEstate) -> None:
    server = slow.servers["oms-db-dc"]
    client = server.connect()
    job(client, "nightly full")
    run(client, "EXEC msdb.dbo.sp_start_job @job_name = N'nightly full'")  # returns at once
    assert running(client, "nightly full")
    client.close()  # the driver that started it is gone

    watcher = server.connect()
    agent = eventually(lambda: run(watcher, "SELECT session_id, program_name FROM "
                                   "sys.dm_exec_sessions WHERE program_name LIKE 'SQLAgent%'"),
                       what="the job's session")
    assert agent[0][1].startswith("SQLAgent - TSQL JobStep (Job 0x")
    assert agent[0][1].endswith(" : Step 1)")
    eventually(lambda: not running(watcher, "nightly full"), what="the job's end", within=30)
    assert msdb(watcher, "SELECT COUNT(*) FROM dbo.backupset WHERE database_name = 'OMS'") \
        == [(1,)]
    gone = msdb(watcher, "SELECT COUNT(*) FROM dbo.sysjobs WHERE name = 'nightly full'")
    assert gone == [(0,)]  # @delete_level = 1: a job that succeeded deletes itself


def test_kill_ends_the_jobs_session_and_history_says_cancelled(slow: SimSqlEstate) -> None:
    server = slow.servers["oms-db-dc"]
    conn = server.connect()
    run(conn, "EXEC msdb.dbo.sp_add_job @job_name = N'full', @delete_level = 0")
    run(conn, f"EXEC msdb.dbo.sp_add_jobstep @job_name = N'full', @step_name = N'backup', "
              f"@command = N'{BACKUP.replace(chr(39), chr(39) * 2)}'")
    run(conn, "EXEC msdb.dbo.sp_add_jobserver @job_name = N'full'")
    run(conn, "EXEC msdb.dbo.sp_start_job @job_name = N'full'")
    session = eventually(lambda: run(conn, "SELECT session_id FROM sys.dm_exec_requests "
                                           "WHERE command LIKE 'BACKUP%'"), what="the backup")
    run(conn, f"KILL {session[0][0]}")
    eventually(lambda: not running(conn, "full"), what="the killed job's end", within=30)
    history = outcome(conn, "full")
    assert [(step, status) for step, status, _ in history] == [(1, 3), (0, 3)]
    assert "(Error 596)" in history[0][2] and "The step failed." in history[0][2]
    assert msdb(conn, "SELECT COUNT(*) FROM dbo.backupset") == [(0,)]


def test_a_failed_step_keeps_sql_servers_words_in_the_history(quick: SimSqlEstate) -> None:
    conn = quick.servers["oms-db-dc"].connect()
    job(conn, "restore nothing", "RESTORE LOG [Nope] FROM DISK = '\\\\b\\x.trn' WITH NORECOVERY")
    run(conn, "EXEC msdb.dbo.sp_start_job @job_name = N'restore nothing'")
    eventually(lambda: not running(conn, "restore nothing"), what="the job's end")
    history = outcome(conn, "restore nothing")
    assert [(step, status) for step, status, _ in history] == [(1, 0), (0, 0)]
    assert history[0][2].startswith("Executed as user: NT SERVICE\\SQLSERVERAGENT.")
    assert "[SQLSTATE 42000] (Error 3013)" in history[0][2]  # kept: it failed
    assert history[1][2].startswith("The job failed.")


def test_the_procedures_refuse_what_their_pages_say(quick: SimSqlEstate) -> None:
    conn = quick.servers["oms-db-dc"].connect()
    assert refused(conn, "EXEC sp_add_job @job_name = N'x'").number == 2812  # not in msdb
    run(conn, "EXEC msdb.dbo.sp_add_job @job_name = N'x'")
    assert refused(conn, "EXEC msdb.dbo.sp_add_job @job_name = N'x'").number == 14261
    assert refused(conn, "EXEC msdb.dbo.sp_start_job @job_name = N'y'").number == 14262
    assert refused(conn, "EXEC msdb.dbo.sp_start_job @job_name = N'x'").number == 14256
    assert refused(conn, "EXEC msdb.dbo.sp_add_jobstep @job_name = N'x'").number == 201
    assert refused(conn, f"KILL {conn.session_id}").number == 6104
    assert refused(conn, "KILL 999").number == 6106
    run(conn, "USE [msdb]")
    run(conn, "EXEC sp_delete_job @job_name = N'x'")  # in msdb, the short name is found
    assert refused(conn, "EXEC sp_delete_job @job_name = N'x'").number == 14262


def test_a_running_job_refuses_a_second_start(slow: SimSqlEstate) -> None:
    conn = slow.servers["oms-db-dc"].connect()
    job(conn, "twice")
    run(conn, "EXEC msdb.dbo.sp_start_job @job_name = N'twice'")
    error = refused(conn, "EXEC msdb.dbo.sp_start_job @job_name = N'twice'")
    assert error.number == 22022 and "already running" in str(error)


def test_the_fault_makes_a_named_steps_job_fail() -> None:
    estate = sim(1000.0, FaultSet((Fault("agent-job-fails", "stage-full"),)))
    try:
        conn = estate.servers["oms-db-dc"].connect()
        job(conn, "cockpit s1 stage-full oms-db-dc backup-full")
        run(conn, "EXEC msdb.dbo.sp_start_job @job_name = N'cockpit s1 stage-full oms-db-dc "
                  "backup-full'")
        eventually(lambda: not running(conn, "cockpit s1 stage-full oms-db-dc backup-full"),
                   what="the job's end")
        history = outcome(conn, "cockpit s1 stage-full oms-db-dc backup-full")
        assert "(Error 3201)" in history[0][2] and history[-1][1] == 0
    finally:
        estate.stop()


def test_a_statement_past_the_clients_query_timeout_is_cancelled(slow: SimSqlEstate) -> None:
    """pyodbc's Connection.timeout: the driver cancels the statement (HYT00) and the
    backup is not written; a job's statement is the Agent's, and no client timeout ends it."""
    conn = slow.servers["oms-db-dc"].connect()
    conn.timeout = 1
    error = refused(conn, BACKUP)
    assert error.args[0] == "HYT00" and "Query timeout expired" in str(error)
    assert msdb(conn, "SELECT COUNT(*) FROM dbo.backupset") == [(0,)]
