"""The simulated SQL Server through the real adapters: a backup that moves and lands in S3
part by part, a restore, seeding through NOT SYNCHRONIZING and SYNCHRONIZING to
SYNCHRONIZED, the app servers following their database, and the T-SQL it refuses.

Tests that change the estate get a sim of their own (moto's backends are global)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.estate import running_sim
from support.plans import ROOT, load
from support.waiting import eventually

from cockpit.estate import http, s3, sql, tsql
from cockpit.estate.handle import Endpoints, EstateHandle, ReadOnlyError
from cockpit.plan.models import Plan
from cockpit.runner.panes import probe_pane
from cockpit.runner.state import RunState
from cockpit.sim.estate import SimEstate
from cockpit.sim.faults import FaultSet
from cockpit.sim.sql_backup import PART_BYTES
from cockpit.sim.sql_errors import SimSqlError
from cockpit.sim.sql_estate import AppView, SimSqlEstate

PHASE_TWO = ROOT / "plans" / "oms-phase2-simple.toml"
BUCKET = "oms-cutover-backups"
KEY = "oms/OMS-phase2-full.bak"  # the plan's, so the backup pane follows it
APPS = ["oms-app-1", "oms-app-2"]
SPEED = 80.0


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load(PHASE_TWO)


def no_run(plan: Plan) -> RunState:
    from cockpit.runner.state import derive

    return derive(plan, [])


class InThread:
    """A blocking call (a BACKUP, as on a real server) run aside, so the test can watch."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self.result = work()
        except BaseException as exc:  # handed to the test, which asserts on it
            self.error = exc

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float = 30) -> Any:
        self._thread.join(timeout)
        assert self.done, "the statement did not end"
        if self.error:
            raise self.error
        return self.result


def backup(handle: EstateHandle, key: str = KEY) -> InThread:
    return InThread(lambda: sql.backup_to_url(handle, "oms-db-dc", "OMS", BUCKET, [key]))


def expected_backup_bytes(sim: SimEstate) -> int:
    assert sim.sql is not None
    return sim.sql.servers["oms-db-dc"].require("OMS").data_pages() * 8192


# --- backup ------------------------------------------------------------------------------------


def test_the_backup_moves_and_lands_as_a_multipart_upload_then_an_object(plan: Plan) -> None:
    with running_sim(plan, speed=SPEED) as (sim, handle):
        sql.set_read_only(handle, "oms-db-dc", "OMS")
        running = backup(handle)
        mid = eventually(lambda: sql.backup_progress(handle, "oms-db-dc").requests,
                         lambda r: bool(r) and 10 < r[0].percent_complete < 90,
                         what="the backup part-way")
        assert mid[0].command == "BACKUP DATABASE" and mid[0].database == "OMS"
        assert mid[0].estimated_completion_ms and mid[0].start_time is not None
        uploading = eventually(lambda: s3.backup_objects(handle, "oms-backups", KEY),
                               lambda snap: bool(snap.uploads) and snap.uploads[0].parts >= 1,
                               what="parts arriving in S3")
        # whole parts only, however many have landed by the time this looks
        upload = uploading.uploads[0]
        assert uploading.objects == [] and upload.bytes == upload.parts * PART_BYTES
        pane = probe_pane("backup", handle, plan, no_run(plan))
        assert pane.error is None and pane.rows[0].cells[0] == "backup @ oms-db-dc"

        outputs = running.join()
        assert outputs["urls"] == [f"s3://{sim.aws_endpoint.split('://')[1]}/{BUCKET}/{KEY}"]
        landed = s3.backup_objects(handle, "oms-backups", KEY)
        size = expected_backup_bytes(sim)
        assert landed.uploads == [] and sql.backup_progress(handle, "oms-db-dc").requests == []
        assert [(o.key, o.size, o.parts) for o in landed.objects] == [
            (KEY, size, math.ceil(size / PART_BYTES))]
        assert 3 * PART_BYTES < size < 64 * 1024 * 1024
        done = probe_pane("backup", handle, plan, no_run(plan))
        assert [(r.status, r.cells[0]) for r in done.rows] == [("ok", f"in S3: {KEY}")]


def test_a_backup_failing_at_40_percent_leaves_its_upload_and_abort_clears_it(
    plan: Plan,
) -> None:
    with running_sim(plan, speed=SPEED, faults=["backup-fails-at=40"]) as (sim, handle):
        with pytest.raises(SimSqlError) as failed:
            backup(handle).join()
        assert failed.value.numbers == [3202, 3013]
        assert "BACKUP DATABASE is terminating abnormally" in str(failed.value)
        left = s3.open_uploads(handle, BUCKET, KEY)
        assert [(u.key, u.parts, u.bytes) for u in left] == [(KEY, 1, PART_BYTES)]
        pane = probe_pane("backup", handle, plan, no_run(plan))
        assert [(r.status, r.cells[0], r.cells[5]) for r in pane.rows] == [
            ("warn", f"open upload: {KEY}", "1")]

        aborted = s3.abort_multipart(handle, "oms-backups", KEY)
        assert [u["upload_id"] for u in aborted["aborted"]] == [left[0].upload_id]
        listed = sim.client("s3").list_multipart_uploads(Bucket=BUCKET)
        assert listed.get("Uploads", []) == []


def test_an_older_source_backs_up_to_disk_then_uploads_with_progress(plan: Plan) -> None:
    from cockpit.plan.models import BackupToDisk
    from cockpit.runner.actions import ActionContext, perform

    said: list[tuple[str, dict[str, Any]]] = []
    action = BackupToDisk(kind="sql.backup_to_disk", endpoint="oms-db-dc", database="oms",
                          path=r"\\backup01\sql\OMS.bak", bucket="oms-backups", key="disk/OMS.bak")
    with running_sim(plan, speed=SPEED) as (sim, handle):
        ctx = ActionContext(handle, lambda instruction: None,
                            lambda message, detail: said.append((message, detail)), 0.02)
        outputs = perform(action, ctx)
        size = Path(sql.local_path(handle, action.path)).stat().st_size  # as on the share
        assert outputs["statements"] == [
            "BACKUP DATABASE [OMS] TO DISK = '\\\\backup01\\sql\\OMS.bak' "
            "WITH FORMAT, COMPRESSION, CHECKSUM, STATS = 5"]
        assert outputs["upload"] == {"bucket": BUCKET, "key": "disk/OMS.bak", "bytes": size}
        messages = [message for message, _ in said]
        assert any(m.startswith("BACKUP DATABASE") for m in messages)
        assert messages[-1] == "upload disk/OMS.bak 100%"
        sql.restore_from_url(handle, "oms-sql-1", "OMS", BUCKET, ["disk/OMS.bak"],
                             recovery=True)
        assert sql.database_state(handle, "oms-sql-1", "OMS").state == "ONLINE"


# --- restore, the AG, and the app servers ------------------------------------------------------


def sync_states(handle: EstateHandle) -> dict[str, tuple[str | None, int | None]]:
    snap = sql.ag_state(handle, "oms-ag")
    assert snap.error is None, snap.error
    return {r.replica: (r.sync_state, r.log_send_queue_kb) for r in snap.for_database("OMS")}


def test_restore_then_seeding_reaches_synchronized_with_queues_draining(plan: Plan) -> None:
    with running_sim(plan, speed=SPEED) as (_sim, handle):
        sql.set_read_only(handle, "oms-db-dc", "OMS")
        backup(handle).join()
        sql.restore_from_url(handle, "oms-sql-1", "OMS", BUCKET, [KEY], recovery=True)
        restored = sql.database_state(handle, "oms-sql-1", "OMS")
        # A backup of a read-only, restricted source restores that way: set it read-write.
        assert (restored.state, restored.is_read_only, restored.user_access) == (
            "ONLINE", True, "RESTRICTED_USER")
        with pytest.raises(SimSqlError, match="online and read-write"):
            sql.add_to_ag(handle, "oms-sql-1", "oms-ag", "OMS", "automatic")
        sql.set_read_write(handle, "oms-sql-1", "OMS")
        sql.add_to_ag(handle, "oms-sql-1", "oms-ag", "OMS", "automatic")

        first = sync_states(handle)
        assert first["OMS-SQL-1"] == ("SYNCHRONIZED", 0)
        assert first["OMS-SQL-2"][0] == "NOT SYNCHRONIZING" and first["OMS-SQL-2"][1]
        seen = eventually(lambda: sync_states(handle),
                          lambda s: s["OMS-SQL-2"][0] == "SYNCHRONIZING",
                          what="OMS-SQL-2 synchronizing")
        assert 0 < (seen["OMS-SQL-2"][1] or 0) < (first["OMS-SQL-2"][1] or 0)
        pane = probe_pane("ag", handle, plan, no_run(plan))
        assert {r.cells[1]: r.status for r in pane.rows}["OMS-SQL-2"] in ("warn", "bad")
        final = eventually(lambda: sync_states(handle),
                           lambda s: s["OMS-SQL-2"][0] == "SYNCHRONIZED"
                           and s["OMS-SQL-3"][1] == 0, what="seeding done")
        assert final == {"OMS-SQL-1": ("SYNCHRONIZED", 0), "OMS-SQL-2": ("SYNCHRONIZED", 0),
                         "OMS-SQL-3": ("SYNCHRONIZING", 0)}  # asynchronous: healthy so
        pane = probe_pane("ag", handle, plan, no_run(plan))
        assert [(r.status, r.cells[1], r.cells[4]) for r in pane.rows] == [
            ("ok", "OMS-SQL-1", "SYNCHRONIZED"), ("ok", "OMS-SQL-2", "SYNCHRONIZED"),
            ("ok", "OMS-SQL-3", "SYNCHRONIZING")]
        source, target = (sql.table_data(handle, e, sql.database(handle, "oms"))
                          for e in ("oms-db-dc", "oms-sql-1"))
        assert source.tables == target.tables and len(source.tables) == 4  # with the sentinel table


def health_database(handle: EstateHandle) -> dict[str, str | None]:
    return {h.server: h.database for h in http.check_health(handle, APPS).servers}


def test_app_servers_follow_their_database_and_hold_sessions_on_it(plan: Plan) -> None:
    with running_sim(plan, speed=SPEED) as (_sim, handle):
        assert health_database(handle) == {"oms-app-1": "ok", "oms-app-2": "ok"}
        sessions = sql.user_sessions(handle, "oms-db-dc", "OMS")
        assert sessions.total == 4 and {g.host_name for g in sessions.groups} == set(APPS)

        sql.set_read_only(handle, "oms-db-dc", "OMS")  # RESTRICTED_USER rolls them back
        assert sql.user_sessions(handle, "oms-db-dc", "OMS").total == 0
        assert health_database(handle) == {"oms-app-1": "read-only", "oms-app-2": "read-only"}
        sql.set_read_write(handle, "oms-db-dc", "OMS")
        eventually(lambda: sql.user_sessions(handle, "oms-db-dc", "OMS").total, lambda n: n == 4,
                   what="the pools back")
        assert health_database(handle) == {"oms-app-1": "ok", "oms-app-2": "ok"}


# --- what the simulated server refuses ---------------------------------------------------------


@pytest.fixture(scope="module")
def sql_only(plan: Plan) -> Iterator[SimSqlEstate]:
    """The sim's SQL side without AWS: for statements that never reach S3."""
    estate = SimSqlEstate(plan.estate, speed=1.0, faults=FaultSet(), s3=None, s3_host="-",
                          apps=AppView(running_apps=list, resolve=lambda name: None))
    estate.start()
    yield estate
    estate.stop()


def sim_handle(plan: Plan, sim: SimSqlEstate, *, read_only: bool = False) -> EstateHandle:
    return EstateHandle(plan.estate, Endpoints(sql_connect={
        e.id: sim.connector(e.id) for e in plan.estate.sql}), read_only=read_only)


@pytest.mark.parametrize(("statement", "number"), [
    ("SHUTDOWN WITH NOWAIT", 102),
    ("DROP DATABASE [OMS]; DROP DATABASE [master]", 102),
    ("SELECT * FROM sys.no_such_view", 208),
    ("USE [Nope]", 911),
    ("SELECT COUNT_BIG(*) FROM [OMS].[dbo].[payments]", 208),
    ("ALTER AVAILABILITY GROUP [oms-ag] ADD DATABASE [OMS]", 15151),  # not a replica here
])
def test_the_sim_answers_what_it_does_not_do_as_sql_server_would(
    sql_only: SimSqlEstate, statement: str, number: int,
) -> None:
    conn = sql_only.servers["oms-db-dc"].connect()
    with pytest.raises(SimSqlError) as refused:
        conn.cursor().execute(statement)
    assert refused.value.number == number
    assert refused.value.args[0] == "42000"


def test_a_hostile_database_name_is_one_name_all_the_way(plan: Plan,
                                                         sql_only: SimSqlEstate) -> None:
    hostile = "o'brien];DROP DATABASE [OMS"
    server = sql_only.servers["oms-db-dc"]
    server.add_database(hostile, server.require("OMS").data_file.read_bytes())
    handle = sim_handle(plan, sql_only)
    sql.set_read_only(handle, "oms-db-dc", hostile)
    state = sql.database_state(handle, "oms-db-dc", hostile)
    assert (state.exists, state.is_read_only) == (True, True)
    sql.execute(handle, "oms-db-dc", "test", [tsql.drop_database(hostile)])
    assert sql.database_state(handle, "oms-db-dc", hostile).exists is False
    assert sql.database_state(handle, "oms-db-dc", "OMS").exists is True


def test_a_read_only_handle_sends_no_change(plan: Plan, sql_only: SimSqlEstate) -> None:
    handle = sim_handle(plan, sql_only, read_only=True)
    with pytest.raises(ReadOnlyError):
        sql.set_read_only(handle, "oms-db-dc", "OMS")
    with sql.connection(handle, "oms-db-dc") as conn:
        with pytest.raises(ReadOnlyError):
            conn.cursor().execute(tsql.set_read_only("OMS")[0])
        assert conn.cursor().execute("SELECT 1 AS one").fetchall() == [(1,)]
    assert sql.database_state(handle, "oms-db-dc", "OMS").is_read_only is False


# --- reads never raise ---------------------------------------------------------------------------


def test_read_failures_are_error_values(plan: Plan, sql_only: SimSqlEstate) -> None:
    def refused() -> Any:
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    down = EstateHandle(plan.estate, Endpoints(sql_connect={
        "oms-db-dc": refused, "oms-sql-1": refused}), read_only=True)
    assert "Connection refused" in (sql.ag_state(down, "oms-ag").error or "")
    assert "Connection refused" in (sql.backup_progress(down, "oms-db-dc").error or "")
    assert "Connection refused" in (sql.user_sessions(down, "oms-db-dc", "OMS").error or "")
    assert "Connection refused" in (sql.database_state(down, "oms-db-dc", "OMS").error or "")
    db = sql.database(down, "oms")
    assert "Connection refused" in (sql.table_data(down, "oms-db-dc", db).error or "")
    assert probe_pane("ag", down, plan, no_run(plan)).error

    handle = sim_handle(plan, sql_only)
    missing = db.model_copy(update={"name": "Nope"})
    assert "Msg 911" in (sql.table_data(handle, "oms-db-dc", missing).error or "")
    assert sql.database_state(handle, "oms-db-dc", "Nope").exists is False
    wrong = db.model_copy(update={"tables": ["dbo.orders", "dbo.payments"]})
    assert "Invalid object name 'OMS.dbo.payments'" in (
        sql.table_data(handle, "oms-db-dc", wrong).error or "")
