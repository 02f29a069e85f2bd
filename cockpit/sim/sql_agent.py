"""SQL Server Agent on one simulated server: one-off jobs created, started, followed in msdb,
and deleted; and KILL of a session.

A BACKUP or RESTORE run by a job belongs to the Agent's own session on the server, not to
the client that started it: the client may go away (a driver killed, a jump host rebooted)
and the statement runs on, as it does on SQL Server. The procedures and tables follow their
pages on learn.microsoft.com/sql (cited by title):
- "sp_add_job": `@job_name` is unique (Msg 14261 when taken); `@delete_level` 0 keeps the
  job (the default), 1 deletes it after a success, 2 after a failure, 3 after any run; a
  job that deletes itself takes its history along.
- "sp_add_jobstep": `@subsystem` TSQL, `@database_name` default master, `@on_success_action`
  1 quit with success (3: go to the next step), `@on_fail_action` 2 quit with failure.
- "sp_add_jobserver": `@server_name` default (LOCAL); a job without one cannot start (14256).
- "sp_start_job": returns at once, the job runs in the background; a running job refuses a
  second start (22022); an unknown job is Msg 14262.
- "sp_delete_job": `@delete_history` default 1.
- "dbo.sysjobactivity": a job runs while start_execution_date is set and
  stop_execution_date is NULL. "dbo.sysjobhistory": one row per step once it completes,
  then the job's outcome as step_id 0; run_status 0 failed, 1 succeeded, 3 canceled;
  run_date yyyymmdd, run_time and run_duration HHMMSS, as integers.
- "KILL (Transact-SQL)": ends a session; not your own (Msg 6104), not one that is not
  there (Msg 6106). "Database engine events and errors 0-999": 596, the session is in the
  kill state.
A job's session shows in sys.dm_exec_sessions with program_name `SQLAgent - TSQL JobStep
(Job 0x<job_id as binary> : Step <n>)`, which is how a DBA finds (and KILLs) it.

Every procedure lives in msdb: called from another database without `msdb.dbo.` it is not
found (Msg 2812, "Database engine events and errors 2000-2999").
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cockpit.sim.sql_errors import LinkFailure, SimSqlError

if TYPE_CHECKING:
    from cockpit.sim.sqlserver import SimConnection, SimSqlServer

AGENT_LOGIN = "NT SERVICE\\SQLSERVERAGENT"
AGENT_SESSION = 1  # msdb.dbo.syssessions: the Agent's run since it last started
SUCCEEDED, FAILED, CANCELED = 1, 0, 3
PROCEDURES = ("sp_add_job", "sp_add_jobstep", "sp_add_jobserver", "sp_start_job",
              "sp_delete_job")

_EXEC = re.compile(r"^EXEC(?:UTE)?\s+((?:\[?msdb\]?\s*\.\s*\[?dbo\]?\s*\.\s*)?)\[?(\w+)\]?"
                   r"(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
_ARG = re.compile(r"\s*@(\w+)\s*=\s*(N?'(?:[^']|'')*'|-?\d+)\s*(?:,|$)", re.DOTALL)
_KILL = re.compile(r"^KILL\s+(\d+)\s*;?$", re.IGNORECASE)


@dataclass(frozen=True)
class Call:
    """`EXEC msdb.dbo.<procedure> @name = value, ...`."""

    procedure: str
    qualified: bool
    args: dict[str, str | int]


@dataclass(frozen=True)
class Kill:
    session_id: int


def parse(text: str) -> Call | Kill | None:
    """The Agent procedure call or KILL in `text`; None for any other statement."""
    kill = _KILL.match(text)
    if kill:
        return Kill(int(kill.group(1)))
    match = _EXEC.match(text)
    if match is None or match.group(2).lower() not in PROCEDURES:
        return None
    return Call(match.group(2).lower(), bool(match.group(1)), _args(match.group(3) or ""))


def _args(text: str) -> dict[str, str | int]:
    args: dict[str, str | int] = {}
    at = 0
    text = text.strip().rstrip(";")
    while at < len(text):
        match = _ARG.match(text, at)
        if match is None:
            raise SimSqlError(102, f"Incorrect syntax near '{text[at:at + 20].strip()}'.",
                              level=15)
        value = match.group(2)
        args[match.group(1).lower()] = int(value) if value[0] not in "N'" else \
            value[value.index("'") + 1:-1].replace("''", "'")
        at = match.end()
    return args


@dataclass
class JobStep:
    step_id: int
    name: str
    database: str
    command: str
    on_success: int  # 1 quit with success, 3 go to the next step


@dataclass
class Job:
    job_id: str
    name: str
    steps: list[JobStep]
    delete_level: int = 0  # 0 never, 1 after success, 2 after failure, 3 always
    has_server: bool = False
    running: bool = False

    @property
    def binary_id(self) -> str:
        """The job_id as CONVERT(binary(16), job_id) shows it: a uniqueidentifier's bytes
        in their stored order ("uniqueidentifier (Transact-SQL)")."""
        return "0x" + uuid.UUID(self.job_id).bytes_le.hex().upper()


class SqlAgent:
    """The Agent of one server. Jobs live in Python; msdb's tables mirror them."""

    def __init__(self, server: SimSqlServer) -> None:
        self.server = server
        self.jobs: dict[str, Job] = {}  # by lower-case name
        # The fault `agent-job-fails`: a job whose name holds one of these words fails.
        self.fails: set[str] = set()
        self._lock = threading.Lock()

    # --- statements -----------------------------------------------------------------------

    def run(self, conn: SimConnection, statement: Call | Kill) -> None:
        if isinstance(statement, Kill):
            self._kill(conn, statement.session_id)
            return
        if not statement.qualified and conn.database.lower() != "msdb":
            raise SimSqlError(2812, f"Could not find stored procedure '{statement.procedure}'.")
        getattr(self, "_" + statement.procedure)(conn, statement.args)

    def _sp_add_job(self, conn: SimConnection, args: dict[str, Any]) -> None:
        name = _required(args, "job_name", "sp_add_job")
        with self._lock:
            if name.lower() in self.jobs:
                raise SimSqlError(14261, f"The specified @job_name ('{name}') already exists.")
            self.jobs[name.lower()] = Job(str(uuid.uuid4()).upper(), name, [],
                                          int(args.get("delete_level", 0)))
        job = self.jobs[name.lower()]
        self._write("INSERT INTO sysjobs VALUES (?, ?, ?)", (job.job_id, name,
                                                               int(args.get("enabled", 1))))

    def _sp_add_jobstep(self, conn: SimConnection, args: dict[str, Any]) -> None:
        job = self._job(args)
        if str(args.get("subsystem", "TSQL")).upper() != "TSQL":
            raise SimSqlError(14234, "The specified '@subsystem' is invalid (valid values are "
                                     "returned by sp_enum_sqlagent_subsystems).")
        step = JobStep(int(args.get("step_id", len(job.steps) + 1)),
                       _required(args, "step_name", "sp_add_jobstep"),
                       str(args.get("database_name", "master")), str(args.get("command", "")),
                       int(args.get("on_success_action", 1)))
        job.steps.append(step)
        self._write("INSERT INTO sysjobsteps VALUES (?, ?, ?, 'TSQL', ?, ?)",
                    (job.job_id, step.step_id, step.name, step.database, step.command))

    def _sp_add_jobserver(self, conn: SimConnection, args: dict[str, Any]) -> None:
        self._job(args).has_server = True

    def _sp_start_job(self, conn: SimConnection, args: dict[str, Any]) -> None:
        job = self._job(args)
        if not job.has_server:
            raise SimSqlError(14256, f'Cannot start the job "{job.name}" (ID {job.job_id}) '
                                     "because it does not have any job server or servers "
                                     "defined. Associate the job with a job server by calling "
                                     "sp_add_jobserver.")
        with self._lock:
            if job.running:
                raise SimSqlError(22022, f"SQLServerAgent Error: Request to run job {job.name} "
                                         "(from User sa) refused because the job is already "
                                         "running from a request by User sa.")
            job.running = True
        self._write("DELETE FROM sysjobactivity WHERE job_id = ?", (job.job_id,))
        now = _now()
        self._write("INSERT INTO sysjobactivity VALUES (?, ?, ?, ?, NULL, NULL)",
                    (AGENT_SESSION, job.job_id, now, now))
        threading.Thread(target=self._execute, args=(job,), daemon=True,
                         name=f"sim-agent-{job.name[:40]}").start()

    def _sp_delete_job(self, conn: SimConnection, args: dict[str, Any]) -> None:
        self._drop(self._job(args), history=bool(int(args.get("delete_history", 1))))

    def _drop(self, job: Job, *, history: bool) -> None:
        with self._lock:
            self.jobs.pop(job.name.lower(), None)
        for table in ("sysjobs", "sysjobsteps", "sysjobactivity"):
            self._write(f"DELETE FROM {table} WHERE job_id = ?", (job.job_id,))
        if history:
            self._write("DELETE FROM sysjobhistory WHERE job_id = ?", (job.job_id,))

    def _kill(self, conn: SimConnection, session_id: int) -> None:
        if session_id == conn.session_id:
            raise SimSqlError(6104, "Cannot use KILL to kill your own process.")
        target = self.server.live_session(session_id)
        if target is None:
            raise SimSqlError(6106, f"Process ID {session_id} is not an active process ID.")
        target.kill(SimSqlError(596, "Cannot continue the execution because the session is in "
                                     "the kill state.", level=21, sqlstate="HY000"))

    def _job(self, args: dict[str, Any]) -> Job:
        name = str(args.get("job_name", ""))
        job = self.jobs.get(name.lower())
        if job is None:
            raise SimSqlError(14262, f"The specified @job_name ('{name}') does not exist.")
        return job

    # --- a job's run, on the Agent's own session -------------------------------------------

    def _execute(self, job: Job) -> None:
        conn = self.server.connect(program=None)
        outcome, last = SUCCEEDED, 0
        try:
            for step in sorted(job.steps, key=lambda s: s.step_id):
                last = step.step_id
                conn.program_name = f"SQLAgent - TSQL JobStep (Job {job.binary_id} : " \
                                    f"Step {step.step_id})"
                self.server.publish_sessions()
                outcome = self._run_step(conn, job, step)
                if outcome != SUCCEEDED or step.on_success != 3:
                    break
        except Exception:
            if not self.server.closed:
                raise
            return  # the sim stopped under the job: nobody is left to read its end
        finally:
            conn.close()
        self.server.publish_sessions()
        self._finish(job, outcome, last)

    def _run_step(self, conn: SimConnection, job: Job, step: JobStep) -> int:
        started = datetime.now(UTC)
        status, message = SUCCEEDED, "The step succeeded."
        try:
            if self.fails & set(job.name.split()):
                raise SimSqlError(3201, "Cannot open backup device. Operating system error 5"
                                        "(Access is denied.).", then=SimSqlError(
                                            3013, "The statement is terminating abnormally."))
            conn.use(step.database)
            conn.run(step.command, [])
        except (SimSqlError, LinkFailure) as exc:
            status = CANCELED if 596 in exc.numbers else FAILED
            message = "  ".join(f"{text} [SQLSTATE {exc.args[0]}] (Error {number})"
                                for number, _lv, _st, text in exc.messages) + \
                "  The step failed."
        except Exception as exc:  # the sim's own fault: the job ends failed, never hangs
            if self.server.closed:
                raise
            status, message = FAILED, f"{type(exc).__name__}: {exc}  The step failed."
        self._history(job, step.step_id, step.name, status,
                      f"Executed as user: {AGENT_LOGIN}. {message}", started)
        return status

    def _finish(self, job: Job, outcome: int, last: int) -> None:
        words = {SUCCEEDED: "succeeded", FAILED: "failed", CANCELED: "was cancelled"}[outcome]
        name = next((s.name for s in job.steps if s.step_id == last), "")
        self._history(job, 0, "(Job outcome)", outcome,
                      f"The job {words}.  The Job was invoked by User sa.  The last step to "
                      f"run was step {last} ({name}).", datetime.now(UTC))
        self._write("UPDATE sysjobactivity SET stop_execution_date = ?, "
                    "last_executed_step_id = ? WHERE job_id = ?", (_now(), last, job.job_id))
        with self._lock:
            job.running = False
        if job.delete_level == 3 or (job.delete_level, outcome) in ((1, SUCCEEDED), (2, FAILED)):
            self._drop(job, history=True)

    def _history(self, job: Job, step_id: int, step_name: str, status: int, message: str,
                 started: datetime) -> None:
        took = int((datetime.now(UTC) - started).total_seconds())
        duration = (took // 3600) * 10000 + (took // 60 % 60) * 100 + took % 60
        self._write("INSERT INTO sysjobhistory (job_id, step_id, step_name, message, "
                    "run_status, run_date, run_time, run_duration, server) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (job.job_id, step_id, step_name, message, status,
                     int(started.strftime("%Y%m%d")), int(started.strftime("%H%M%S")),
                     duration, self.server.name))

    def _write(self, statement: str, params: tuple[Any, ...]) -> None:
        self.server.write_msdb(statement, params)


def _required(args: dict[str, Any], name: str, procedure: str) -> str:
    if name not in args:
        raise SimSqlError(201, f"Procedure or function '{procedure}' expects parameter "
                               f"'@{name}', which was not supplied.")
    return str(args[name])


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
