"""How long each step took in a rehearsal, read back from its audit log.

A budget proposed from a log is only as good as the log: its chain is checked as it is
read, and a log that does not verify gives no durations at all. Only a step's runs that
succeeded count: a failure or a skip says nothing about how long the step takes, and a
re-check after an interruption only judged what an earlier attempt did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cockpit.audit import events
from cockpit.audit.scan import LogEntry, scan_log
from cockpit.audit.verify import AuditReadError


class UnusableLog(Exception):
    """A log that cannot give durations: unreadable, or its chain broken."""


@dataclass
class RehearsalTimes:
    """One session's successful run times per step, and what was left out and why."""

    name: str
    seconds: dict[str, list[float]] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)


def rehearsal_times(path: Path) -> RehearsalTimes:
    """The durations in the session folder (or audit log) at `path`; `UnusableLog` if its
    chain does not verify, naming why."""
    log = path / "audit.jsonl" if path.is_dir() else path
    name = log.parent.name if log.name == "audit.jsonl" else log.stem
    reader = _TimesReader(RehearsalTimes(name))
    try:
        verdict = scan_log(log, reader.feed)
    except AuditReadError as exc:
        raise UnusableLog(f"{log}: {exc}") from exc
    if verdict.status != "intact":
        reason = verdict.describe().splitlines()[0].removeprefix(f"{log}: ")
        raise UnusableLog(f"{log}: its chain does not verify, so its times are not "
                          f"trusted: {reason}")
    return reader.times


class _TimesReader:
    def __init__(self, times: RehearsalTimes) -> None:
        self.times = times
        self.started: dict[str, tuple[datetime, bool]] = {}

    def feed(self, entry: LogEntry) -> None:
        step = entry.step
        if step is None:
            return
        if entry.event == events.STEP_STARTED:
            self.started[step] = (entry.ts, _is_recheck(entry))
        elif entry.event == events.STEP_SUCCEEDED:
            self._succeeded(step, entry)
        elif entry.event in _NOT_COUNTED:
            self.started.pop(step, None)
            self.times.left_out.append(f"{step} {_NOT_COUNTED[entry.event]} in "
                                       f"{self.times.name}: not counted")

    def _succeeded(self, step: str, entry: LogEntry) -> None:
        start = self.started.pop(step, None)
        if start is None or start[1]:
            why = "re-checked" if start else "ended without a start in the log"
            self.times.left_out.append(f"{step} {why} in {self.times.name}: not counted")
            return
        recorded = entry.detail.get("duration_s")
        seconds = (float(recorded) if isinstance(recorded, int | float)
                   and not isinstance(recorded, bool)
                   else (entry.ts - start[0]).total_seconds())
        self.times.seconds.setdefault(step, []).append(seconds)


def _is_recheck(entry: LogEntry) -> bool:
    """A re-check after an interruption (older logs say so only in words)."""
    detail = entry.detail
    return bool(detail.get("recheck")) or detail.get("reason") == "re-check after interruption"


_NOT_COUNTED = {
    events.STEP_FAILED: "failed",
    events.STEP_SKIPPED: "was skipped",
    events.STEP_WITHDRAWN: "was withdrawn",
}
