"""A frozen session for the snapshots and layout tests: a 7-step window 17 minutes in, 14
audit entries, all five panes, a pinned clock. Nothing here reaches an estate or a runner.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cockpit.audit.entry import Actor, AuditEntry
from cockpit.plan.loader import load_plan
from cockpit.runner.panes import PaneRow, PaneView
from cockpit.runner.state import derive
from cockpit.session.view import SessionView
from support.plans import DATA

WINDOW_PLAN = DATA / "ui" / "window-plan.toml"

FROZEN_NOW = datetime(2026, 11, 28, 2, 15, 0, tzinfo=UTC)
FROZEN_FOLDER = Path("/srv/cutover/oms-20261128")
FROZEN_ACTOR = Actor(user="jo", host="jump1", ssh_client="10.1.1.5 52144 22")
FROZEN_DRIVER = "jo@jump1 (pid 4242) since 2026-11-28 01:57:40Z"
FROZEN_SESSION = "20261128-015740-9c1e"


def frozen_clock() -> datetime:
    return FROZEN_NOW


def _at(hh: int, mm: int, ss: int) -> datetime:
    return datetime(2026, 11, 28, hh, mm, ss, tzinfo=UTC)


# (time, event, step, detail): a window 17 minutes in. Two steps done, the targets step
# failed once and is running again after a fix, with notes on the record.
_FROZEN_LOG: list[tuple[datetime, str, str | None, dict[str, Any]]] = [
    (_at(1, 57, 40), "session.opened", None, {
        "plan_name": "OMS Phase One: app servers to AWS", "plan_path": str(WINDOW_PLAN),
        "plan_sha256": "0" * 64, "cockpit_version": "0.1.0", "pid": 4242, "resumed": False,
        "aws_identity": {"account": "123456789012", "profile": "oms-cutover",
                         "arn": "arn:aws:sts::123456789012:assumed-role/cutover/jo"}}),
    (_at(1, 58, 10), "step.started", "instances-running", {
        "title": "Imported instances running", "kind": "check", "phase": "phase-one",
        "attempt": 1}),
    (_at(1, 58, 41), "step.succeeded", "instances-running", {
        "duration_s": 31.0, "summary": "2 instance(s) running; 2 AZs", "evidence": {}}),
    (_at(1, 59, 2), "step.started", "apps-healthy", {
        "title": "New app servers healthy", "kind": "check", "phase": "phase-one",
        "attempt": 1}),
    (_at(2, 0, 15), "step.succeeded", "apps-healthy", {
        "duration_s": 73.2, "summary": "2 server(s) healthy", "evidence": {}}),
    (_at(2, 1, 30), "note.added", None, {
        "text": "DBA on the bridge: datacentre database healthy, no blocking"}),
    (_at(2, 2, 5), "step.started", "register-targets", {
        "title": "Register the new app servers", "kind": "elb.register",
        "phase": "phase-one", "attempt": 1}),
    (_at(2, 2, 6), "step.progress", "register-targets", {
        "message": "done: elb.register(oms-web: oms-app-1+oms-app-2)",
        "outputs": {"target_group": "oms-web"}}),
    (_at(2, 2, 6), "step.succeeded", "register-targets", {
        "duration_s": 1.4, "summary": "action done", "evidence": {}}),
    (_at(2, 2, 40), "step.started", "targets-healthy", {
        "title": "Wait for healthy targets", "kind": "check", "phase": "phase-one",
        "attempt": 1}),
    (_at(2, 5, 40), "step.failed", "targets-healthy", {
        "duration_s": 180.0, "evidence": {},
        "reason": "timed out after 3m waiting: oms-app-1 unhealthy (ResponseCodeMismatch)"}),
    (_at(2, 13, 5), "note.added", None, {
        "text": "oms-app-1 health path fixed on the instance (Jo, with app team); re-running"}),
    (_at(2, 13, 20), "step.started", "targets-healthy", {
        "title": "Wait for healthy targets", "kind": "check", "phase": "phase-one",
        "attempt": 2}),
    (_at(2, 14, 30), "step.progress", "targets-healthy", {
        "message": "oms-app-2 initial (RegistrationInProgress)", "evidence": {}}),
]


def frozen_entries() -> list[AuditEntry]:
    entries, prev = [], "0" * 64
    for seq, (ts, event, step, detail) in enumerate(_FROZEN_LOG, start=1):
        digest = hashlib.sha256(f"frozen {seq} {event}".encode()).hexdigest()
        entries.append(AuditEntry(seq=seq, ts=ts, session=FROZEN_SESSION, actor=FROZEN_ACTOR,
                                  mode="driver", event=event, step=step, detail=detail,
                                  prev=prev, hash=digest))
        prev = digest
    return entries


def _ago(seconds: float) -> datetime:
    return FROZEN_NOW - timedelta(seconds=seconds)


def _rows(*rows: tuple[str, list[str]]) -> list[PaneRow]:
    return [PaneRow(status=status, cells=cells) for status, cells in rows]  # type: ignore[arg-type]


def frozen_panes() -> dict[str, PaneView]:
    """All five panes as a driver publishes them: live ones, one with an error gone stale."""
    dc = "oms-web.dc1.retail.example"
    return {
        "apps": PaneView(pane="apps", title="App servers", taken_at=_ago(2),
                         columns=["server", "AZ", "EC2", "http", "ms", "version", "db"],
                         rows=_rows(
                             ("ok", ["dc-app-1", "DC", "-", "200", "12", "4.12.3", "ok"]),
                             ("ok", ["dc-app-2", "DC", "-", "200", "14", "4.12.3", "ok"]),
                             ("ok", ["oms-app-1", "2a", "running", "200", "18", "4.12.3", "ok"]),
                             ("ok", ["oms-app-2", "2b", "running", "200", "21", "4.12.3", "ok"]))),
        "targets": PaneView(pane="targets", title="ALB targets", taken_at=_ago(1),
                            columns=["group", "target", "port", "AZ", "state", "reason"],
                            rows=_rows(
                                ("ok", ["oms-web", "oms-app-1", "8080", "2a", "healthy", ""]),
                                ("warn", ["oms-web", "oms-app-2", "8080", "2b", "initial",
                                          "RegistrationInProgress"]))),
        "ag": PaneView(pane="ag", title="SQL availability group", taken_at=_ago(3),
                       columns=["AG", "replica", "role", "db", "sync", "health", "send KB",
                                "redo KB"],
                       rows=_rows(
                           ("ok", ["oms-ag", "oms-db-dc", "primary", "OMS", "SYNCHRONIZED",
                                   "HEALTHY", "0", "0"]),
                           ("warn", ["oms-ag", "oms-db-aws1", "secondary", "OMS",
                                     "SYNCHRONIZING", "HEALTHY", "1204", "88"]))),
        "backup": PaneView(pane="backup", title="Backup and restore", taken_at=_ago(40),
                           columns=["operation", "db", "%", "rate", "ETA", "S3 parts",
                                    "bytes"],
                           rows=_rows(("warn", ["backup", "OMS", "62", "48 MB/s", "0:03:10",
                                                "114/184", "5.6 GB"])),
                           error="oms-db-dc: login timeout expired (HYT00)"),
        "dns": PaneView(pane="dns", title="DNS", taken_at=_ago(3),
                        columns=["name", "source", "answer", "change", "TTL", "match"],
                        note=f"expected: fulfilment={dc}, orders={dc}",
                        rows=_rows(
                            ("ok", ["orders.oms.retail.example", "route53", dc, "", "",
                                    "= match"]),
                            ("ok", ["", "dc-dns-1", dc, "", "41", "= match"]),
                            ("ok", ["", "vpc-resolver", dc, "", "41", "= match"]),
                            ("ok", ["fulfilment.oms.retail.example", "route53", dc, "", "",
                                    "= match"]),
                            ("ok", ["", "dc-dns-1", dc, "", "41", "= match"]),
                            ("bad", ["", "vpc-resolver", "SERVFAIL", "", "-",
                                     "x MISMATCH"]))),
    }


def frozen_view(*, driver_alive: bool = True) -> SessionView:
    plan = load_plan(WINDOW_PLAN)
    entries = frozen_entries()
    return SessionView(plan=plan, run=derive(plan, entries), entries=entries,
                       panes=frozen_panes(), driver=FROZEN_DRIVER if driver_alive else None,
                       driver_alive=driver_alive, published_at=_ago(1))


class FrozenDriverSource:
    """What the driver's screen reads, with every answer fixed: no estate, no runner.
    Commands are refused: a snapshot must not change."""

    location = FROZEN_FOLDER
    how_to_watch = f"cockpit watch {FROZEN_FOLDER}"
    problem = None
    warnings: list[str] = []

    def __init__(self, view: SessionView) -> None:
        self._view = view
        self.beats = 0  # heartbeats the screen gave

    def view(self) -> SessionView:
        return self._view

    def write_report(self, now: datetime) -> Path:
        raise OSError("a frozen session writes no report")

    def report(self, now: datetime) -> tuple[str, str]:
        raise OSError("a frozen session has no report")

    def poll_pane(self, pane: str) -> PaneView:
        return self._view.panes[pane]

    def follow_panes(self, show: Any, cadence: Any, *, apart: bool = True) -> None:
        for view in self._view.panes.values():
            show(view)

    def stop_following_panes(self) -> None:
        pass

    def panes_to_watch(self) -> set[str]:
        return {"targets"} if self._view.run.running() is not None else set()

    def answer_manual_with(self, prompt: Any) -> None:
        pass

    def heartbeat(self) -> None:
        self.beats += 1

    def next_ready(self) -> str | None:
        ready = self._view.run.next_ready()
        return ready.step_id if ready else None

    def refusal(self, step_id: str) -> str | None:
        return "a frozen session runs nothing"

    def _refuse(self, *args: Any) -> Any:
        from cockpit.session.protocols import CommandRefused

        raise CommandRefused("a frozen session runs nothing")

    def running(self) -> list[str]:
        return [s.step_id for s in self._view.run.running_steps()]

    run = override = undo = skip = mark_done = recheck = note = roll_back = cancel_step = \
        _refuse

    def rollback_refusal(self) -> str | None:
        return "a frozen session runs nothing"

    def rollback_path(self) -> None:
        return None

    def cancel(self) -> None:
        pass


class FrozenReader:
    """What a watcher's screen reads (a `SessionReader`), fixed."""

    location = FROZEN_FOLDER
    how_to_watch = f"cockpit watch {FROZEN_FOLDER}"
    problem = None

    def __init__(self, view: SessionView) -> None:
        self._view = view

    def view(self) -> SessionView:
        return self._view

    def write_report(self, now: datetime) -> Path:
        raise OSError("a frozen session writes no report")

    def report(self, now: datetime) -> tuple[str, str]:
        raise OSError("a frozen session has no report")


def frozen_app(mode: str, *, driver_alive: bool = True) -> Any:
    """The cockpit on the frozen session, as the driver or a watcher, its clock pinned."""
    from cockpit.ui.app import make_driver_app, make_watch_app

    view = frozen_view(driver_alive=driver_alive)
    if mode == "driver":
        return make_driver_app(FrozenDriverSource(view), keymap={}, clock=frozen_clock)
    return make_watch_app(FrozenReader(view), keymap={}, clock=frozen_clock)
