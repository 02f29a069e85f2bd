"""One-off SQL Server Agent jobs: how a BACKUP or RESTORE outlives the driver that started it.

A statement run on the driver's own ODBC connection dies with the driver (SQL Server kills
the session of a broken connection, and the restore with it). Run as a job, it belongs to
the Agent: the cockpit creates the job (`sp_add_job`, one `sp_add_jobstep` per statement,
`sp_add_jobserver`), starts it (`sp_start_job` returns at once), follows it in msdb
(`dbo.sysjobactivity`, `dbo.sysjobhistory`). A job that succeeds deletes itself
(`@delete_level = 1`), so nothing is left in msdb whoever follows it, and its success is
then read from the estate (the backup in msdb, the redo LSN), not from its word. A job that
fails keeps its history (the error SQL Server gave) until the cockpit has read it and
deletes it.

A job's name says whose it is: `cockpit <session> <step> <endpoint> <what>`, so a driver
that reopens the session finds the job its predecessor started and follows it instead of
starting the work again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cockpit.estate import tsql
from cockpit.estate.handle import EstateHandle
from cockpit.estate.sql import connection, fetch, query_text, run

SUCCEEDED, FAILED, CANCELED = 1, 0, 3
NAME_LIMIT = 128  # sysname


@dataclass(frozen=True)
class JobStep:
    name: str
    command: str
    database: str = "master"


@dataclass(frozen=True)
class JobRun:
    """What msdb says of one job's latest run."""

    name: str
    job_id: str
    started: str | None  # sysjobactivity.start_execution_date; None: never started
    running: bool
    status: int | None  # the outcome's run_status once the job has ended
    message: str  # the failed step's message, else the outcome's

    @property
    def binary_id(self) -> str:
        """CONVERT(binary(16), job_id) as program_name shows it: the uniqueidentifier's
        bytes in stored order ("uniqueidentifier (Transact-SQL)")."""
        return "0x" + uuid.UUID(self.job_id).bytes_le.hex().upper()


def job_name(session: str, step: str, endpoint: str, what: str) -> str:
    return f"cockpit {session} {step} {endpoint} {what}"[:NAME_LIMIT]


def nstring(text: str) -> str:
    return "N" + tsql.quote_string(text)


def create_statements(name: str, steps: list[JobStep]) -> list[str]:
    """The job, its steps (each on to the next on success, the last quitting with success;
    any failure quits with failure), and its server."""
    job = nstring(name)
    statements = [f"EXEC msdb.dbo.sp_add_job @job_name = {job}, @enabled = 1, "
                  f"@delete_level = 1"]
    for number, step in enumerate(steps, start=1):
        then = 3 if number < len(steps) else 1
        statements.append(
            f"EXEC msdb.dbo.sp_add_jobstep @job_name = {job}, @step_id = {number}, "
            f"@step_name = {nstring(step.name)}, @subsystem = N'TSQL', "
            f"@database_name = {nstring(step.database)}, @command = {nstring(step.command)}, "
            f"@on_success_action = {then}, @on_fail_action = 2")
    statements.append(f"EXEC msdb.dbo.sp_add_jobserver @job_name = {job}, "
                      f"@server_name = N'(LOCAL)'")
    return statements


def start(handle: EstateHandle, endpoint: str, name: str, steps: list[JobStep]) -> None:
    """Create the job and start it; returns as soon as the Agent has it."""
    handle.require_write("sql agent job")
    with connection(handle, endpoint) as conn:
        for statement in create_statements(name, steps):
            run(conn, statement)
        run(conn, f"EXEC msdb.dbo.sp_start_job @job_name = {nstring(name)}")


def look(handle: EstateHandle, endpoint: str, name: str) -> JobRun | None:
    """The job's latest run as msdb has it; None when there is no such job."""
    with connection(handle, endpoint) as conn:
        run(conn, tsql.use_database("msdb"))
        jobs = fetch(conn, query_text("agent_job"), [name])
        if not jobs:
            return None
        job_id = str(jobs[0]["job_id"])
        history = fetch(conn, query_text("agent_job_history"), [job_id])
    started, stopped = jobs[0]["start_execution_date"], jobs[0]["stop_execution_date"]
    outcome = next((h for h in reversed(history) if int(h["step_id"]) == 0), None)
    failed = next((h for h in history if int(h["step_id"]) > 0
                   and int(h["run_status"]) != SUCCEEDED), None)
    said = failed or outcome
    return JobRun(name, job_id, None if started is None else str(started),
                  started is not None and stopped is None,
                  None if outcome is None else int(outcome["run_status"]),
                  "" if said is None else str(said["message"]))


def running(handle: EstateHandle, endpoint: str, session: str, step: str) -> list[str]:
    """The names of the step's jobs running now on the endpoint."""
    pattern = job_name(session, step, "", "").rstrip() + " %"
    with connection(handle, endpoint) as conn:
        run(conn, tsql.use_database("msdb"))
        rows = fetch(conn, query_text("agent_jobs_running"), [pattern])
    return [str(r["job_name"]) for r in rows]


def session_of(handle: EstateHandle, endpoint: str, job: JobRun) -> int | None:
    """The session running the job's current step, as sys.dm_exec_sessions names it."""
    pattern = f"SQLAgent - TSQL JobStep (Job {job.binary_id} : Step %"
    with connection(handle, endpoint) as conn:
        rows = fetch(conn, query_text("agent_job_session"), [pattern])
    return int(rows[0]["session_id"]) if rows else None


def kill(handle: EstateHandle, endpoint: str, job: JobRun) -> int | None:
    """KILL the session running the job; its number, or None if no step was running."""
    handle.require_write("sql agent job")
    session = session_of(handle, endpoint, job)
    if session is not None:
        with connection(handle, endpoint) as conn:
            run(conn, f"KILL {session}")
    return session


def delete(handle: EstateHandle, endpoint: str, name: str) -> None:
    """Delete the job; one already gone is no error (a job that succeeded deletes itself,
    maybe between our look and this)."""
    handle.require_write("sql agent job")
    with connection(handle, endpoint) as conn:
        try:
            run(conn, f"EXEC msdb.dbo.sp_delete_job @job_name = {nstring(name)}")
        except Exception as exc:
            if "14262" not in str(exc):  # "The specified @job_name (...) does not exist."
                raise
