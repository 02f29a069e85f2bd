"""The adapter's production queries, through pyodbc and a real ODBC driver.

No SQL Server runs here, so pyodbc talks to SQLite through the SQLite3 ODBC driver, with
the DMV tables the simulated SQL Server builds attached as `sys` (on every connection:
an `Attach=` key in the connection string does nothing), and msdb or master under the
names their three-part names read. The `.sql` files are T-SQL: what the driver runs is
the SQLite the simulated server writes from them (`tsql_select.to_sqlite`), and what comes
back is typed the way the adapter reads it.

Without unixODBC or the driver these tests skip and say what to install; CI sets
COCKPIT_REQUIRE_ODBC=1, which turns that skip into a failure.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp
from support.plans import ROOT, load

from cockpit.estate import sql
from cockpit.estate.handle import Endpoints, EstateHandle
from cockpit.plan.models import Plan
from cockpit.sim.backup_engine import Throughput
from cockpit.sim.faults import FaultSet
from cockpit.sim.oms_data import oms_database_bytes
from cockpit.sim.sessions import with_spid
from cockpit.sim.sql_backup import Request
from cockpit.sim.sql_estate import AppView, SimSqlEstate
from cockpit.sim.sqlserver import SimDatabase, SimSqlServer
from cockpit.sim.tsql_select import schema_alias, to_sqlite

PHASE_TWO = ROOT / "plans" / "oms-phase2-simple.toml"
APPS = ["oms-app-1", "oms-app-2"]


def _odbc_missing() -> str | None:
    try:
        import pyodbc
    except ImportError as exc:
        return f"pyodbc cannot load unixODBC ({exc}): apt-get install unixodbc libsqliteodbc"
    if "SQLite3" not in pyodbc.drivers():
        return (f"the SQLite3 ODBC driver is not installed (drivers: {pyodbc.drivers()}): "
                "apt-get install libsqliteodbc")
    return None


@pytest.fixture(scope="module")
def pyodbc() -> Any:
    """pyodbc with the SQLite3 driver, or a skip (a failure when CI requires ODBC)."""
    missing = _odbc_missing()
    if missing is not None:
        if os.environ.get("COCKPIT_REQUIRE_ODBC") == "1":
            pytest.fail(f"COCKPIT_REQUIRE_ODBC=1 but {missing}")
        pytest.skip(missing)
    import pyodbc as module

    return module


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load(PHASE_TWO)


@pytest.fixture(scope="module")
def sim_sql(plan: Plan) -> Iterator[SimSqlEstate]:
    """The sim's SQL side alone (no AWS): its servers, AG and OMS data, apps running."""
    estate = SimSqlEstate(plan.estate, speed=1.0, faults=FaultSet(), s3=None, s3_host="-",
                          apps=AppView(running_apps=lambda: APPS,
                                       resolve=lambda name: "sql-dc1.dc1.retail.example."),
                          # statements of a second; no order arrives: the seed's counts
                          throughput=Throughput(database_gb=0.01, log_mb_per_min=0.0))
    estate.start()
    yield estate
    estate.stop()


@pytest.fixture(scope="module")
def primary(sim_sql: SimSqlEstate) -> SimSqlServer:
    """The AG primary holding OMS, seeded to the end (its seeding moved back in time)."""
    server = sim_sql.servers["oms-sql-1"]
    db = server.add_database("OMS", oms_database_bytes())
    ag = sim_sql.ags["oms-ag"]
    ag.add_database(server, db)
    for row in ag.databases["oms"].values():
        row.started -= 3600
    sim_sql.tick()
    return server


def odbc_on(pyodbc: Any, tmp_path: Path, sys_file: Path, msdb: Path | None = None) -> Any:
    """A pyodbc connection to SQLite with `sys_file` attached as `sys` and as master's
    `sys` (`master.sys.certificates`), and `msdb`'s tables as msdb's `dbo`."""
    conn = pyodbc.connect(f"DRIVER={{SQLite3}};Database={tmp_path / 'main.sqlite'}",
                          autocommit=True)
    conn.execute(f"ATTACH DATABASE '{sys_file}' AS sys")
    conn.execute(f"ATTACH DATABASE '{sys_file}' AS \"{schema_alias('master', 'sys')}\"")
    if msdb is not None:
        conn.execute(f"ATTACH DATABASE '{msdb}' AS \"{schema_alias('msdb', 'dbo')}\"")
    return conn


def query(conn: Any, name: str, *params: Any) -> list[dict[str, Any]]:
    """A query file, as the simulated SQL Server would run it."""
    return sql.fetch(conn, to_sqlite(sql.query_text(name)), params)


class TranspilingConnection:
    """A pyodbc connection that reads what it is sent as T-SQL, as the simulated server
    does: the adapter's own statements reach the ODBC driver as SQLite."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def cursor(self) -> Any:
        return TranspilingCursor(self._connection.cursor())

    def close(self) -> None:
        self._connection.close()


class TranspilingCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, statement: str, *params: Any) -> Any:
        self._cursor.execute(to_sqlite(statement), *params)
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


# --- the .sql files, as written ----------------------------------------------------------------


def test_every_query_file_is_packaged_and_read_as_written() -> None:
    folder = resources.files("cockpit.estate.queries")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    assert names == ["ag_listener.sql", "ag_seeding_history.sql", "ag_seeding_modes.sql",
                     "ag_state.sql", "agent_job.sql", "agent_job_history.sql",
                     "agent_job_session.sql", "agent_jobs.sql", "agent_jobs_running.sql",
                     "backup_progress.sql", "backup_set.sql", "backup_sets.sql",
                     "certificates.sql",
                     "credentials.sql", "database_files.sql", "database_options.sql",
                     "database_state.sql", "database_users.sql", "linked_servers.sql",
                     "permission_held.sql", "redo_start.sql", "row_counts.sql",
                     "server_defaults.sql",
                     "server_logins.sql", "server_version.sql", "table_columns.sql",
                     "tde_databases.sql", "user_sessions.sql"]
    for name in names:
        assert sql.query_text(name.removesuffix(".sql")) == (folder / name).read_text()


def query_names() -> list[str]:
    folder = resources.files("cockpit.estate.queries")
    return sorted(p.name.removesuffix(".sql") for p in folder.iterdir()
                  if p.name.endswith(".sql"))


@pytest.mark.parametrize("name", query_names())
def test_each_query_file_is_one_select_in_tsql(name: str) -> None:
    """Parsed by sqlglot's T-SQL dialect without an error, one SELECT, and transpiled to
    SQLite without its comments (the ODBC driver takes a quote in a comment for a string
    and miscounts the `?` after it)."""
    text = sql.query_text(name)
    trees = sqlglot.parse(text, read="tsql")
    assert len(trees) == 1 and isinstance(trees[0], exp.Select), name
    sqlite = to_sqlite(text)
    assert "--" not in sqlite and "/*" not in sqlite
    assert sqlite.count("?") == text.count("?")


def test_the_queries_are_written_for_sql_server_not_for_sqlite() -> None:
    """TOP, three-part names and N'...' in the files; LIMIT and two-part msdb names gone."""
    texts = {name: sql.query_text(name) for name in query_names()}
    assert "SELECT TOP (1)" in texts["backup_set"]
    assert all("msdb.dbo." in texts[n] for n in ("backup_set", "backup_sets", "agent_jobs"))
    assert "master.sys.certificates" in texts["certificates"]
    assert "N'SQL_LOGIN'" in texts["server_logins"]
    assert not any("LIMIT" in text.upper() for text in texts.values())


# --- each query through ODBC -------------------------------------------------------------------


def test_logins_and_users_come_back_with_their_sids_as_bytes(
    pyodbc: Any, sim_sql: SimSqlEstate, tmp_path: Path,
) -> None:
    """varbinary SIDs: the users of a database and the logins of its instance compare as
    bytes, as pyodbc hands them from SQL Server."""
    source = sim_sql.servers["oms-db-dc"]
    logins = {r["login_name"]: r["sid"] for r in
              query(odbc_on(pyodbc, tmp_path, source.dmv_file), "server_logins")}
    users = {r["user_name"]: r["sid"] for r in query(
        odbc_on(pyodbc, tmp_path, source.require("OMS").catalog_file), "database_users")}
    assert set(logins) >= {"sa", "oms_app", "oms_reports"}
    assert {"dbo", "oms_app", "oms_reports"} <= set(users) and "guest" not in users
    assert all(isinstance(sid, bytes) for sid in [*logins.values(), *users.values()])
    assert users["oms_app"] == logins["oms_app"] and users["dbo"] == logins["sa"]


def test_agent_jobs_read_from_msdb_with_their_next_run(
    pyodbc: Any, sim_sql: SimSqlEstate, tmp_path: Path,
) -> None:
    source = sim_sql.servers["oms-db-dc"]
    conn = odbc_on(pyodbc, tmp_path, source.dmv_file, msdb=source.msdb_file)
    jobs = query(conn, "agent_jobs", "OMS")
    assert [(j["job_name"], j["enabled"]) for j in jobs] == [("oms_weekly_archive", 1)]
    assert isinstance(jobs[0]["next_run_date"], int) and jobs[0]["next_run_date"] > 20260000
    assert query(conn, "agent_jobs", "no_such_db") == []


def test_tde_thumbprints_and_certificates_come_back_as_bytes(
    pyodbc: Any, sim_sql: SimSqlEstate, tmp_path: Path,
) -> None:
    source = sim_sql.servers["oms-db-dc"]
    encrypted = query(odbc_on(pyodbc, tmp_path, source.dmv_file), "tde_databases")
    certificates = query(odbc_on(pyodbc, tmp_path, source.dmv_file), "certificates")
    assert [r["database_name"] for r in encrypted] == ["OMS"]
    assert isinstance(encrypted[0]["thumbprint"], bytes)
    assert {r["certificate_name"]: r["thumbprint"] for r in certificates} == {
        "OMS_TDE_Cert": encrypted[0]["thumbprint"]}


def test_server_objects_read_as_a_dba_prepared_them(pyodbc: Any, sim_sql: SimSqlEstate,
                                                    tmp_path: Path) -> None:
    source = sim_sql.servers["oms-db-dc"]
    dmvs = source.dmv_file
    options = {r["database_name"]: r for r in query(odbc_on(pyodbc, tmp_path, dmvs),
                                                     "database_options")}
    assert (options["OMS"]["recovery_model"], options["OMS"]["collation_name"]) == (
        "FULL", "SQL_Latin1_General_CP1_CI_AS")
    files = [(r["logical_name"], r["type_desc"], r["physical_name"])
             for r in query(odbc_on(pyodbc, tmp_path, dmvs), "database_files")
             if r["database_name"] == "OMS"]
    assert files == [("OMS", "ROWS", "D:\\Data\\OMS.mdf"),
                     ("OMS_log", "LOG", "L:\\Log\\OMS_log.ldf")]
    credentials = query(odbc_on(pyodbc, tmp_path, dmvs), "credentials")
    assert [(r["credential_name"], r["credential_identity"]) for r in credentials] == [
        ("s3://-/oms-cutover-backups", "S3 Access Key")]
    linked = query(odbc_on(pyodbc, tmp_path, dmvs), "linked_servers")
    assert [(r["server_name"], r["data_source"]) for r in linked] == [
        ("WMS", "wms-sql.dc1.retail.example")]  # the local server (is_linked 0) is not one


def test_the_backup_chain_reads_from_msdb_and_master_files(pyodbc: Any, sim_sql: SimSqlEstate,
                                                            tmp_path: Path) -> None:
    """msdb.dbo.backupset's LSNs (numeric(25,0)) and a RESTORING copy's redo_start_lsn."""
    source, target = sim_sql.servers["oms-db-dc"], sim_sql.servers["oms-sql-3"]
    source.connect().execute(r"BACKUP DATABASE [OMS] TO DISK = '\\b\odbc.bak' WITH CHECKSUM")
    target.connect().execute(r"RESTORE DATABASE [OMS] FROM DISK = '\\b\odbc.bak' "
                             "WITH NORECOVERY")
    conn = odbc_on(pyodbc, tmp_path, source.dmv_file, msdb=source.msdb_file)
    sets = query(conn, "backup_sets", "OMS")
    newest = sets[0]
    assert query(conn, "backup_set", "OMS", "\\\\b\\odbc.bak") == [newest]  # TOP (1)
    assert query(conn, "backup_set", "OMS", "\\\\b\\other.bak") == []
    assert (newest["backup_type"], newest["device"], newest["has_backup_checksums"]) == (
        "D", "\\\\b\\odbc.bak", 1)
    assert isinstance(newest["last_lsn"], int)  # never a float: an LSN has 17+ digits
    assert newest["first_lsn"] < newest["last_lsn"]
    redo = query(odbc_on(pyodbc, tmp_path, target.dmv_file), "redo_start", "OMS")
    assert {(r["state"], r["redo_start_lsn"]) for r in redo} == {
        ("RESTORING", newest["last_lsn"])}  # each file's, data and log
    target.connect().execute("RESTORE DATABASE [OMS] WITH RECOVERY")
    online = query(odbc_on(pyodbc, tmp_path, target.dmv_file), "redo_start", "OMS")
    assert {(r["state"], r["redo_start_lsn"]) for r in online} == {("ONLINE", None)}
    target.connect().execute("DROP DATABASE [OMS]")


def test_the_listener_and_seeding_read_on_the_primary(pyodbc: Any, sim_sql: SimSqlEstate,
                                                     tmp_path: Path) -> None:
    dmvs = sim_sql.servers["oms-sql-1"].dmv_file
    listener = query(odbc_on(pyodbc, tmp_path, dmvs), "ag_listener", "oms-ag")
    assert {(r["dns_name"], r["port"], r["ip_address"], r["state_desc"]) for r in listener} == {
        ("oms-ag-listener.oms.retail.example", 1433, "10.60.1.50", "ONLINE"),
        ("oms-ag-listener.oms.retail.example", 1433, "10.60.2.50", "OFFLINE")}
    modes = query(odbc_on(pyodbc, tmp_path, dmvs), "ag_seeding_modes", "oms-ag")
    assert {r["replica_name"]: r["seeding_mode"] for r in modes} == {
        "OMS-SQL-1": "AUTOMATIC", "OMS-SQL-2": "AUTOMATIC", "OMS-SQL-3": "AUTOMATIC"}
    history = query(odbc_on(pyodbc, tmp_path, dmvs), "ag_seeding_history", "oms-ag")
    canary = [(r["replica_name"], r["current_state"]) for r in history][:2]
    assert canary == [("OMS-SQL-2", "COMPLETED"), ("OMS-SQL-3", "COMPLETED")]
    assert query(odbc_on(pyodbc, tmp_path, dmvs), "ag_listener", "no-such-ag") == []


def test_ag_state_reads_every_replica_typed(pyodbc: Any, primary: SimSqlServer,
                                            tmp_path: Path) -> None:
    rows = query(odbc_on(pyodbc, tmp_path, primary.dmv_file), "ag_state", "oms-ag")
    by_replica = {r["replica"]: r for r in rows}
    assert set(by_replica) == {"OMS-SQL-1", "OMS-SQL-2", "OMS-SQL-3"}
    assert by_replica["OMS-SQL-1"]["role"] == "PRIMARY"
    assert by_replica["OMS-SQL-2"]["role"] == "SECONDARY"
    assert {r["database_name"] for r in rows} == {"OMS"}
    assert by_replica["OMS-SQL-2"]["sync_state"] == "SYNCHRONIZED"
    assert by_replica["OMS-SQL-3"]["availability_mode"] == "ASYNCHRONOUS_COMMIT"
    assert by_replica["OMS-SQL-3"]["sync_state"] == "SYNCHRONIZING"
    assert by_replica["OMS-SQL-3"]["sync_health"] == "HEALTHY"
    for row in rows:
        assert row["connected_state"] == "CONNECTED"
        assert isinstance(row["log_send_queue_kb"], int)
        assert isinstance(row["redo_queue_kb"], int)
    assert query(odbc_on(pyodbc, tmp_path, primary.dmv_file), "ag_state", "no-such-ag") == []


def test_backup_progress_reads_percent_eta_and_start(pyodbc: Any, sim_sql: SimSqlEstate,
                                                     tmp_path: Path) -> None:
    source = sim_sql.servers["oms-db-dc"]
    request = Request(source.connect(), "BACKUP DATABASE", source.require("OMS"), 60.0)
    request.progress(0.4)
    try:
        rows = query(odbc_on(pyodbc, tmp_path, source.dmv_file), "backup_progress")
    finally:
        request.end()
    assert len(rows) == 1
    row = rows[0]
    assert (row["command"], row["database_name"]) == ("BACKUP DATABASE", "OMS")
    assert isinstance(row["percent_complete"], float) and row["percent_complete"] == 40.0
    assert isinstance(row["estimated_completion_ms"], int)
    assert 0 < row["estimated_completion_ms"] <= 36_000
    assert isinstance(row["start_time"], datetime)
    assert isinstance(row["session_id"], int)


def test_user_sessions_are_grouped_by_host_program_and_address(
    pyodbc: Any, sim_sql: SimSqlEstate, tmp_path: Path,
) -> None:
    # SQLite has no @@SPID: the session id goes in as the simulated server puts it
    text = with_spid(sql.query_text("user_sessions"), 1)
    rows = sql.fetch(odbc_on(pyodbc, tmp_path, sim_sql.servers["oms-db-dc"].dmv_file), text,
                     ["OMS"])
    program = ".Net SqlClient Data Provider"
    assert [(r["host_name"], r["program_name"], r["client_net_address"], r["sessions"])
            for r in rows] == [("oms-app-1", program, "10.60.1.11", 2),
                               ("oms-app-2", program, "10.60.2.11", 2)]
    assert all(isinstance(r["sessions"], int) for r in rows)


def test_database_state_reads_flags_as_bools_and_size_as_pages(
    pyodbc: Any, sim_sql: SimSqlEstate, tmp_path: Path,
) -> None:
    source = sim_sql.servers["oms-db-dc"]
    rows = query(odbc_on(pyodbc, tmp_path, source.dmv_file), "database_state", "OMS")
    assert len(rows) == 1
    row = rows[0]
    assert (row["state"], row["user_access"], row["recovery_model"]) == (
        "ONLINE", "MULTI_USER", "FULL")
    assert row["is_read_only"] is False
    assert isinstance(row["size_pages"], int) and row["size_pages"] > 1000


def test_row_counts_read_the_databases_catalog(pyodbc: Any, sim_sql: SimSqlEstate,
                                               tmp_path: Path) -> None:
    db: SimDatabase = sim_sql.servers["oms-db-dc"].require("OMS")
    rows = query(odbc_on(pyodbc, tmp_path, db.catalog_file), "row_counts")
    assert [(r["schema_name"], r["table_name"], r["row_count"]) for r in rows] == [
        ("dbo", "customers", 600), ("dbo", "cutover_sentinel", 0), ("dbo", "order_lines", 4581),
        ("dbo", "orders", 1500)]


# --- the adapter, over a real ODBC connection ---------------------------------------------------


class SpidAnswered:
    """A pyodbc connection whose statements have @@SPID answered before SQLite sees them
    (SQLite has no such function), as the simulated SQL Server answers it: session 1."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def cursor(self) -> Any:
        return _SpidCursor(self._conn.cursor())

    def close(self) -> None:
        self._conn.close()


class _SpidCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, statement: str, *params: Any) -> Any:
        return self._cursor.execute(with_spid(statement, 1), *params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def odbc_handle(plan: Plan, pyodbc: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                attach: dict[str, Path]) -> EstateHandle:
    """A handle whose endpoints connect with the adapter's own `connect_odbc` (the DSN from
    the plan's environment variable), then attach the sim's DMVs as `sys`."""
    def connect(endpoint_id: str) -> Callable[[], Any]:
        endpoint = next(e for e in plan.estate.sql if e.id == endpoint_id)

        def factory() -> Any:
            conn = sql.connect_odbc(endpoint)
            conn.execute(f"ATTACH DATABASE '{attach[endpoint_id]}' AS sys")
            return SpidAnswered(TranspilingConnection(conn))
        return factory

    for endpoint in plan.estate.sql:
        monkeypatch.setenv(endpoint.dsn_env,
                           f"DRIVER={{SQLite3}};Database={tmp_path / endpoint.id}.sqlite")
    return EstateHandle(plan.estate, Endpoints(
        sql_connect={e: connect(e) for e in attach}), read_only=True)


def test_the_adapter_reads_snapshots_through_pyodbc(
    pyodbc: Any, plan: Plan, sim_sql: SimSqlEstate, primary: SimSqlServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handle = odbc_handle(plan, pyodbc, tmp_path, monkeypatch, {
        "oms-db-dc": sim_sql.servers["oms-db-dc"].dmv_file, "oms-sql-1": primary.dmv_file})
    ag = sql.ag_state(handle, "oms-ag")
    assert ag.error is None
    assert [(r.replica, r.role, r.sync_state) for r in ag.for_database("OMS")] == [
        ("OMS-SQL-1", "PRIMARY", "SYNCHRONIZED"), ("OMS-SQL-2", "SECONDARY", "SYNCHRONIZED"),
        ("OMS-SQL-3", "SECONDARY", "SYNCHRONIZING")]
    sessions = sql.user_sessions(handle, "oms-db-dc", "OMS")
    assert (sessions.error, sessions.total) == (None, 4)
    state = sql.database_state(handle, "oms-db-dc", "OMS")
    assert (state.error, state.exists, state.is_read_only) == (None, True, False)
    assert state.size_bytes == state.size_pages * 8192 if state.size_pages else False
    assert sql.backup_progress(handle, "oms-db-dc").requests == []


def test_a_missing_driver_says_what_to_install_and_never_the_dsn(
    pyodbc: Any, plan: Plan, monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "Winter2024!xyz"
    monkeypatch.setenv("OMS_DC_DSN", f"DRIVER={{ODBC Driver 18 for SQL Server}};"
                                     f"SERVER=sql-dc1;UID=cutover;PWD={secret}")
    handle = EstateHandle(plan.estate, Endpoints(), read_only=True)
    snap = sql.database_state(handle, "oms-db-dc", "OMS")
    assert snap.error is not None
    assert "msodbcsql18" in snap.error and "tdsodbc" in snap.error and "unixodbc" in snap.error
    assert "SQLite3" in snap.error  # the drivers that are installed
    assert secret not in snap.error and "SERVER=sql-dc1" not in snap.error


def test_a_refused_login_is_an_error_value_without_the_password(
    pyodbc: Any, plan: Plan, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    secret = "S3cretPass-77"
    folder = tmp_path / "no-such-folder"  # SQLite cannot create a file here: the login fails
    monkeypatch.setenv("OMS_DC_DSN", f"DRIVER={{SQLite3}};Database={folder}/x.db;"
                                     f"NoCreat=1;PWD={secret}")
    handle = EstateHandle(plan.estate, Endpoints(), read_only=True)
    snap = sql.ag_state(handle, "oms-ag")  # reads through oms-sql-1: its variable is unset
    assert snap.error is not None and "OMS_SQL1_DSN is not set" in snap.error
    sessions = sql.user_sessions(handle, "oms-db-dc", "OMS")
    assert sessions.error is not None and "oms-db-dc" in sessions.error
    assert secret not in sessions.error
    assert not re.search(r"PWD=[^*]", sessions.error)


# --- without ODBC at all --------------------------------------------------------------------------

IMPORT_CHECK = """
import sys
import cockpit.estate.sql, cockpit.estate.s3, cockpit.runner.kinds.sql
import cockpit.runner.kinds.s3, cockpit.runner.panes
print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyodbc', 'textual')))
"""


def test_the_adapter_imports_neither_pyodbc_nor_textual_until_a_real_endpoint_is_used() -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-c", IMPORT_CHECK], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


def test_without_unixodbc_the_error_says_what_to_install(
    plan: Plan, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pyodbc", None)  # `import pyodbc` now fails, as without
    monkeypatch.setenv("OMS_DC_DSN", "DRIVER={ODBC Driver 18 for SQL Server};PWD=hunter22")
    with pytest.raises(sql.SqlUnavailable) as missing:
        sql.connect_odbc(plan.estate.sql[0])
    assert "unixodbc" in str(missing.value) and "msodbcsql18" in str(missing.value)
    assert "hunter22" not in str(missing.value)
    snap = sql.backup_progress(EstateHandle(plan.estate, Endpoints(), read_only=True),
                               "oms-db-dc")
    assert snap.error is not None and "unixodbc" in snap.error


def test_without_the_driver_these_tests_skip_unless_ci_requires_them(tmp_path: Path) -> None:
    """An empty ODBCSYSINI hides every driver from unixODBC, as on a machine without
    libsqliteodbc."""
    import subprocess

    def run(**env: str) -> str:
        command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                   str(Path(__file__)), "-k", "ag_state_reads"]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "ODBCSYSINI": str(tmp_path), **env})
        return done.stdout

    assert "1 skipped" in run(COCKPIT_REQUIRE_ODBC="0")
    required = run(COCKPIT_REQUIRE_ODBC="1")
    assert "1 error" in required and "COCKPIT_REQUIRE_ODBC=1 but" in required
