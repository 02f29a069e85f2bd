"""SQL Server over pyodbc: the AG's state, backups and restores, sessions, the data check.

pyodbc is imported only when a real endpoint is used: a rehearsal on the sim, `plan
validate` or a watcher never needs unixODBC. The connection string comes from the
environment variable the plan names and never appears in an error. Read functions return
snapshots with `.error` instead of raising; write functions (the actions) raise, and run
only the T-SQL that `tsql` generates.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from cockpit.estate import tsql
from cockpit.estate.handle import EstateHandle, ReadOnlyError
from cockpit.estate.snapshots import (
    AgSnapshot,
    DatabaseStateSnapshot,
    DataSnapshot,
    ReplicaState,
    RequestsSnapshot,
    RunningRequest,
    SessionGroup,
    SessionsSnapshot,
    TableData,
)
from cockpit.plan.models import AvailabilityGroup, Database, SqlEndpoint
from cockpit.plan.read_sql import read_refusal

LOGIN_TIMEOUT_S = 15
# A read's query timeout: SqlClient's default is 30 s; a pane polls every few seconds, and a
# read blocked longer than this says so in its pane rather than holding the pane's thread.
QUERY_TIMEOUT_S = 15
INSTALL_HINT = ("install the Debian package `unixodbc` and an ODBC driver for SQL Server: "
                "Microsoft's msodbcsql18, or FreeTDS (`tdsodbc`)")


class SqlUnavailable(RuntimeError):
    """The endpoint cannot be reached at all: no DSN, no unixODBC, no driver, no login."""


# --- connections ---------------------------------------------------------------------------


def connect_odbc(endpoint: SqlEndpoint) -> Any:
    """A pyodbc connection with a login timeout; autocommit, since BACKUP, RESTORE and
    ALTER DATABASE refuse to run inside a transaction."""
    dsn = os.environ.get(endpoint.dsn_env)
    if not dsn:
        raise SqlUnavailable(f"environment variable {endpoint.dsn_env} is not set: export it "
                             f"with the ODBC connection string of {endpoint.id}")
    pyodbc = _pyodbc()
    try:
        return pyodbc.connect(dsn, timeout=LOGIN_TIMEOUT_S, autocommit=True)
    except pyodbc.Error as exc:
        raise SqlUnavailable(_login_failure(endpoint, exc, dsn, pyodbc)) from None


def _pyodbc() -> Any:
    try:
        import pyodbc
    except ImportError as exc:
        raise SqlUnavailable(f"pyodbc cannot load unixODBC ({exc}): {INSTALL_HINT}") from None
    return pyodbc


def _login_failure(endpoint: SqlEndpoint, exc: Exception, dsn: str, pyodbc: Any) -> str:
    text = scrub(_odbc_text(exc), [dsn])
    if _sqlstate(exc) in ("IM002", "01000") or "can't open lib" in text.lower():
        drivers = ", ".join(pyodbc.drivers()) or "none"
        return (f"{endpoint.id}: no usable ODBC driver ({text}); drivers installed: "
                f"{drivers}; {INSTALL_HINT}")
    return f"{endpoint.id}: cannot log in: {text}"


@contextmanager
def connection(handle: EstateHandle, endpoint_id: str, *,
               query_timeout_s: int = QUERY_TIMEOUT_S) -> Iterator[Any]:
    """One connection for one piece of work. pyodbc connections are not shared between
    threads, and panes, probes and the running step each work in their own. A statement
    that runs past `query_timeout_s` is cancelled by the driver (HYT00): a probe or a pane
    never waits on a blocked server for good. 0: no timeout (a long statement of a step)."""
    conn = connect(handle, endpoint_id, query_timeout_s=query_timeout_s)
    try:
        yield conn
    finally:
        with suppress(Exception):
            conn.close()


def connect(handle: EstateHandle, endpoint_id: str, *,
            query_timeout_s: int = QUERY_TIMEOUT_S) -> Any:
    """A new DB-API connection to a SQL endpoint; the caller closes it. On a read-only
    handle it refuses every statement but SELECT and USE."""
    factory = handle.endpoints.sql_connect.get(endpoint_id)
    endpoint = next(e for e in handle.estate.sql if e.id == endpoint_id)
    connection = factory() if factory else connect_odbc(endpoint)
    connection.timeout = query_timeout_s
    return ReadOnlyConnection(connection) if handle.read_only else connection


class ReadOnlyConnection:
    """A read-only handle's SQL side, and every probe's: one SELECT that changes nothing, or
    a USE, passes (told by a T-SQL parser: `plan/read_sql.py`), whatever the caller does."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def cursor(self) -> Any:
        return _ReadOnlyCursor(self._connection.cursor())

    def close(self) -> None:
        self._connection.close()

    @classmethod
    def allows(cls, statement: str) -> bool:
        return read_refusal(statement, allow_use=True) is None


class _ReadOnlyCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, statement: str, *params: Any) -> Any:
        why = read_refusal(statement, allow_use=True)
        if why is not None:
            raise ReadOnlyError(f"refused before it was sent, this connection only reads: {why}")
        self._cursor.execute(statement, *params)
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


# --- running T-SQL -----------------------------------------------------------------------------


@cache
def query_text(name: str) -> str:
    """A production read query, from `cockpit/estate/queries/<name>.sql`."""
    return resources.files("cockpit.estate.queries").joinpath(f"{name}.sql").read_text("utf-8")


def fetch(conn: Any, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows as dicts keyed by column name."""
    cursor = conn.cursor()
    try:
        if params:
            cursor.execute(statement, list(params))
        else:
            cursor.execute(statement)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        cursor.close()


def run(conn: Any, statement: str) -> None:
    """Run a statement to its end. With STATS, BACKUP and RESTORE send progress messages,
    and pyodbc returns from execute() before the server is done unless every result set
    and message is consumed: hence the nextset() loop."""
    cursor = conn.cursor()
    try:
        cursor.execute(statement)
        while cursor.nextset():
            pass
    finally:
        cursor.close()


def scalar(conn: Any, statement: str) -> Any:
    rows = fetch(conn, statement)
    return next(iter(rows[0].values())) if rows else None


# --- errors ------------------------------------------------------------------------------------


_VENDOR = re.compile(r"^(?:\[[^\]]*\]\s*)+")
_CALL = re.compile(r"\s*\((?:SQLExecDirectW|SQLDriverConnect|SQLFetch)\)\s*$")
_PASSWORD = re.compile(r"((?:pwd|password)\s*=\s*)(?:\{(?:[^}]|\}\})*\}|[^;]*)", re.IGNORECASE)


def _sqlstate(exc: Exception) -> str | None:
    args: tuple[Any, ...] = exc.args
    return args[0] if len(args) >= 2 and isinstance(args[0], str) else None


def _odbc_text(exc: Exception) -> str:
    """pyodbc's `('42000', '[42000] [Microsoft][ODBC Driver 18]...[SQL Server]text (911)
    (SQLExecDirectW)')` -> `text (911)`."""
    args: tuple[Any, ...] = exc.args
    text = str(args[1]) if len(args) >= 2 and isinstance(args[1], str) else str(exc)
    return _CALL.sub("", _VENDOR.sub("", text.strip())) or type(exc).__name__


def scrub(text: str, dsns: Sequence[str]) -> str:
    """No connection string or password in a message, whatever a driver echoes."""
    for dsn in dsns:
        if dsn:
            text = text.replace(dsn, "<connection string>")
    return _PASSWORD.sub(lambda m: m.group(1) + "***", text)


def describe_sql_error(handle: EstateHandle, exc: BaseException) -> str:
    """One secret-free line for a pane or a failed step."""
    dsns = [os.environ.get(e.dsn_env, "") for e in handle.estate.sql]
    text = _odbc_text(exc) if isinstance(exc, Exception) else str(exc)
    # A driver's error speaks for itself (SQLSTATE and SQL Server's words); others say what
    # they are.
    said_by_driver = isinstance(exc, Exception) and _sqlstate(exc) is not None
    if not said_by_driver and not isinstance(exc, SqlUnavailable) and \
            type(exc).__name__ not in text:
        text = f"{type(exc).__name__}: {text}"
    return scrub(text, dsns)


# --- the plan's names --------------------------------------------------------------------------


def database(handle: EstateHandle, database_id: str) -> Database:
    return next(d for d in handle.estate.databases if d.id == database_id)


def availability_group(handle: EstateHandle, ag_id: str) -> AvailabilityGroup:
    return next(ag for ag in handle.estate.availability_groups if ag.id == ag_id)


def ag_endpoint(ag: AvailabilityGroup) -> str:
    """The AG's state is read on the first replica with an endpoint (the primary's DMVs
    hold every replica's rows)."""
    endpoint = next((r.endpoint for r in ag.replicas if r.endpoint), None)
    if endpoint is None:
        raise LookupError(f"no replica of {ag.id} has an endpoint to read it through")
    return endpoint


# --- reading -----------------------------------------------------------------------------------


def _read(handle: EstateHandle, endpoint: str, work: Callable[[Any], Any]) -> Any:
    with connection(handle, endpoint) as conn:
        return work(conn)


def read_query(handle: EstateHandle, endpoint: str, database_name: str | None,
               statement: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """A plan's own query, on a connection that only reads whatever the handle is: at most
    `limit` rows come back (the evidence of a check, not a report). Raises ReadOnlyError
    for a statement that is not one SELECT, before anything is sent."""
    with connection(handle, endpoint) as conn:
        reading = ReadOnlyConnection(conn)
        if database_name is not None:
            run(reading, tsql.use_database(database_name))
        cursor = reading.cursor()
        try:
            cursor.execute(statement)
            names = [column[0] or f"column{i + 1}" for i, column in
                     enumerate(cursor.description or [])]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchmany(limit)]
        finally:
            cursor.close()


def database_users(handle: EstateHandle, endpoint: str, database_name: str) -> dict[str, bytes]:
    """The database's users that map to an instance login, by name, with their SIDs."""
    def read(conn: Any) -> dict[str, bytes]:
        run(conn, tsql.use_database(database_name))
        rows = fetch(conn, query_text("database_users"))
        return {str(r["user_name"]): bytes(r["sid"]) for r in rows}

    return dict(_read(handle, endpoint, read))


def server_logins(handle: EstateHandle, endpoint: str) -> dict[str, bytes]:
    """The instance's logins, by name, with their SIDs."""
    rows = _read(handle, endpoint, lambda c: fetch(c, query_text("server_logins")))
    return {str(r["login_name"]): bytes(r["sid"]) for r in rows}


def agent_jobs(handle: EstateHandle, endpoint: str, database_name: str) -> list[dict[str, Any]]:
    """The Agent jobs with a step in the database: name, enabled, next run (or None)."""
    def read(conn: Any) -> list[dict[str, Any]]:
        return fetch(conn, query_text("agent_jobs"), [database_name])

    return [{"job": str(r["job_name"]), "enabled": bool(r["enabled"]),
             "next_run": _agent_time(r["next_run_date"], r["next_run_time"])}
            for r in _read(handle, endpoint, read)]


def _agent_time(date: Any, time_of_day: Any) -> datetime | None:
    """Agent's yyyymmdd and HHMMSS integers as a local time; None for 0 (no next run)."""
    if not date:
        return None
    day, clock = int(date), int(time_of_day or 0)
    return datetime(day // 10000, day // 100 % 100, day % 100, clock // 10000,
                    clock // 100 % 100, clock % 100, tzinfo=datetime.now(UTC).astimezone().tzinfo)


def server_version(handle: EstateHandle, endpoint: str) -> dict[str, Any]:
    """The instance's major version, full version and edition."""
    rows = _read(handle, endpoint, lambda c: fetch(c, query_text("server_version")))
    return dict(rows[0]) if rows else {}


def tde_thumbprints(handle: EstateHandle, endpoint: str) -> dict[str, bytes]:
    """The instance's TDE-encrypted databases, by name, with their certificate's thumbprint."""
    rows = _read(handle, endpoint, lambda c: fetch(c, query_text("tde_databases")))
    return {str(r["database_name"]).lower(): bytes(r["thumbprint"]) for r in rows}


def certificates(handle: EstateHandle, endpoint: str) -> dict[str, bytes]:
    """The certificates in master, by name, with their thumbprints."""
    rows = _read(handle, endpoint, lambda c: fetch(c, query_text("certificates")))
    return {str(r["certificate_name"]): bytes(r["thumbprint"]) for r in rows}


def ag_state(handle: EstateHandle, ag_id: str) -> AgSnapshot:
    """Every replica of the AG, with its role, connection, health and databases."""
    try:
        endpoint = ag_endpoint(availability_group(handle, ag_id))
        rows = _read(handle, endpoint, lambda c: fetch(c, query_text("ag_state"), [ag_id]))
    except Exception as exc:  # a probe reports, it never raises
        return AgSnapshot(ag=ag_id, error=describe_sql_error(handle, exc))
    if not rows:
        return AgSnapshot(ag=ag_id, endpoint=endpoint,
                          error=f"no availability group named {ag_id} on {endpoint}")
    return AgSnapshot(ag=ag_id, endpoint=endpoint, replicas=[_replica(r) for r in rows])


def _replica(row: dict[str, Any]) -> ReplicaState:
    return ReplicaState(
        replica=row["replica"], availability_mode=row["availability_mode"], role=row["role"],
        connected_state=row["connected_state"], replica_health=row["replica_health"],
        database=row["database_name"], sync_state=row["sync_state"],
        sync_health=row["sync_health"], log_send_queue_kb=row["log_send_queue_kb"],
        redo_queue_kb=row["redo_queue_kb"])


def backup_progress(handle: EstateHandle, endpoint: str) -> RequestsSnapshot:
    """The BACKUPs and RESTOREs running on an endpoint."""
    try:
        rows = _read(handle, endpoint, lambda c: fetch(c, query_text("backup_progress")))
    except Exception as exc:  # a probe reports, it never raises
        return RequestsSnapshot(endpoint=endpoint, error=describe_sql_error(handle, exc))
    return RequestsSnapshot(endpoint=endpoint, requests=[RunningRequest(
        session_id=r["session_id"], command=r["command"], database=r["database_name"],
        percent_complete=r["percent_complete"] or 0.0,
        estimated_completion_ms=r["estimated_completion_ms"], start_time=r["start_time"],
    ) for r in rows])


def user_sessions(handle: EstateHandle, endpoint: str, database_name: str) -> SessionsSnapshot:
    """User sessions on the database but the cockpit's own, by host, program, login and
    client address."""
    base = SessionsSnapshot(endpoint=endpoint, database=database_name)
    try:
        rows = _read(handle, endpoint,
                     lambda c: fetch(c, query_text("user_sessions"), [database_name]))
    except Exception as exc:  # a probe reports, it never raises
        return base.model_copy(update={"error": describe_sql_error(handle, exc)})
    return base.model_copy(update={"groups": [SessionGroup(**r) for r in rows]})


def database_state(handle: EstateHandle, endpoint: str,
                   database_name: str) -> DatabaseStateSnapshot:
    base = DatabaseStateSnapshot(endpoint=endpoint, database=database_name)
    try:
        rows = _read(handle, endpoint,
                     lambda c: fetch(c, query_text("database_state"), [database_name]))
    except Exception as exc:  # a probe reports, it never raises
        return base.model_copy(update={"error": describe_sql_error(handle, exc)})
    if not rows:
        return base
    row = rows[0]
    return base.model_copy(update={
        "exists": True, "state": row["state"], "is_read_only": bool(row["is_read_only"]),
        "user_access": row["user_access"], "recovery_model": row["recovery_model"],
        "size_pages": row["size_pages"]})


def partition_rows(handle: EstateHandle, endpoint: str, database_name: str) -> dict[str, int]:
    """Rows per user table (`schema.table`, lower case) from the partition stats: metadata,
    no scan, cheap enough to watch with."""
    def read(conn: Any) -> dict[str, int]:
        run(conn, tsql.use_database(database_name))
        return {f"{r['schema_name']}.{r['table_name']}".lower(): int(r["row_count"] or 0)
                for r in fetch(conn, query_text("row_counts"))}
    return dict(_read(handle, endpoint, read))


def table_data(handle: EstateHandle, endpoint: str, db: Database) -> DataSnapshot:
    """What the data check compares: partition-stats rows of every user table, exact rows
    of the plan's tables, and checksums of its checksum tables."""
    base = DataSnapshot(endpoint=endpoint, database=db.name)
    try:
        tables = _read(handle, endpoint, lambda c: _table_data(c, db))
    except Exception as exc:  # a probe reports, it never raises
        return base.model_copy(update={"error": describe_sql_error(handle, exc)})
    return base.model_copy(update={"tables": tables})


def _table_data(conn: Any, db: Database) -> list[TableData]:
    run(conn, tsql.use_database(db.name))
    stats = {f"{r['schema_name']}.{r['table_name']}".lower(): (
        f"{r['schema_name']}.{r['table_name']}", int(r["row_count"] or 0))
        for r in fetch(conn, query_text("row_counts"))}
    found: dict[str, TableData] = {
        key: TableData(table=name, stats_rows=rows) for key, (name, rows) in stats.items()}
    checksummed = {str(tsql.TableName.parse(t)).lower() for t in db.checksum_tables}
    columns = _columns(conn) if checksummed else {}
    for text in db.tables:
        table = tsql.TableName.parse(text)
        key = str(table).lower()
        rows = int(scalar(conn, tsql.count_rows(db.name, table)))
        checksum, skipped = None, list[str]()
        if key in checksummed:
            checksum, skipped = _checksum(conn, db.name, table, columns.get(key, []))
        current = found.get(key, TableData(table=str(table)))
        found[key] = current.model_copy(update={"rows": rows, "checksum": checksum,
                                                "skipped": skipped})
    return sorted(found.values(), key=lambda t: t.table.lower())


# CHECKSUM "returns an error if any column has a noncomparable data type": cursor, image,
# ntext, text, XML ("CHECKSUM (Transact-SQL)"); geography and geometry are CLR types that
# cannot be compared either (BINARY_CHECKSUM's page names "noncomparable CLR user-defined
# types"). A legacy table often holds one; the checksum covers the other columns.
NONCOMPARABLE = frozenset({"text", "ntext", "image", "xml", "geography", "geometry"})


def _columns(conn: Any) -> dict[str, list[tuple[str, str]]]:
    """(column, type) of each user table's columns in the current database, in order; an
    alias type by its base type."""
    found: dict[str, list[tuple[str, str]]] = {}
    for r in fetch(conn, query_text("table_columns")):
        key = f"{r['schema_name']}.{r['table_name']}".lower()
        found.setdefault(key, []).append((r["column_name"], r["base_type"] or r["type_name"]))
    return found


def _checksum(conn: Any, database_name: str, table: tsql.TableName,
              columns: list[tuple[str, str]]) -> tuple[int | None, list[str]]:
    """CHECKSUM_AGG over the comparable columns, and the columns it left out; no checksum
    when none is comparable (or the table's columns were not found)."""
    skipped = [f"{name} ({kind})" for name, kind in columns if kind.lower() in NONCOMPARABLE]
    comparable = [name for name, kind in columns if kind.lower() not in NONCOMPARABLE]
    if not comparable:
        return None, skipped
    return scalar(conn, tsql.checksum_table(database_name, table, comparable)), skipped


# --- changing ----------------------------------------------------------------------------------


def execute(handle: EstateHandle, endpoint: str, operation: str,
            statements: list[str]) -> dict[str, Any]:
    """Run generated statements in order on one connection; the outputs name them."""
    handle.require_write(operation)
    with connection(handle, endpoint, query_timeout_s=0) as conn:
        for statement in statements:
            run(conn, statement)
    return {"endpoint": endpoint, "statements": statements}


def set_read_only(handle: EstateHandle, endpoint: str, database_name: str) -> dict[str, Any]:
    return execute(handle, endpoint, "sql.set_read_only", tsql.set_read_only(database_name))


def set_read_write(handle: EstateHandle, endpoint: str, database_name: str) -> dict[str, Any]:
    return execute(handle, endpoint, "sql.set_read_write", tsql.set_read_write(database_name))


def drop_database(handle: EstateHandle, endpoint: str, db: Database) -> dict[str, Any]:
    if endpoint == db.source:  # the plan check says so too; a second lock on this door
        raise ReadOnlyError(f"refusing to drop {db.name} on its source {endpoint}")
    return execute(handle, endpoint, "sql.drop_database", [tsql.drop_database(db.name)])


def add_to_ag(handle: EstateHandle, endpoint: str, ag: str, database_name: str,
              seeding: str) -> dict[str, Any]:
    statement = tsql.add_to_ag(ag, database_name) if seeding == "automatic" else \
        tsql.join_ag(ag, database_name)
    return execute(handle, endpoint, "sql.add_to_ag", [statement])


def remove_from_ag(handle: EstateHandle, endpoint: str, ag: str,
                   database_name: str) -> dict[str, Any]:
    return execute(handle, endpoint, "sql.remove_from_ag",
                   [tsql.remove_from_ag(ag, database_name)])


def backup_urls(handle: EstateHandle, bucket_name: str, keys: list[str]) -> list[str]:
    return [tsql.s3_url(s3_host(handle), bucket_name, key) for key in keys]


def s3_host(handle: EstateHandle) -> str:
    """Where SQL Server's S3 connector sends the backup: the regional endpoint, or the
    endpoint this handle uses (the sim's)."""
    url = handle.endpoints.aws_endpoint_url
    if url:
        return url.split("://", 1)[-1].rstrip("/")
    return f"s3.{handle.estate.region}.amazonaws.com"


def stripes_for(handle: EstateHandle, endpoint: str, database_name: str) -> tuple[int, int]:
    """(stripes, size in bytes): as many URLs as the database's size needs."""
    state = database_state(handle, endpoint, database_name)
    if state.error or not state.exists:
        raise LookupError(state.error or f"no database {database_name} on {endpoint}")
    return tsql.stripes_needed(state.size_bytes), state.size_bytes


def local_path(handle: EstateHandle, path: str) -> str:
    """A server's backup path as the cockpit reads it (under the sim's disk root)."""
    root = handle.endpoints.sql_disk_root
    return os.path.join(root, path.lstrip("/\\").replace("\\", "/")) if root else path


def backup_to_url(handle: EstateHandle, endpoint: str, database_name: str, bucket_name: str,
                  keys: list[str]) -> dict[str, Any]:
    """BACKUP ... TO URL: blocks until the server is done, as SQL Server does."""
    urls = backup_urls(handle, bucket_name, keys)
    done = execute(handle, endpoint, "sql.backup_to_url",
                   [tsql.backup_to_url(database_name, urls, handle.estate.region)])
    return {**done, "urls": urls}


def backup_to_disk(handle: EstateHandle, endpoint: str, database_name: str,
                   path: str) -> dict[str, Any]:
    return execute(handle, endpoint, "sql.backup_to_disk",
                   [tsql.backup_to_disk(database_name, path)])


def restore_from_url(handle: EstateHandle, endpoint: str, database_name: str,
                     bucket_name: str, keys: list[str], *, recovery: bool) -> dict[str, Any]:
    urls = backup_urls(handle, bucket_name, keys)
    done = execute(handle, endpoint, "sql.restore_from_url",
                   [tsql.restore_from_url(database_name, urls, recovery=recovery,
                                          region=handle.estate.region)])
    return {**done, "urls": urls}


def odbc_pairs(text: str) -> list[tuple[str, str]]:
    """`KEY=value;KEY={va;lue}}x}` -> pairs, braces honoured (`}}` is a literal `}`)."""
    pairs, i = [], 0
    while i < len(text):
        key_end = text.find("=", i)
        if key_end < 0:
            break
        key, i = text[i:key_end].strip(" ;"), key_end + 1
        value, i = _odbc_value(text, i)
        pairs.append((key, value))
    return pairs


def _odbc_value(text: str, i: int) -> tuple[str, int]:
    if text[i:i + 1] != "{":
        end = text.find(";", i)
        end = len(text) if end < 0 else end
        return text[i:end].strip(), end + 1
    value, i = [], i + 1
    while i < len(text):
        if text[i] == "}" and text[i + 1:i + 2] == "}":
            value.append("}")
            i += 2
        elif text[i] == "}":
            return "".join(value), text.find(";", i) + 1 if ";" in text[i:] else len(text)
        else:
            value.append(text[i])
            i += 1
    return "".join(value), i
