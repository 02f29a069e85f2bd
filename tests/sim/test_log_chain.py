"""The simulated SQL Server's log chain, statement by statement, as a DBA would type them:
full, differential and log backups with the LSNs msdb records, restores that roll forward
only in order, the tail-log fence, and the refusals SQL Server documents (each asserted by
its message number and the words a DBA searches for)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.estate import sql_side
from support.plans import PHASE_TWO, load

from cockpit.sim.sql_errors import SimSqlError
from cockpit.sim.sql_estate import AppView, SimSqlEstate
from cockpit.sim.sqlserver import SimConnection


@pytest.fixture
def estate() -> Iterator[SimSqlEstate]:
    """The SQL side alone, at a speed where each statement takes a blink."""
    sim = sql_side(load(PHASE_TWO), speed=1000.0)
    yield sim
    sim.stop()


def run(conn: SimConnection, statement: str) -> list[tuple[Any, ...]]:
    return conn.cursor().execute(statement).fetchall()


def refused(conn: SimConnection, statement: str) -> SimSqlError:
    with pytest.raises(SimSqlError) as caught:
        run(conn, statement)
    return caught.value


def backupset(conn: SimConnection) -> list[dict[str, Any]]:
    """msdb.dbo.backupset of OMS, oldest first, read as a client reads it."""
    run(conn, "USE [msdb]")
    cursor = conn.cursor().execute(
        "SELECT type, first_lsn, last_lsn, checkpoint_lsn, database_backup_lsn, "
        "differential_base_lsn, is_copy_only, is_force_offline FROM dbo.backupset "
        "WHERE database_name = 'OMS' ORDER BY backup_set_id")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    run(conn, "USE [master]")
    return rows


def write_log(estate: SimSqlEstate, size: int = 4096) -> None:
    """The stores write some orders: the log of OMS grows."""
    estate.servers["oms-db-dc"].require("OMS").log.write(size)


def test_backups_record_the_lsns_of_the_chain(estate: SimSqlEstate) -> None:
    conn = estate.servers["oms-db-dc"].connect()
    run(conn, r"BACKUP DATABASE [OMS] TO DISK = '\\b\f1.bak' WITH CHECKSUM")
    write_log(estate)
    run(conn, r"BACKUP LOG [OMS] TO DISK = '\\b\l1.trn'")
    write_log(estate)
    run(conn, r"BACKUP DATABASE [OMS] TO DISK = '\\b\d1.dif' WITH DIFFERENTIAL")
    write_log(estate)
    run(conn, r"BACKUP LOG [OMS] TO DISK = '\\b\c1.trn' WITH COPY_ONLY")
    run(conn, r"BACKUP LOG [OMS] TO DISK = '\\b\l2.trn'")
    full, log1, diff, copy, log2 = backupset(conn)
    assert [r["type"] for r in (full, log1, diff, copy, log2)] == ["D", "L", "I", "L", "L"]
    assert log1["first_lsn"] == full["first_lsn"]  # the first full starts the log chain
    assert log1["first_lsn"] <= full["last_lsn"] < log1["last_lsn"]
    assert diff["differential_base_lsn"] == full["checkpoint_lsn"]
    assert log2["first_lsn"] == log1["last_lsn"]  # a copy-only log never moves the chain
    assert copy["is_copy_only"] == 1 and copy["first_lsn"] == log1["last_lsn"]
    assert {r["database_backup_lsn"] for r in (log1, diff, log2)} == {full["checkpoint_lsn"]}


def test_a_log_restored_out_of_order_is_refused_naming_the_lsns(estate: SimSqlEstate) -> None:
    source = estate.servers["oms-db-dc"].connect()
    target = estate.servers["oms-sql-1"].connect()
    run(source, r"BACKUP DATABASE [OMS] TO DISK = '\\b\f.bak'")
    for n in (1, 2, 3):
        write_log(estate)
        run(source, rf"BACKUP LOG [OMS] TO DISK = '\\b\l{n}.trn'")
    _full, log1, log2, _log3 = backupset(source)
    run(target, r"RESTORE DATABASE [OMS] FROM DISK = '\\b\f.bak' WITH NORECOVERY, "
                r"MOVE 'OMS' TO 'D:\Data\OMS.mdf', MOVE 'OMS_log' TO 'L:\Log\OMS_log.ldf'")
    run(target, r"RESTORE LOG [OMS] FROM DISK = '\\b\l1.trn' WITH NORECOVERY")
    error = refused(target, r"RESTORE LOG [OMS] FROM DISK = '\\b\l3.trn' WITH NORECOVERY")
    assert error.numbers == [4305, 3013]
    assert (f"begins at LSN {log2['last_lsn']}, which is too recent to apply to the database. "
            f"An earlier log backup that includes LSN {log1['last_lsn']} can be restored."
            in str(error))
    again = refused(target, r"RESTORE LOG [OMS] FROM DISK = '\\b\l1.trn' WITH NORECOVERY")
    assert again.numbers == [4326, 3013] and "too early" in str(again)
    run(target, r"RESTORE LOG [OMS] FROM DISK = '\\b\l2.trn' WITH NORECOVERY")
    run(target, r"RESTORE LOG [OMS] FROM DISK = '\\b\l3.trn' WITH NORECOVERY")
    run(target, "RESTORE DATABASE [OMS] WITH RECOVERY")
    assert estate.servers["oms-sql-1"].require("OMS").state == "ONLINE"
    after = refused(target, r"RESTORE LOG [OMS] FROM DISK = '\\b\l3.trn' WITH NORECOVERY")
    assert after.numbers == [3117, 3013]  # recovered: nothing more rolls forward


def test_the_tail_log_backup_fences_the_source_and_recovery_undoes_it(
    estate: SimSqlEstate,
) -> None:
    server = estate.servers["oms-db-dc"]
    conn = server.connect()
    no_chain = refused(conn, r"BACKUP LOG [OMS] TO DISK = '\\b\l0.trn' WITH NORECOVERY")
    assert no_chain.numbers == [4214, 3013]  # the first log backup needs a full before it
    run(conn, r"BACKUP DATABASE [OMS] TO DISK = '\\b\f.bak'")
    run(conn, r"BACKUP LOG [OMS] TO DISK = '\\b\tail.trn' WITH NORECOVERY")
    assert server.require("OMS").state == "RESTORING"
    assert backupset(conn)[-1]["is_force_offline"] == 1
    unreadable = refused(conn, "USE [OMS]")
    assert unreadable.number == 927  # in the middle of a restore: no reads, no writes
    run(conn, "RESTORE DATABASE [OMS] WITH RECOVERY")  # the rollback
    assert server.require("OMS").state == "ONLINE"


def test_what_sql_server_refuses_the_sim_refuses(estate: SimSqlEstate) -> None:
    conn = estate.servers["oms-db-dc"].connect()
    url = "s3://-/oms-cutover-backups/oms/x.bak"
    no_region = refused(conn, f"BACKUP DATABASE [OMS] TO URL = '{url}' WITH COMPRESSION")
    assert no_region.numbers == [3201, 3013] and "Access is denied" in str(no_region)
    mixed = refused(conn, r"BACKUP DATABASE [OMS] TO DISK = '\\b\x.bak' WITH NORECOVERY")
    assert mixed.numbers == [3032, 3013]  # NORECOVERY is for BACKUP LOG
    unknown = refused(conn, r"BACKUP DATABASE [OMS] TO DISK = '\\b\x.bak' WITH NOSUCHTHING")
    assert unknown.number == 155 and "'NOSUCHTHING' is not a recognized BACKUP option" in \
        str(unknown)
    estate.servers["oms-db-dc"].properties["ProductMajorVersion"] = "15"
    old = refused(conn, f"BACKUP DATABASE [OMS] TO URL = '{url}' WITH COMPRESSION, "
                        "BACKUP_OPTIONS = '{\"s3\": {\"region\": \"ap-southeast-2\"}}'")
    assert old.numbers == [3201, 3013]  # s3:// URLs are SQL Server 2022's


def test_a_backup_from_a_newer_server_is_refused_by_an_older_one(estate: SimSqlEstate) -> None:
    run(estate.servers["oms-db-dc"].connect(), r"BACKUP DATABASE [OMS] TO DISK = '\\b\f.bak'")
    older = estate.servers["oms-sql-2"]
    older.properties["ProductMajorVersion"] = "15"
    error = refused(older.connect(), r"RESTORE DATABASE [OMS] FROM DISK = '\\b\f.bak'")
    assert error.numbers == [3169, 3013]
    assert older.database("OMS") is None


def test_the_fence_needs_the_database_to_itself(estate: SimSqlEstate) -> None:
    """BACKUP LOG ... WITH NORECOVERY with the app servers' pools still connected."""
    conn = estate.servers["oms-db-dc"].connect()
    run(conn, r"BACKUP DATABASE [OMS] TO DISK = '\\b\f.bak'")
    estate.apps = AppView(running_apps=lambda: ["oms-app-1"],
                          resolve=lambda name: "sql-dc1.dc1.retail.example.")
    estate.tick()
    error = refused(conn, r"BACKUP LOG [OMS] TO DISK = '\\b\tail.trn' WITH NORECOVERY")
    assert error.numbers == [3101, 3013]
    assert estate.servers["oms-db-dc"].require("OMS").state == "ONLINE"


def test_the_backup_pane_says_how_far_behind_each_replica_is() -> None:
    """Per replica, where it has rolled forward to, and how much of the source's log it
    still lacks (msdb's sizes, never LSN arithmetic)."""
    from support.estate import running_sim
    from support.plans import PLANS

    from cockpit.runner.panes import probe_pane
    from cockpit.runner.state import derive

    plan = load(PLANS / "oms-phase2-database.toml")
    with running_sim(plan, speed=1000.0) as (sim, handle):
        assert sim.sql is not None
        source = sim.sql.servers["oms-db-dc"].connect()
        run(source, r"BACKUP DATABASE [OMS] TO DISK = '\\b\f.bak'")
        for replica in ("oms-sql-1", "oms-sql-2", "oms-sql-3"):
            run(sim.sql.servers[replica].connect(),
                r"RESTORE DATABASE [OMS] FROM DISK = '\\b\f.bak' WITH NORECOVERY")
        sim.sql.servers["oms-db-dc"].require("OMS").log.write(50 * 1024 * 1024)
        run(source, r"BACKUP LOG [OMS] TO DISK = '\\b\l1.trn'")
        run(sim.sql.servers["oms-sql-1"].connect(),
            r"RESTORE LOG [OMS] FROM DISK = '\\b\l1.trn' WITH NORECOVERY")
        view = probe_pane("backup", handle, plan, derive(plan, []))
    rows = {row.cells[0]: row for row in view.rows}
    assert view.error is None, view.error
    log_size = rows["last log @ oms-db-dc"].cells[6]  # the stores wrote while it ran, too
    assert int(log_size.removesuffix(" MB").replace(",", "")) >= 50
    assert rows["restoring @ oms-sql-1"].cells[4] == "caught up"
    assert rows["restoring @ oms-sql-1"].cells[2] == "100"  # every log shipped is restored
    for lagging in ("oms-sql-2", "oms-sql-3"):
        behind = rows[f"restoring @ {lagging}"]
        assert int(behind.cells[2]) < 100
        assert behind.status == "warn" and behind.cells[6] == f"{log_size} behind"
        assert behind.cells[4].startswith("behind ")
