"""The runner's session on a real folder, against one sim for the module: refusals, gates
and overrides, skips and notes, state derived from the log, the driver's lock, resuming an
interrupted session, and keeping secrets out of the files.

No test here changes the estate: the steps run are checks, manual actions, or refused."""

from __future__ import annotations

import json
import os
import signal
import stat
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.audit import events_of, log_entries, me, started_steps
from support.estate import driver_session, running_sim, target_states
from support.holders import holding
from support.plans import DB_PASSWORD, PHASE_ONE, load, write_plan
from support.waiting import eventually

from cockpit.audit.verify import read_entries, verify_log
from cockpit.audit.writer import AuditWriter
from cockpit.estate.handle import EstateHandle
from cockpit.plan.models import Plan
from cockpit.runner.lock import LockHeld, StaleLock
from cockpit.runner.runner import Runner, StepRefused
from cockpit.runner.state import Status, derive
from cockpit.session.folder import SessionFolder
from cockpit.session.rehearsal import rehearse
from cockpit.session.watch import SessionReader
from cockpit.sim.estate import SimEstate
from cockpit.ui.widgets.header import render_header

SPEED = 50.0


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load(PHASE_ONE)


@pytest.fixture(scope="module")
def sim(plan: Plan) -> Iterator[tuple[SimEstate, EstateHandle]]:
    with running_sim(plan, speed=SPEED) as running:
        yield running


@pytest.fixture
def handle(sim: tuple[SimEstate, EstateHandle]) -> EstateHandle:
    return sim[1]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "session"


class Confirmations:
    """The engineer at a manual step: answers each instruction with a note."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, instruction: str) -> str:
        self.asked.append(instruction)
        return "done on the phone with the duty manager"


def open_runner(plan: Plan, plan_path: Path, handle: EstateHandle, folder: Path, *,
                take_over: bool = False, confirm_manual: Confirmations | None = None) -> Runner:
    return driver_session(plan_path, handle, folder, time_scale=SPEED, take_over=take_over,
                          confirm_manual=confirm_manual).runner


@pytest.fixture
def runner(plan: Plan, handle: EstateHandle, folder: Path) -> Iterator[Runner]:
    opened = open_runner(plan, PHASE_ONE, handle, folder, confirm_manual=Confirmations())
    yield opened
    opened.close()


# --- refusals, gates, overrides -------------------------------------------------------------


def test_a_step_whose_after_is_not_done_is_refused(
    runner: Runner, folder: Path, handle: EstateHandle,
) -> None:
    with pytest.raises(StepRefused, match=r"register-targets is pending.*apps-healthy"):
        runner.run_step("register-targets")

    assert "step.started" not in events_of(folder)
    assert runner.step_state("register-targets").status is Status.PENDING
    assert target_states(handle) == {}  # nothing was registered


def test_a_done_step_is_not_run_again(runner: Runner, folder: Path) -> None:
    # The plan's first step: a manual one, confirmed by the fixture's engineer.
    assert runner.run_step("announce-start").status is Status.SUCCEEDED
    with pytest.raises(StepRefused, match="announce-start is succeeded"):
        runner.run_step("announce-start")
    assert started_steps(folder) == ["announce-start"]


GATED_MANUAL = """
[[phases]]
id = "checks"
title = "Checks before the window"

[[phases.steps]]
id = "confirm-freeze"
title = "Confirm the change freeze with the business"
gates = [{ kind = "ec2.stopped", servers = ["oms-app-1"] }]
do = { kind = "manual", instruction = "Call the duty manager and confirm the freeze" }
"""


def test_a_failing_gate_fails_the_step_and_an_override_with_a_reason_proceeds(
    tmp_path: Path, handle: EstateHandle, folder: Path,
) -> None:
    path, plan = write_plan(tmp_path, GATED_MANUAL)
    confirm = Confirmations()
    runner = open_runner(plan, path, handle, folder, confirm_manual=confirm)
    try:
        failed = runner.run_step("confirm-freeze")
        assert failed.status is Status.FAILED
        assert failed.reason is not None
        assert failed.reason.startswith("gate failed: ec2.stopped(servers=oms-app-1): ")
        assert "oms-app-1 running" in failed.reason
        assert confirm.asked == []  # the action never ran
        assert events_of(folder, "confirm-freeze") == ["step.started", "step.failed"]

        reason = "oms-app-1 stays up in Phase One; approved by the change manager"
        passed = runner.run_step("confirm-freeze", override_reason=reason)
    finally:
        runner.close()

    assert passed.status is Status.SUCCEEDED
    assert passed.attempt == 2
    assert confirm.asked == ["Call the duty manager and confirm the freeze"]
    steps = [e for e in log_entries(folder) if e.step == "confirm-freeze"]
    assert [e.event for e in steps] == [
        "step.started", "step.failed",
        "step.started", "gate.overridden", "step.progress", "step.succeeded"]
    overridden = steps[3]
    assert overridden.detail["reason"] == reason
    assert overridden.detail["gate"] == "ec2.stopped(servers=oms-app-1)"
    assert "oms-app-1 running" in overridden.detail["seen"]
    assert overridden.actor.user == me().user
    assert steps[4].detail["outputs"]["note"] == "done on the phone with the duty manager"


def test_a_blank_override_reason_does_not_override_a_gate(
    tmp_path: Path, handle: EstateHandle, folder: Path,
) -> None:
    path, plan = write_plan(tmp_path, GATED_MANUAL)
    runner = open_runner(plan, path, handle, folder, confirm_manual=Confirmations())
    try:
        try:
            state = runner.run_step("confirm-freeze", override_reason="   ")
        except ValueError:
            state = runner.step_state("confirm-freeze")
    finally:
        runner.close()
    assert "gate.overridden" not in events_of(folder)
    assert state.status is not Status.SUCCEEDED


# --- skips and notes ------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_skip_and_note_need_a_reason_and_text(runner: Runner, folder: Path, blank: str) -> None:
    with pytest.raises(ValueError, match="reason is required"):
        runner.skip_step("apps-healthy", blank)
    with pytest.raises(ValueError, match="note is required"):
        runner.add_note(blank)
    assert events_of(folder) == ["session.opened"]


def test_skip_and_note_are_recorded_with_the_actor(runner: Runner, folder: Path) -> None:
    runner.run_step("announce-start")
    runner.run_step("instances-running")
    runner.skip_step("apps-healthy", "checked by hand from the bastion: both answer 200")
    runner.add_note("duty manager on the bridge")

    state = runner.state()
    assert state.steps["apps-healthy"].status is Status.SKIPPED
    assert state.steps["apps-healthy"].reason == "checked by hand from the bastion: both answer 200"
    assert state.steps["register-targets"].status is Status.READY  # a skip counts as done
    skipped, note = log_entries(folder)[-2:]
    assert (skipped.event, skipped.step) == ("step.skipped", "apps-healthy")
    assert skipped.detail["reason"] == "checked by hand from the bastion: both answer 200"
    assert (note.event, note.step) == ("note.added", None)
    assert note.detail["text"] == "duty manager on the bridge"
    for entry in (skipped, note):
        assert (entry.actor.user, entry.actor.host) == (me().user, me().host)
    assert [n.detail["text"] for n in state.notes] == ["duty manager on the bridge"]


# --- state from the log alone ---------------------------------------------------------------


def test_state_derived_from_the_log_alone_is_the_runners(
    plan: Plan, handle: EstateHandle, folder: Path,
) -> None:
    runner = open_runner(plan, PHASE_ONE, handle, folder, confirm_manual=Confirmations())
    try:
        assert runner.run_step("announce-start").status is Status.SUCCEEDED
        assert runner.run_step("instances-running").status is Status.SUCCEEDED
        assert runner.run_step("apps-healthy").status is Status.SUCCEEDED
        runner.skip_step("final-checks", "done by the app team after the window")
        runner.add_note("window opened on time")
        live = runner.state()
        from_log = derive(plan, read_entries(folder / "audit.jsonl").entries)
        assert from_log == live
        published = json.loads((folder / "state.json").read_bytes())
        assert {sid: s["status"] for sid, s in published["steps"].items()} == {
            sid: s.status.value for sid, s in live.steps.items()}
        assert live.head is not None
        assert published["head"] == {"seq": live.head[0], "hash": live.head[1]}
    finally:
        runner.close()

    # Evidence is kept with the outcome, in the log itself.
    evidence = live.steps["instances-running"].evidence
    assert {s: e["state"] for s, e in evidence["ec2.running"].items()} == {
        "oms-app-1": "running", "oms-app-2": "running"}
    assert evidence["ec2.spread"]["azs"] == ["ap-southeast-2a", "ap-southeast-2b"]

    reopened = open_runner(plan, PHASE_ONE, handle, folder)
    try:
        again = reopened.state()
        assert {s: st.status for s, st in again.steps.items()} == {
            s: st.status for s, st in live.steps.items()}
        assert again.sessions == 2
        assert reopened.warnings == []
    finally:
        reopened.close()
    assert verify_log(folder / "audit.jsonl").status == "intact"


# --- the driver's lock ----------------------------------------------------------------------


def test_a_second_driver_is_refused_by_name_while_the_first_holds_the_session(
    plan: Plan, handle: EstateHandle, folder: Path,
) -> None:
    first = open_runner(plan, PHASE_ONE, handle, folder)
    try:
        with pytest.raises(LockHeld) as held:
            open_runner(plan, PHASE_ONE, handle, folder)
    finally:
        first.close()
    message = str(held.value)
    assert f"{me().user}@{me().host}" in message
    assert f"pid {os.getpid()}" in message
    assert events_of(folder) == ["session.opened", "session.closed"]  # nothing from the second

    # Closed cleanly: the next driver opens it without any take-over.
    second = open_runner(plan, PHASE_ONE, handle, folder)
    second.close()
    assert events_of(folder) == ["session.opened", "session.closed"] * 2
    assert (folder / "lock").read_bytes() == b""


def test_a_stale_lock_is_refused_unless_taken_over_and_the_take_over_is_recorded(
    plan: Plan, handle: EstateHandle, folder: Path,
) -> None:
    folder.mkdir()
    ghost = {"user": "jo", "host": "jump9", "pid": 999999, "since": "2026-11-26 02:00:00Z"}
    (folder / "lock").write_text(json.dumps(ghost), encoding="utf-8")

    with pytest.raises(StaleLock) as stale:
        open_runner(plan, PHASE_ONE, handle, folder)
    assert "jo@jump9 (pid 999999)" in str(stale.value)
    assert "--take-over" in str(stale.value)
    assert not (folder / "audit.jsonl").exists()

    runner = open_runner(plan, PHASE_ONE, handle, folder, take_over=True)
    try:
        holder = json.loads((folder / "lock").read_bytes())
        assert (holder["user"], holder["pid"]) == (me().user, os.getpid())
    finally:
        runner.close()
    entries = log_entries(folder)
    assert [e.event for e in entries] == ["session.opened", "lock.taken_over", "session.closed"]
    assert "jo@jump9 (pid 999999)" in entries[1].detail["previous"]


def test_a_hung_driver_is_shown_to_watchers_then_stopped_by_a_take_over_on_the_record(
    plan: Plan, handle: EstateHandle, folder: Path,
) -> None:
    open_runner(plan, PHASE_ONE, handle, folder).close()  # a session, its plan kept
    with holding(folder / "lock") as hung:
        view = SessionReader(SessionFolder(folder), hung_after_s=30).view()
        assert view is not None and view.driver_alive
        assert view.driver_hung_s is not None and view.driver_hung_s > 30
        assert "DRIVER HUNG: no heartbeat for" in render_header(view, mode="WATCH").plain

        runner = open_runner(plan, PHASE_ONE, handle, folder, take_over=True)
        try:
            assert hung.wait(timeout=30) == -signal.SIGTERM
            assert any("was hung" in w and "SIGTERM" in w for w in runner.warnings)
        finally:
            runner.close()
    taken = [e for e in log_entries(folder) if e.event == "lock.taken_over"]
    assert len(taken) == 1
    assert f"(pid {hung.pid})" in taken[0].detail["previous"]
    assert taken[0].detail["hung"]["signals"] == ["SIGTERM"]
    assert taken[0].detail["hung"]["pid"] == hung.pid
    assert verify_log(folder / "audit.jsonl").status == "intact"


# --- resuming a session the last driver left mid-step ---------------------------------------


def test_a_step_left_running_is_interrupted_on_reopening_and_not_run_again(
    plan: Plan, handle: EstateHandle, folder: Path,
) -> None:
    folder.mkdir(mode=0o700)
    with AuditWriter(folder / "audit.jsonl", session="20261126-020000-dead", actor=me(),
                     mode="driver") as writer:
        writer.append("session.opened", detail={"plan_name": plan.plan.name, "resumed": False})
        writer.append("step.started", step="instances-running", detail={
            "title": "Imported instances running", "kind": "check", "attempt": 1})
        writer.append("step.progress", step="instances-running",
                      detail={"message": "not running: oms-app-1 pending"})
    # The driver died here: no step ending, no session.closed, no lock left behind.
    before = len(log_entries(folder))

    runner = open_runner(plan, PHASE_ONE, handle, folder)
    try:
        assert runner.step_state("instances-running").status is Status.INTERRUPTED
        assert any("instances-running" in w and "interrupted" in w for w in runner.warnings)
        result = rehearse(runner)
        assert result.stopped_at == "instances-running"
        assert not result.succeeded and result.outcomes == []
        with pytest.raises(StepRefused):
            runner.run_step("apps-healthy")  # still waiting on the interrupted step
    finally:
        runner.close()

    entries = log_entries(folder)
    added = entries[before:]
    assert [e.event for e in added] == ["session.opened", "session.interrupted",
                                        "session.closed"]
    assert added[1].step == "instances-running"
    assert added[1].detail["last_event"] == "step.progress"
    assert added[0].detail["resumed"] is True
    assert {e.session for e in entries} == {"20261126-020000-dead"}
    assert started_steps(folder) == ["instances-running"]  # only the dead driver's start
    assert derive(plan, entries).steps["instances-running"].status is Status.INTERRUPTED
    assert verify_log(folder / "audit.jsonl").status == "intact"


WAITS_FOREVER = """
[[phases]]
id = "p"
title = "Waiting"

[[phases.steps]]
id = "wait-for-stop"
title = "Wait for a stop nobody makes"
until = [{ kind = "ec2.stopped", servers = ["oms-app-1"] }]
timeout = "1h"
"""


def test_closing_while_a_step_waits_records_its_cancellation_first(
    tmp_path: Path, handle: EstateHandle, folder: Path,
) -> None:
    path, plan = write_plan(tmp_path, WAITS_FOREVER)
    runner = open_runner(plan, path, handle, folder)
    outcome: dict[str, object] = {}

    def drive() -> None:
        try:
            outcome["state"] = runner.run_step("wait-for-stop")
        except Exception as exc:  # the assertion below shows it
            outcome["error"] = exc

    worker = threading.Thread(target=drive, daemon=True)
    worker.start()
    eventually(lambda: events_of(folder, "wait-for-stop"), lambda e: "step.progress" in e,
               what="the step waiting")
    runner.close()
    worker.join(timeout=10)

    assert not worker.is_alive()
    assert "error" not in outcome, outcome
    events = [(e.event, e.step) for e in log_entries(folder)]
    assert events[-2:] == [("step.failed", "wait-for-stop"), ("session.closed", None)]
    failed = log_entries(folder)[-2]
    assert failed.detail["reason"].startswith("cancelled while waiting: not stopped:")


RESOLVER_BY_NAME = """
[[phases]]
id = "p"
title = "DNS"

[[phases.steps]]
id = "corp-dns-agrees"
title = "The corporate resolver answers the datacentre"
until = [
  { kind = "dns.resolves_to", records = ["orders"], value = "original", resolvers = ["corp-dns"] },
]
timeout = "10s"
"""


def test_a_probe_that_raises_fails_the_step_on_the_record(
    tmp_path: Path, sim: tuple[SimEstate, EstateHandle], folder: Path,
) -> None:
    estate = PHASE_ONE.read_text(encoding="utf-8").partition("\n[[phases]]")[0] + """
[[estate.resolvers]]
id = "corp-dns"
address = "dns1.corp.retail.example"
"""
    # Built without the loader: the adapter and the runner are under test, not plan checks.
    path = tmp_path / "resolver-by-name.toml"
    path.write_text(estate + RESOLVER_BY_NAME, encoding="utf-8")
    plan = Plan.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    handle = EstateHandle(plan.estate, sim[0].endpoints(), read_only=False)
    runner = open_runner(plan, path, handle, folder)
    escaped: Exception | None = None
    try:
        try:
            runner.run_step("corp-dns-agrees")
        except Exception as exc:  # asserted below, with what the log says
            escaped = exc
        after = runner.step_state("corp-dns-agrees")
    finally:
        runner.close()
        handle.close()
    assert (after.status, escaped) == (Status.FAILED, None), events_of(folder)
    assert after.reason is not None and "corp-dns" in after.reason


# --- secrets and file modes -----------------------------------------------------------------

DSN = ("Driver={ODBC Driver 18 for SQL Server};Server=tcp:10.20.3.5,1433;Database=OMS;"
       f"UID=oms_app;PWD={DB_PASSWORD};Encrypt=yes")


def test_no_secret_reaches_the_session_files_and_they_are_private(
    plan: Plan, handle: EstateHandle, folder: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMS_DC_DSN", DSN)
    runner = open_runner(plan, PHASE_ONE, handle, folder, confirm_manual=Confirmations())
    try:
        runner.add_note(f"restore tested with the oms_app login, password {DB_PASSWORD}")
        runner.run_step("announce-start")
        runner.run_step("instances-running")
        runner.skip_step("apps-healthy", f"checked with sqlcmd using {DSN}")
        state_json = (folder / "state.json").read_bytes()
    finally:
        runner.close()

    log = (folder / "audit.jsonl").read_bytes()
    for data in (log, state_json, (folder / "state.json").read_bytes(),
                 (folder / "plan.toml").read_bytes()):
        assert DB_PASSWORD.encode() not in data
    note = next(e for e in log_entries(folder) if e.event == "note.added")
    assert note.detail["text"] == "restore tested with the oms_app login, password ***"
    assert b"checked with sqlcmd using" in log  # the reason is kept, masked
    assert verify_log(folder / "audit.jsonl").status == "intact"

    for name in ("audit.jsonl", "state.json", "lock", "plan.toml"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_braced_password_holding_a_semicolon_is_masked_too(
    plan: Plan, handle: EstateHandle, folder: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMS_DC_DSN", "Driver={ODBC Driver 18 for SQL Server};Server=db;"
                                     "UID=oms_app;PWD={s3cr3t;Pa55};Encrypt=yes")
    runner = open_runner(plan, PHASE_ONE, handle, folder)
    try:
        runner.add_note("the oms_app password s3cr3t;Pa55 works on the new listener")
    finally:
        runner.close()
    assert b"s3cr3t;Pa55" not in (folder / "audit.jsonl").read_bytes()
