"""The simulated SQL Server over loopback TCP (`cockpit.sim.sql_wire`), for drivers in
another process: the production queries answer as in-process, errors cross intact, a
hostile name stays one name, a dead server is an error value, a dropped or vanished client
kills its backup and leaves the upload. That a served sim rehearses Phase Two end to end
from another process is `tests/e2e/test_sim_served.py`.

Real sockets throughout; the only waiting is `eventually`'s bounded polling and the
timeouts under test."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from support.audit import log_entries, started_steps
from support.estate import driver_session, running_sim
from support.plans import ROOT, load
from support.waiting import eventually

from cockpit.estate import s3, sql, tsql
from cockpit.estate.handle import Endpoints, EstateHandle
from cockpit.plan.models import Plan
from cockpit.sim.backup_engine import Throughput
from cockpit.sim.estate import SimEstate
from cockpit.sim.faults import FaultError, FaultSet, parse_fault
from cockpit.sim.oms_data import oms_database_bytes
from cockpit.sim.serve import read_endpoints, write_endpoints
from cockpit.sim.sql_backup import PART_BYTES, Request
from cockpit.sim.sql_errors import LinkFailure, SimSqlError
from cockpit.sim.sql_estate import AppView, SimSqlEstate
from cockpit.sim.sql_wire import SqlWireServer
from cockpit.sim.sql_wire_client import VERSION, WireConnection, send_frame
from cockpit.sim.sqlserver import SimSqlServer

PHASE_TWO = ROOT / "plans" / "oms-phase2-simple.toml"
APPS = ["oms-app-1", "oms-app-2"]
ENDPOINTS = ["oms-db-dc", "oms-sql-1"]
BUCKET = "oms-cutover-backups"
KEY = "oms/OMS-phase2-full.bak"
SPEED = 100.0


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load(PHASE_TWO)


# --- the SQL side alone, in-process and over the wire side by side ---------------------------


@pytest.fixture(scope="module")
def sim_sql(plan: Plan) -> Iterator[SimSqlEstate]:
    """The sim's SQL side without AWS: apps running on the source, OMS seeded in the AG."""
    estate = SimSqlEstate(plan.estate, speed=1.0, faults=FaultSet(), s3=None, s3_host="-",
                          apps=AppView(running_apps=lambda: APPS,
                                       resolve=lambda name: "sql-dc1.dc1.retail.example."),
                          # the apps hold sessions but take no order: the data stands still
                          throughput=Throughput(log_mb_per_min=0.0))
    estate.start()
    primary = estate.servers["oms-sql-1"]
    ag = estate.ags["oms-ag"]
    ag.add_database(primary, primary.add_database("OMS", oms_database_bytes()))
    for row in ag.databases["oms"].values():
        row.started -= 3600  # seeded long ago: the AG's rows stand still
    estate.tick()
    yield estate
    estate.stop()


@pytest.fixture(scope="module")
def wires(sim_sql: SimSqlEstate) -> Iterator[dict[str, SqlWireServer]]:
    served = {e: SqlWireServer(sim_sql.servers[e], longest_statement_s=1.0) for e in ENDPOINTS}
    for wire in served.values():
        wire.start()
    yield served
    for wire in served.values():
        wire.stop()


def in_process(plan: Plan, sim_sql: SimSqlEstate, *, read_only: bool = True) -> EstateHandle:
    return EstateHandle(plan.estate, Endpoints(sql_connect={
        e: sim_sql.connector(e) for e in ENDPOINTS}), read_only=read_only)


def wire_connect(addresses: dict[str, tuple[str, int]]) -> dict[str, Any]:
    """`Endpoints.sql_connect` reaching each SQL Server over loopback TCP, as a served
    sim's endpoints file is read back."""
    return {e: partial(WireConnection, host, port) for e, (host, port) in addresses.items()}


def over_wire(plan: Plan, wires: dict[str, SqlWireServer], *,
              read_only: bool = True) -> EstateHandle:
    return EstateHandle(plan.estate, Endpoints(sql_connect=wire_connect({
        e: w.address for e, w in wires.items()})), read_only=read_only)


def typed(rows: list[dict[str, Any]]) -> list[list[tuple[str, Any, type]]]:
    return [[(name, value, type(value)) for name, value in row.items()] for row in rows]


def both_ways(plan: Plan, sim_sql: SimSqlEstate, wires: dict[str, SqlWireServer],
              endpoint: str, *statements: tuple[str, list[Any]]) -> list[Any]:
    """What the statements answer (rows with their types, description, rowcount) in
    process and over the wire, on one connection each."""
    answers = []
    for handle in (in_process(plan, sim_sql), over_wire(plan, wires)):
        with sql.connection(handle, endpoint) as conn:
            seen = []
            for statement, params in statements:
                cursor = conn.cursor()
                if params:
                    cursor.execute(statement, params)
                else:
                    cursor.execute(statement)
                description = cursor.description
                rowcount = cursor.rowcount
                seen.append((typed([dict(zip([c[0] for c in description or ()], row,
                                             strict=True)) for row in cursor.fetchall()]),
                             description, rowcount, cursor.nextset()))
            answers.append(seen)
    return answers


def test_the_production_queries_answer_the_same_through_the_wire(
    plan: Plan, sim_sql: SimSqlEstate, wires: dict[str, SqlWireServer],
) -> None:
    source = sim_sql.servers["oms-db-dc"]
    request = Request(source.connect(), "BACKUP DATABASE", source.require("OMS"), 60.0)
    request.progress(0.4)
    try:
        checks = [
            ("oms-sql-1", [(sql.query_text("ag_state"), ["oms-ag"])]),
            ("oms-db-dc", [(sql.query_text("backup_progress"), [])]),
            ("oms-db-dc", [(sql.query_text("database_state"), ["OMS"])]),
            ("oms-db-dc", [(sql.query_text("user_sessions"), ["OMS"])]),
            ("oms-db-dc", [(tsql.use_database("OMS"), []), (sql.query_text("row_counts"), [])]),
            ("oms-db-dc", [(tsql.count_rows("OMS", tsql.TableName.parse("dbo.orders")), []),
                           (tsql.checksum_table("OMS", tsql.TableName.parse("dbo.orders"),
                                                ["order_id", "status"]), [])]),
        ]
        for endpoint, statements in checks:
            local, remote = both_ways(plan, sim_sql, wires, endpoint, *statements)
            assert remote == local, statements[-1][0]
            assert any(rows for rows, *_ in local), statements[-1][0]  # compared something
    finally:
        request.end()

    # And so the adapter's snapshots are the same, moment of taking aside.
    here, there = in_process(plan, sim_sql), over_wire(plan, wires)
    oms = sql.database(here, "oms")
    for read in (lambda h: sql.ag_state(h, "oms-ag"),
                 lambda h: sql.database_state(h, "oms-db-dc", "OMS"),
                 lambda h: sql.user_sessions(h, "oms-db-dc", "OMS"),
                 lambda h: sql.table_data(h, "oms-db-dc", oms)):
        local, remote = read(here), read(there)
        assert local.error is None
        assert remote.model_dump(exclude={"taken_at"}) == local.model_dump(exclude={"taken_at"})


def test_values_cross_with_their_types(tmp_path: Path) -> None:
    server = SimSqlServer("TYPES", tmp_path / "types")
    aware = datetime(2025, 3, 9, 2, 30, 15, 123000, tzinfo=UTC)
    sent = (aware.replace(tzinfo=None), aware, b"\x00\xff'", Decimal("1234.5600"), None,
            1.5, float("inf"), 2 ** 62, "o'brien]", True)
    server.handler = lambda conn, statement: [sent, sent]
    wire = SqlWireServer(server, longest_statement_s=1.0)
    wire.start()
    try:
        conn = WireConnection(*wire.address)
        cursor = conn.cursor().execute(tsql.set_read_only("OMS")[0])  # the handler answers
        assert cursor.description == ((("", int, None, None, None, None, True),))
        rows = cursor.fetchall()
        assert rows == [sent, sent]
        assert [type(v) for v in rows[0]] == [type(v) for v in sent]
        assert rows[0][1].tzinfo == UTC

        params = [b"\x00\xff", None, 1.25, 2 ** 40, "o'brien", True]
        statement = "SELECT ? AS b, ? AS n, ? AS f, ? AS i, ? AS s, ? AS t"
        remote = conn.execute(statement, params).fetchone()
        local = server.connect().execute(statement, params).fetchone()
        assert remote == local and [type(v) for v in remote or ()] == [
            type(v) for v in local or ()]
        assert conn.cursor().execute("USE [master]").description is None
        conn.close()
        with pytest.raises(SimSqlError) as closed:
            conn.cursor()
        assert closed.value.args[0] == "08003"
    finally:
        wire.stop()
        server.close()


# --- errors --------------------------------------------------------------------------------------


def test_a_sql_server_error_crosses_the_wire_intact(
    plan: Plan, sim_sql: SimSqlEstate, wires: dict[str, SqlWireServer],
) -> None:
    server = sim_sql.servers["oms-db-dc"]
    if server.database("Restoring") is None:
        server.add_database("Restoring", None, state="RESTORING")
    url = tsql.s3_url("s3.example", BUCKET, KEY)
    refused = [
        "SHUTDOWN WITH NOWAIT",  # 102
        "SELECT * FROM sys.no_such_view",  # 208
        "USE [Nope]",  # 911
        "USE [Restoring]",  # 927, level 14
        tsql.backup_to_url("Restoring", [url]),  # 3201 (no credential for it) then 3013
        tsql.restore_from_url("OMS", [url], recovery=True),  # 3201 then 3013
    ]
    here, there = in_process(plan, sim_sql, read_only=False), over_wire(
        plan, wires, read_only=False)
    for statement in refused:
        errors = []
        for handle in (here, there):
            with sql.connection(handle, "oms-db-dc") as conn, \
                    pytest.raises(SimSqlError) as raised:
                conn.cursor().execute(statement)
            errors.append(raised.value)
        local, remote = errors
        assert type(remote) is type(local)
        assert (remote.number, remote.numbers, remote.messages, remote.args) == (
            local.number, local.numbers, local.messages, local.args), statement
        assert str(remote) == str(local)
        assert sql.describe_sql_error(there, remote) == sql.describe_sql_error(here, local)
    assert [len(e.messages) for e in errors] == [2, 2]  # the last: 3201, then 3013

    # The adapter's error values read the same either way.
    missing = sql.database(here, "oms").model_copy(update={"name": "Nope"})
    assert (sql.table_data(there, "oms-db-dc", missing).error
            == sql.table_data(here, "oms-db-dc", missing).error)
    assert "Msg 911" in (sql.table_data(there, "oms-db-dc", missing).error or "")
    # The session lives on after an error, with its database.
    with sql.connection(there, "oms-db-dc") as conn:
        sql.run(conn, tsql.use_database("OMS"))
        with pytest.raises(SimSqlError):
            conn.cursor().execute("SELECT * FROM sys.no_such_view")
        assert sql.scalar(conn, "SELECT COUNT(*) AS n FROM sys.tables") == 4  # still in OMS


def test_a_hostile_name_is_one_name_over_the_wire(
    plan: Plan, sim_sql: SimSqlEstate, wires: dict[str, SqlWireServer],
) -> None:
    hostile = "o'brien];DROP DATABASE [OMS"
    server = sim_sql.servers["oms-db-dc"]
    server.add_database(hostile, server.require("OMS").data_file.read_bytes())
    handle = over_wire(plan, wires, read_only=False)
    sql.set_read_only(handle, "oms-db-dc", hostile)
    state = sql.database_state(handle, "oms-db-dc", hostile)
    assert (state.exists, state.is_read_only) == (True, True)
    sql.execute(handle, "oms-db-dc", "test", [tsql.drop_database(hostile)])
    assert sql.database_state(handle, "oms-db-dc", hostile).exists is False
    assert sql.database_state(handle, "oms-db-dc", "x' OR 1=1 --").exists is False
    assert sql.database_state(handle, "oms-db-dc", "OMS").exists is True
    assert sql.database_state(handle, "oms-db-dc", "OMS").is_read_only is False


# --- servers that are gone, or never answer ----------------------------------------------------


def test_a_dead_server_is_a_link_failure_value_not_an_exception(
    plan: Plan, sim_sql: SimSqlEstate,
) -> None:
    wire = SqlWireServer(sim_sql.servers["oms-db-dc"], longest_statement_s=1.0)
    wire.start()
    handle = EstateHandle(plan.estate,
                          Endpoints(sql_connect=wire_connect({"oms-db-dc": wire.address})),
                          read_only=True)
    open_before = WireConnection(*wire.address)
    assert sql.database_state(handle, "oms-db-dc", "OMS").exists is True
    wire.stop()

    with pytest.raises(LinkFailure) as refused:
        WireConnection(*wire.address)
    assert refused.value.args[0] == "08S01" and refused.value.number == 10061
    snapshot = sql.database_state(handle, "oms-db-dc", "OMS")
    assert snapshot.exists is False
    assert "Communication link failure" in (snapshot.error or "")
    assert "actively refused" in (snapshot.error or "")
    assert "Communication link failure" in (sql.backup_progress(handle, "oms-db-dc").error or "")

    # A connection made before the server died learns it at its next statement.
    with pytest.raises(LinkFailure) as dropped:
        open_before.cursor().execute("SELECT 1 AS one")
    assert dropped.value.args[0] == "08S01" and dropped.value.number == 10054
    with pytest.raises(SimSqlError) as closed:
        open_before.cursor()
    assert closed.value.args[0] == "08003"


@contextmanager
def mute_server(*, hello: bool) -> Iterator[tuple[str, int]]:
    """A listener that never says hello, or says it and then never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)
        if hello:
            send_frame(conn, {"hello": "cockpit-sim-sql", "version": VERSION, "server": "MUTE",
                              "session_id": 51, "longest_statement_s": 0.0})
        done.wait()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[:2]
    finally:
        done.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        listener.close()


def test_a_server_that_never_answers_times_out_instead_of_hanging() -> None:
    with mute_server(hello=False) as address, pytest.raises(LinkFailure) as silent:
        WireConnection(*address, login_timeout=0.3)
    assert silent.value.args[0] == "08S01" and silent.value.number == 10060
    with mute_server(hello=True) as address:
        conn = WireConnection(*address, read_timeout=0.3)
        assert (conn.server_name, conn.session_id) == ("MUTE", 51)
        with pytest.raises(SimSqlError) as slow:
            conn.cursor().execute("SELECT 1 AS one")
        assert slow.value.args[0] == "HYT00"


# --- the whole sim: served endpoints, dropped and vanished clients -----------------------------


def wire_handle(plan: Plan, sim: SimEstate) -> EstateHandle:
    """A handle that reaches the sim's SQL Servers only over the wire, as `--sim-endpoints`."""
    return EstateHandle(plan.estate, replace(sim.endpoints(),
                                             sql_connect=wire_connect(sim.sql_servers())),
                        read_only=False)


def test_sql_drop_at_fails_phase_two_at_the_backup_with_a_link_failure(
    plan: Plan, tmp_path: Path,
) -> None:
    from cockpit.session.rehearsal import rehearse

    with running_sim(plan, speed=SPEED, faults=["sql-drop-at=40"]) as (sim, in_proc):
        handle = wire_handle(plan, sim)
        session = driver_session(PHASE_TWO, handle, tmp_path / "session", time_scale=SPEED,
                                 confirm_manual=lambda instruction: "rehearsal")
        runner = session.runner
        try:
            result = rehearse(runner)
        finally:
            session.close()
        handle.close()
        assert result.stopped_at == "backup"
        failed = [e for e in log_entries(runner.folder)
                  if e.event == "step.failed" and e.step == "backup"][-1].detail
        reason = str(failed["reason"])
        link = ("Msg 10054, Level 20, State 0: TCP Provider: An existing connection was "
                "forcibly closed by the remote host. Communication link failure")
        assert f"failed: {link}; orphaned" in reason, reason
        assert "orphaned multipart upload" in reason
        listed = sim.client("s3").list_multipart_uploads(Bucket=BUCKET)["Uploads"]
        assert [(o["key"], o["upload_id"], o["parts"], o["bytes"])
                for o in failed["evidence"]["orphaned_uploads"]] == [
            (KEY, listed[0]["UploadId"], 1, PART_BYTES)]
        assert "restore" not in started_steps(runner.folder)
        assert sql.backup_progress(in_proc, "oms-db-dc").requests == []  # the session's gone

        # In-process, the SimConnection raises the same error at the same percent.
        with pytest.raises(LinkFailure) as dropped:
            sql.backup_to_url(in_proc, "oms-db-dc", "OMS", BUCKET, ["oms/again.bak"])
        assert sql.describe_sql_error(in_proc, dropped.value) == link
        assert [(u.key, u.parts) for u in s3.open_uploads(in_proc, BUCKET, "oms/again.bak")
                ] == [("oms/again.bak", 1)]


def test_a_client_that_vanishes_mid_backup_kills_its_session(plan: Plan) -> None:
    with running_sim(plan, speed=20.0) as (sim, in_proc):
        endpoints, servers = sim.endpoints(), sim.sql_servers()
        assert set(servers) == {e.id for e in plan.estate.sql}  # each endpoint served
        assert endpoints.sql_disk_root and Path(endpoints.sql_disk_root).parent.is_dir()
        conn = WireConnection(*servers["oms-db-dc"])
        outcome: list[BaseException] = []

        def backup() -> None:
            url = tsql.s3_url(sql.s3_host(in_proc), BUCKET, KEY)
            try:
                conn.cursor().execute(tsql.backup_to_url("OMS", [url], plan.estate.region))
            except BaseException as exc:  # handed to the test
                outcome.append(exc)

        running = threading.Thread(target=backup, daemon=True)
        running.start()
        eventually(lambda: s3.open_uploads(in_proc, BUCKET, KEY),
                   lambda uploads: bool(uploads) and uploads[0].parts >= 1,
                   within=30, what="the backup's first part in S3")
        assert running.is_alive()  # the statement blocks its client, as on a server
        conn.close()  # the client goes, mid-statement
        running.join(10)
        assert not running.is_alive() and isinstance(outcome[0], LinkFailure)
        eventually(lambda: sql.backup_progress(in_proc, "oms-db-dc").requests,
                   lambda requests: requests == [], what="the killed backup gone")
        left = s3.backup_objects(in_proc, "oms-backups", KEY)
        assert left.objects == [] and len(left.uploads) == 1


def test_the_endpoints_file_carries_the_sql_servers(plan: Plan, tmp_path: Path) -> None:
    endpoints = Endpoints(aws_endpoint_url="http://127.0.0.1:1", resolvers={"r": ("h", 53)},
                          sql_connect={"oms-db-dc": object},
                          sql_disk_root="/tmp/disks", label="simulated",
                          credentials_are_secret=False)
    path = tmp_path / "endpoints.json"
    write_endpoints(endpoints, path, {
        "speed": 2.0, "sql_servers": {"oms-db-dc": ("127.0.0.1", 1433)}})
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert json.loads(path.read_text())["sql_servers"] == {"oms-db-dc": ["127.0.0.1", 1433]}
    back = read_endpoints(path)
    # The in-process factory is not written; the file's address is read back as one.
    assert replace(back, sql_connect={}) == replace(endpoints, sql_connect={})
    factory = back.sql_connect["oms-db-dc"]
    assert isinstance(factory, partial) and factory.func is WireConnection
    assert (factory.args, factory.keywords) == (("127.0.0.1", 1433), {})
    assert set(back.sql_connect) == {"oms-db-dc"}
    path.write_text(json.dumps({"sql_servers": {"oms-db-dc": "nowhere"}}))
    with pytest.raises(ValueError, match="sql_servers must map ids"):
        read_endpoints(path)


def test_sql_drop_at_takes_a_percent(plan: Plan) -> None:
    assert str(parse_fault("sql-drop-at=40", plan.estate)) == "sql-drop-at=40"
    for text in ("sql-drop-at=0", "sql-drop-at=100", "sql-drop-at=forty"):
        with pytest.raises(FaultError, match="between 0 and 100"):
            parse_fault(text, plan.estate)
