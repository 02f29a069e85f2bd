"""A step a dead driver cut short, of every action kind, and every recovery choice.

The dead driver is played by its log: `session.opened`, then the step's `step.started` and
nothing after (no ending, no `session.closed`), as a SIGKILL mid-action leaves it. Either
the action had reached the estate before the driver died ("took effect": the test makes
the change itself) or it had not. Reopened through the session layer, the step is
interrupted, and `rehearse(runner, interrupted=...)`:

- `recheck` judges it without acting: by what the estate shows for its action (a manual
  action cannot be judged, and the re-check says so);
- `resume` re-checks it and runs it again only if that does not find it done;
- `rerun` runs it again.

A re-check that does not find the step done leaves it failed and still to recover: the
next opening with `resume` or `rerun` carries on (it used to stop, "N step(s) could not
run", with no way forward but editing the log).

One sim for the module, of Phase Two's estate (it holds every kind's system); each test
first puts the estate where its step's action would change it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from support.audit import log_entries, me
from support.estate import driver_session, running_sim, target_states
from support.plans import ROOT, load, write_plan
from support.waiting import eventually

from cockpit.audit.entry import AuditEntry
from cockpit.audit.writer import AuditWriter
from cockpit.estate import ec2, s3, sql
from cockpit.estate.handle import EstateHandle
from cockpit.plan import models as m
from cockpit.plan.models import Plan
from cockpit.runner import actions
from cockpit.runner.state import Status
from cockpit.session.rehearsal import RehearsalResult, rehearse
from cockpit.sim.estate import SimEstate

PHASE_TWO = ROOT / "plans" / "oms-phase2-simple.toml"
ESTATE = PHASE_TWO.read_text(encoding="utf-8").partition("\n[[phases]]")[0] + "\n"
SPEED = 100.0
STEP = "cut-short"
DEAD_SESSION = "20261205-010000-dead"  # the session of the driver that died
NOTE = "done on the bridge, confirmed by the duty manager"
APPS = ["oms-app-1", "oms-app-2"]
BUCKET = "oms-cutover-backups"
RESTORE_SOURCE = "oms/recovery-restore-source.bak"
ACTION: TypeAdapter[Any] = TypeAdapter(m.Action)


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[SimEstate, EstateHandle]]:
    plan = load(PHASE_TWO)
    with running_sim(plan, speed=SPEED) as running:
        yield running


# --- the estate, put where each action would change it ---------------------------------------


def act(handle: EstateHandle, action: dict[str, Any]) -> dict[str, Any]:
    """An action performed as a driver would have (the one that then died)."""
    return actions.perform(ACTION.validate_python(action),
                           actions.ActionContext(handle, lambda _instruction: NOTE,
                                                 session_id=DEAD_SESSION))


def instances_are(handle: EstateHandle, wanted: str) -> None:
    def states() -> dict[str, str]:
        return {i.server: i.state for i in ec2.describe_servers(handle, APPS).instances}

    if set(states().values()) != {wanted}:
        (ec2.start_instances if wanted == "running" else ec2.stop_instances)(handle, APPS)
    eventually(states, lambda seen: set(seen.values()) == {wanted}, what=f"instances {wanted}")


def targets_registered(handle: EstateHandle, registered: bool) -> None:
    instances_are(handle, "running")  # only a running instance can be registered

    def in_group() -> dict[str, str]:
        return {s: state for s, state in target_states(handle).items() if s in APPS}

    if registered:
        if set(in_group().values()) - {"initial", "healthy", "unhealthy"} or \
                len(in_group()) < len(APPS):
            act(handle, {"kind": "elb.register", "target_group": "oms-web", "servers": APPS})
        eventually(in_group, lambda seen: "draining" not in seen.values() and len(seen) == 2,
                   what="both targets registered")
    else:
        if any(state != "draining" for state in in_group().values()):
            act(handle, {"kind": "elb.deregister", "target_group": "oms-web", "servers": APPS})
        eventually(in_group, lambda seen: not seen, what="both targets gone from the group")


def record_is(handle: EstateHandle, value: str) -> None:
    act(handle, {"kind": "route53.upsert", "records": ["omsdb"], "value": value})


def source_read_only(handle: EstateHandle, read_only: bool) -> None:
    kind = "sql.set_read_only" if read_only else "sql.set_read_write"
    act(handle, {"kind": kind, "endpoint": "oms-db-dc", "database": "oms"})


def no_backup_at(sim: SimEstate, handle: EstateHandle, key: str) -> None:
    s3.abort_multipart(handle, "oms-backups", key)
    client = sim.client("s3")
    for found in client.list_objects_v2(Bucket=BUCKET, Prefix=key).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=found["Key"])


def target_db(handle: EstateHandle) -> tuple[bool, str | None, bool]:
    """OMS at oms-sql-1: (exists, state, in the AG)."""
    state = sql.database_state(handle, "oms-sql-1", "OMS")
    assert state.error is None, state.error
    ag = sql.ag_state(handle, "oms-ag")
    in_ag = any(r.replica == "OMS-SQL-1" for r in ag.for_database("OMS"))
    return state.exists, state.state, in_ag


def out_of_ag(handle: EstateHandle) -> None:
    if target_db(handle)[2]:
        act(handle, {"kind": "sql.remove_from_ag", "endpoint": "oms-sql-1", "ag": "oms-ag",
                     "database": "oms"})


def no_target_db(sim: SimEstate, handle: EstateHandle) -> None:
    out_of_ag(handle)
    if target_db(handle)[0]:
        act(handle, {"kind": "sql.drop_database", "endpoint": "oms-sql-1", "database": "oms"})


def restore_source(sim: SimEstate, handle: EstateHandle) -> None:
    """A backup to restore from, made once for the module."""
    found = s3.backup_objects(handle, "oms-backups", RESTORE_SOURCE)
    if s3.complete_set(found.objects, RESTORE_SOURCE) is None:
        act(handle, {"kind": "sql.backup_to_url", "endpoint": "oms-db-dc", "database": "oms",
                     "bucket": "oms-backups", "key": RESTORE_SOURCE})


def nothing_restored_yet(sim: SimEstate, handle: EstateHandle) -> None:
    restore_source(sim, handle)
    no_target_db(sim, handle)


def target_db_online(sim: SimEstate, handle: EstateHandle, *, in_ag: bool) -> None:
    exists, state, joined = target_db(handle)
    if exists and state != "ONLINE" and not joined:
        no_target_db(sim, handle)
    if not target_db(handle)[0]:
        restore_source(sim, handle)
        act(handle, RESTORE)
    if sql.database_state(handle, "oms-sql-1", "OMS").is_read_only:
        act(handle, {"kind": "sql.set_read_write", "endpoint": "oms-sql-1", "database": "oms"})
    if in_ag and not target_db(handle)[2]:
        act(handle, ADD_TO_AG)
    elif not in_ag:
        out_of_ag(handle)


def no_session_backup(sim: SimEstate, handle: EstateHandle) -> None:
    """msdb without this session's backups (a case before took one): the server's own
    history, as a DBA would clear it with sp_delete_backuphistory."""
    import sqlite3

    assert sim.sql is not None
    msdb = sim.sql.servers["oms-db-dc"].msdb_file
    with sqlite3.connect(msdb) as db:
        db.execute("DELETE FROM backupset WHERE media_set_id IN (SELECT media_set_id FROM "
                   "backupmediafamily WHERE physical_device_name LIKE ?)",
                   (f"%/{DEAD_SESSION}/%",))
    db.close()


def no_session_sentinel(sim: SimEstate, handle: EstateHandle) -> None:
    import sqlite3

    assert sim.sql is not None
    db_file = sim.sql.servers["oms-db-dc"].require("OMS").data_file
    with sqlite3.connect(db_file) as db:
        db.execute("DELETE FROM cutover_sentinel WHERE sentinel LIKE ?", (f"{DEAD_SESSION} %",))
    db.close()


def target_db_restoring(sim: SimEstate, handle: EstateHandle) -> None:
    """OMS at oms-sql-1 restored WITH NORECOVERY: what sql.recover brings online."""
    if target_db(handle)[0]:
        no_target_db(sim, handle)
    restore_source(sim, handle)
    act(handle, {**RESTORE, "recovery": False})


def open_upload_at(sim: SimEstate, key: str) -> None:
    client = sim.client("s3")
    if not client.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads"):
        upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1,
                           Body=b"x" * s3.MIN_PART_BYTES)


# --- the cases ------------------------------------------------------------------------------------

Ready = Callable[[SimEstate, EstateHandle], None]

RESTORE = {"kind": "sql.restore_from_url", "endpoint": "oms-sql-1", "database": "oms",
           "bucket": "oms-backups", "key": RESTORE_SOURCE, "recovery": True}
ADD_TO_AG = {"kind": "sql.add_to_ag", "endpoint": "oms-sql-1", "ag": "oms-ag",
             "database": "oms", "seeding": "automatic"}


@dataclass(frozen=True)
class Case:
    action: dict[str, Any]
    ready: Ready  # the estate where the action would change it: not yet done
    again_ok: bool = True  # run again once it took effect, it succeeds (idempotent)

    @property
    def kind(self) -> str:
        return str(self.action["kind"])

    def step_toml(self) -> str:
        fields = ", ".join(f"{k} = {_toml(v)}" for k, v in self.action.items())
        return f'''
[[phases]]
id = "recovery"
title = "Recovery"

[[phases.steps]]
id = "{STEP}"
title = "A step of kind {self.kind}, cut short"
do = {{ {fields} }}
'''


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"'


CASES = [
    Case({"kind": "ec2.start", "servers": APPS},
         lambda sim, handle: instances_are(handle, "stopped")),
    Case({"kind": "ec2.stop", "servers": APPS},
         lambda sim, handle: instances_are(handle, "running")),
    Case({"kind": "elb.register", "target_group": "oms-web", "servers": APPS},
         lambda sim, handle: targets_registered(handle, False)),
    Case({"kind": "elb.deregister", "target_group": "oms-web", "servers": APPS},
         lambda sim, handle: targets_registered(handle, True), again_ok=False),
    Case({"kind": "route53.upsert", "records": ["omsdb"], "value": "ag:oms-ag"},
         lambda sim, handle: record_is(handle, "original")),
    Case({"kind": "manual", "instruction": "Phone the store-ops bridge"},
         lambda sim, handle: None),
    Case({"kind": "sql.set_read_only", "endpoint": "oms-db-dc", "database": "oms"},
         lambda sim, handle: source_read_only(handle, False)),
    Case({"kind": "sql.set_read_write", "endpoint": "oms-db-dc", "database": "oms"},
         lambda sim, handle: source_read_only(handle, True)),
    Case({"kind": "sql.backup_to_url", "endpoint": "oms-db-dc", "database": "oms",
          "bucket": "oms-backups", "key": "oms/recovery-url.bak"},
         lambda sim, handle: no_backup_at(sim, handle, "oms/recovery-url.bak")),
    Case({"kind": "sql.backup_to_disk", "endpoint": "oms-db-dc", "database": "oms",
          "path": "/backups/OMS-recovery.bak", "bucket": "oms-backups",
          "key": "oms/recovery-disk.bak"},
         lambda sim, handle: no_backup_at(sim, handle, "oms/recovery-disk.bak")),
    Case(RESTORE, lambda sim, handle: nothing_restored_yet(sim, handle), again_ok=False),
    Case({"kind": "sql.drop_database", "endpoint": "oms-sql-1", "database": "oms"},
         lambda sim, handle: target_db_online(sim, handle, in_ag=False), again_ok=False),
    Case(ADD_TO_AG, lambda sim, handle: target_db_online(sim, handle, in_ag=False),
         again_ok=False),
    Case({"kind": "sql.remove_from_ag", "endpoint": "oms-sql-1", "ag": "oms-ag",
          "database": "oms"},
         lambda sim, handle: target_db_online(sim, handle, in_ag=True), again_ok=False),
    Case({"kind": "s3.abort_multipart", "bucket": "oms-backups", "key": "oms/recovery-abort.bak"},
         lambda sim, handle: open_upload_at(sim, "oms/recovery-abort.bak")),
    Case({"kind": "sql.backup", "endpoint": "oms-db-dc", "database": "oms", "type": "full",
          "bucket": "oms-backups", "prefix": "recovery"}, no_session_backup),
    Case({"kind": "sql.write_sentinel", "endpoint": "oms-db-dc", "database": "oms"},
         no_session_sentinel),
    Case({"kind": "sql.recover", "endpoints": ["oms-sql-1"], "database": "oms"},
         target_db_restoring, again_ok=False),
]
# Restoring a chain and shipping logs are judged from the backups earlier steps recorded:
# a one-step plan has none. Their re-runs (a restore skips what the redo LSN shows applied)
# are exercised by tests/sim/test_prestaged_window.py.
FROM_EARLIER_STEPS = {"sql.restore", "sql.ship_logs"}
BY_KIND = {case.kind: case for case in CASES}
KINDS = list(BY_KIND)


def test_every_action_kind_has_a_case() -> None:
    from typing import get_args

    models = get_args(get_args(m.Action)[0])
    kinds = {get_args(model.model_fields["kind"].annotation)[0] for model in models}
    assert kinds - FROM_EARLIER_STEPS == set(KINDS)


# --- a dead driver, a reopening ----------------------------------------------------------------


@dataclass
class Window:
    """The plan of one cut-short step, its session folder and the sim it runs on."""

    case: Case
    plan_path: Path
    plan: Plan
    folder: Path
    sim: SimEstate
    handle: EstateHandle

    def dead_driver(self) -> None:
        """The log as a driver SIGKILLed mid-action leaves it."""
        self.folder.mkdir(mode=0o700)
        with AuditWriter(self.folder / "audit.jsonl", session=DEAD_SESSION,
                         actor=me(), mode="driver") as writer:
            writer.append("session.opened", detail={"plan_name": self.plan.plan.name,
                                                    "resumed": False})
            writer.append("step.started", step=STEP, detail={
                "title": self.plan.step(STEP).title, "kind": self.case.kind,
                "phase": "recovery", "attempt": 1})

    def reopen(self, choice: str) -> tuple[RehearsalResult, list[AuditEntry]]:
        """Reopen as `cockpit rehearse --interrupted CHOICE`: the result, and what this
        opening added to the log."""
        before = len(log_entries(self.folder))
        session = driver_session(self.plan_path, self.handle, self.folder, time_scale=SPEED,
                                 confirm_manual=lambda _instruction: NOTE)
        try:
            assert session.runner.step_state(STEP).to_recover
            result = rehearse(session.runner, interrupted=choice)
        finally:
            session.close()
        return result, log_entries(self.folder)[before:]


@pytest.fixture
def window(request: pytest.FixtureRequest, sim: tuple[SimEstate, EstateHandle],
           tmp_path: Path) -> Window:
    case = BY_KIND[request.param]
    path, plan = write_plan(tmp_path, case.step_toml(), estate=ESTATE)
    opened = Window(case, path, plan, tmp_path / "session", *sim)
    case.ready(opened.sim, opened.handle)
    return opened


def of_step(entries: list[AuditEntry]) -> list[AuditEntry]:
    return [e for e in entries if e.step == STEP]


def acted(entries: list[AuditEntry]) -> bool:
    """The action ran (again) in these entries: its `done:` line, or its own failure."""
    return any(e.event == "step.progress" and str(e.detail.get("message", "")).startswith(
        "done: ") or e.event == "step.failed" and " failed: " in str(e.detail.get("reason"))
        for e in of_step(entries))


def rechecks(entries: list[AuditEntry]) -> list[AuditEntry]:
    return [e for e in of_step(entries) if e.event == "step.started" and e.detail.get("recheck")]


def ended(entries: list[AuditEntry]) -> AuditEntry:
    return [e for e in of_step(entries) if e.event in ("step.succeeded", "step.failed")][-1]


# --- the action took effect before the driver died ------------------------------------------


@pytest.mark.parametrize("window", [k for k in KINDS if k != "manual"], indirect=True)
def test_a_recheck_finds_what_took_effect_without_acting_again(window: Window) -> None:
    act(window.handle, window.case.action)
    window.dead_driver()
    result, added = window.reopen("recheck")
    assert result.succeeded, [(s.step_id, s.status, s.reason) for s in result.outcomes]
    assert len(rechecks(added)) == 1 and not acted(added)
    done = ended(added)
    assert done.event == "step.succeeded"
    assert str(done.detail["summary"]).startswith(f"{window.case.kind} took effect: ")
    assert set(done.detail["evidence"]) == {window.case.kind}


@pytest.mark.parametrize("window", [k for k in KINDS if k != "manual"], indirect=True)
def test_resume_finds_what_took_effect_and_does_not_act_again(window: Window) -> None:
    act(window.handle, window.case.action)
    window.dead_driver()
    result, added = window.reopen("resume")
    assert result.succeeded, [(s.step_id, s.status, s.reason) for s in result.outcomes]
    assert len(rechecks(added)) == 1 and not acted(added)
    assert [e.event for e in of_step(added)] == ["session.interrupted", "step.started",
                                                 "step.succeeded"]


@pytest.mark.parametrize("window", [k for k in KINDS if k != "manual"], indirect=True)
def test_rerun_acts_again_even_on_what_took_effect(window: Window) -> None:
    act(window.handle, window.case.action)
    window.dead_driver()
    result, added = window.reopen("rerun")
    assert not rechecks(added) and acted(added)
    outcome = ended(added)
    if window.case.again_ok:
        assert result.succeeded and outcome.event == "step.succeeded", outcome.detail
    else:  # not idempotent: done twice, it fails on what the first did, on the record
        assert result.stopped_at == STEP and outcome.event == "step.failed"
        assert str(outcome.detail["reason"]).startswith(f"{window.case.kind}(")


# --- the driver died before the action took effect -------------------------------------------


@pytest.mark.parametrize("then", ["resume", "rerun"])
@pytest.mark.parametrize("window", KINDS, indirect=True)
def test_a_failed_recheck_leaves_the_way_open_to_resume_and_rerun(window: Window,
                                                                   then: str) -> None:
    window.dead_driver()
    result, added = window.reopen("recheck")
    assert result.stopped_at == STEP and not result.succeeded
    failed = ended(added)
    assert failed.event == "step.failed" and not acted(added)
    said = "cannot be judged from the estate" if window.case.kind == "manual" else \
        "has not taken effect"
    assert str(failed.detail["reason"]).startswith(f"re-check: {window.case.kind} {said}")
    assert set(failed.detail["evidence"]) == {window.case.kind}

    result, added = window.reopen(then)  # the next opening carries on from there
    assert result.succeeded, [(s.step_id, s.status, s.reason) for s in result.outcomes]
    assert acted(added) and ended(added).event == "step.succeeded"
    judged_first = then == "resume" and window.case.kind != "manual"
    assert len(rechecks(added)) == (1 if judged_first else 0)


# --- a manual step: nothing in the estate can tell -------------------------------------------


@pytest.mark.parametrize("window", ["manual"], indirect=True)
def test_a_manual_step_cut_short_is_said_unjudgeable_and_resume_asks_again(
    window: Window,
) -> None:
    window.dead_driver()
    result, added = window.reopen("resume")  # no re-check that could only fail: ask again
    assert result.succeeded
    assert not rechecks(added)
    assert [e.event for e in of_step(added)] == ["session.interrupted", "step.started",
                                                 "step.progress", "step.succeeded"]
    assert of_step(added)[2].detail["outputs"] == {"confirmed": True, "note": NOTE}


@pytest.mark.parametrize("window", ["manual"], indirect=True)
def test_a_manual_step_rerun_is_asked_again(window: Window) -> None:
    window.dead_driver()
    result, added = window.reopen("rerun")
    assert result.succeeded and acted(added) and not rechecks(added)


@pytest.mark.parametrize("window", ["manual"], indirect=True)
def test_a_manual_step_a_recheck_could_not_judge_may_be_marked_done(window: Window) -> None:
    window.dead_driver()
    window.reopen("recheck")
    session = driver_session(window.plan_path, window.handle, window.folder, time_scale=SPEED)
    try:
        assert session.runner.step_state(STEP).status is Status.FAILED
        session.runner.mark_done(STEP, "the bridge confirms it was phoned before the crash")
        assert session.runner.step_state(STEP).done
        assert not session.runner.state().to_recover()
    finally:
        session.close()
