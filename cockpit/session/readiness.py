"""`cockpit check`: the plan's readiness checks, judged on its estate opened read-only, and
recorded in the session's audit log when a session is named.

Recording takes the session's lock for the one append, as a driver would: the log has one
writer at a time. While a driver holds it, the check is printed but not recorded (the
driver's own readiness gates are recorded by it).
"""

from __future__ import annotations

from dataclasses import replace

from cockpit.audit import events
from cockpit.audit.entry import Actor
from cockpit.audit.verify import read_entries, repair_torn_tail
from cockpit.audit.writer import AuditWriter
from cockpit.estate.handle import EstateHandle
from cockpit.plan.loader import LoadedPlan
from cockpit.plan.models import ReadinessMoment
from cockpit.runner.lock import DriverLock, LockHeld
from cockpit.runner.opening import new_session_id, secrets_of
from cockpit.runner.readiness import ReadinessReport, check_readiness, recorded
from cockpit.session.estate import open_estate
from cockpit.session.estate_choice import EstateChoice
from cockpit.session.folder import SessionFolder
from cockpit.settings import CockpitSettings


def check_plan(loaded: LoadedPlan, choice: EstateChoice, *, settings: CockpitSettings,
               at: ReadinessMoment | None = None,
               folder: SessionFolder | None = None) -> tuple[ReadinessReport, str | None]:
    """Open the estate read-only (nothing a check sends can change it), judge, close; and
    record the verdicts in `folder`'s log, if given. Returns the report and where it was
    recorded (or why not); None when no session was named."""
    choice = replace(choice, plan_sha256=loaded.sha256)
    with open_estate(loaded.plan, choice, aws=settings.aws, read_only=True) as estate:
        report = check_readiness(loaded.plan, estate.handle, at)
        said = None if folder is None else _record(folder, loaded, report, estate.handle,
                                                   settings)
    return report, said


def _record(folder: SessionFolder, loaded: LoadedPlan, report: ReadinessReport,
            handle: EstateHandle, settings: CockpitSettings) -> str:
    folder.create()
    lock = DriverLock(folder.lock, hung_after_s=settings.runner.hung_after_s,
                      stop_grace_s=settings.runner.hung_stop_grace_s)
    try:
        lock.acquire()
    except LockHeld as held:
        who = held.holder.describe() if held.holder else "another driver"
        return (f"not recorded: {who} drives {folder} (its readiness gates are recorded "
                "there)")
    try:
        folder.keep_plan(loaded.raw)
        if folder.audit.exists():
            repair_torn_tail(folder.audit)
        entries = read_entries(folder.audit).entries if folder.audit.exists() else []
        writer = AuditWriter(folder.audit, session=entries[0].session if entries
                             else new_session_id(), actor=Actor.current(), mode="check",
                             redactor=secrets_of(handle))
        entry = writer.append(events.READINESS_CHECKED, detail={
            **recorded(report), "plan_sha256": loaded.sha256})
        writer.close()
    finally:
        lock.release()
    return f"recorded in {folder.audit} (entry {entry.seq})"
