"""The change board's view of a log: steps as runs with results, decisions, notes, evidence.

Built from the entries alone (the log is already redacted), one entry at a time as the log
is read; `export` renders it as md or html.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cockpit.audit import events
from cockpit.audit.scan import LazyDetail, LogEntry, decode_json
from cockpit.audit.verify import VerifyReport

if TYPE_CHECKING:  # the plan is read only when one lies beside the log (export.plan_beside)
    from cockpit.plan.models import Plan


@dataclass
class StepRun:
    """One row of the timeline: an attempt at a step, a skip, or an undo."""

    step: str
    title: str
    start: datetime | None
    who: str
    end: datetime | None = None
    duration_s: float | None = None
    result: str = "running"
    attempt: int | None = None
    why: str = ""
    """Why this run started, when the runner said (e.g. a re-check after an interruption)."""


@dataclass(frozen=True)
class Happening:
    """A dated line in the report: an override, a skip, a failure, a note."""

    ts: datetime
    step: str | None
    what: str
    text: str
    who: str


@dataclass(frozen=True)
class Mark:
    """A moment the change board asks about: the point of no return passed, an approval."""

    ts: datetime
    step: str | None
    kind: str
    """`ponr`, `approval-accepted` or `approval-refused`."""
    text: str


@dataclass(frozen=True)
class EvidenceItem:
    ts: datetime
    what: str
    who: str
    evidence_json: str | bytes
    """Kept as JSON until it is rendered: a report holds every step's evidence until the log
    has been read to its end, and the text takes a fraction of the objects' memory."""

    @property
    def evidence(self) -> Any:
        return decode_json(self.evidence_json)


@dataclass
class SessionSummary:
    session: str
    opened: datetime
    mode: str
    plan_sha256: str | None
    who: list[str] = field(default_factory=list)
    ended: datetime | None = None
    how: str = "open or cut short (no session.closed)"


@dataclass
class BoardReport:
    verify: VerifyReport
    entries: int
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    opened: dict[str, Any] = field(default_factory=dict)
    """The detail of the first `session.opened`: plan, version, AWS identity."""
    sessions: list[SessionSummary] = field(default_factory=list)
    drivers: list[str] = field(default_factory=list)
    timeline: list[StepRun] = field(default_factory=list)
    decisions: list[Happening] = field(default_factory=list)
    problems: list[Happening] = field(default_factory=list)
    notes: list[Happening] = field(default_factory=list)
    evidence: dict[str, list[EvidenceItem]] = field(default_factory=dict)
    """Evidence by step id ("" for entries outside any step), steps in order of appearance."""
    titles: dict[str, str] = field(default_factory=dict)
    marks: list[Mark] = field(default_factory=list)
    plan: Plan | None = None
    """The plan the session kept beside its log, when there is one that loads: budgets."""

    def plan_changed(self) -> bool:
        """Sessions of one log ran different plan files (the sha256 differs)."""
        return len({s.plan_sha256 for s in self.sessions if s.plan_sha256}) > 1


def build_board(entries: Iterable[LogEntry], verify: VerifyReport) -> BoardReport:
    builder = BoardBuilder()
    for entry in entries:
        builder.feed(entry)
    return builder.finish(verify)


def who(entry: LogEntry) -> str:
    return entry.who


def as_text(value: Any) -> str:
    """A detail value as report text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, ensure_ascii=False)


# The evidence as the log writes it: compact, UTF-8 as it is.
_evidence_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class BoardBuilder:
    """Fed the entries in order, one at a time; `finish` gives the report."""

    def __init__(self) -> None:
        # The verdict is known only once the whole log has been read: `finish` sets it.
        self.report = BoardReport(verify=VerifyReport("", "unreadable", 0), entries=0)
        self.running: dict[str, StepRun] = {}
        # Who wrote the last entry, in which session: counted once until either changes.
        self._counted: tuple[str, str] | None = None
        # Progress is sampled often: only each run's last sample goes into the evidence.
        self.progress: dict[str, tuple[LogEntry, int]] = {}
        self.handlers: dict[str, Callable[[LogEntry], None]] = {
            events.SESSION_OPENED: self._session_opened,
            events.SESSION_CLOSED: self._session_closed,
            events.SESSION_INTERRUPTED: self._session_interrupted,
            events.SESSION_HANGUP: self._problem("SSH session hung up"),
            events.LOCK_TAKEN_OVER: self._problem("driver lock taken over"),
            events.AUDIT_REPAIRED: self._audit_repaired,
            events.STEP_STARTED: self._step_started,
            events.STEP_PROGRESS: self._step_progress,
            events.STEP_SUCCEEDED: self._step_ended,
            events.STEP_FAILED: self._step_ended,
            events.STEP_SKIPPED: self._step_skipped,
            events.STEP_WITHDRAWN: self._step_withdrawn,
            events.GATE_OVERRIDDEN: self._gate_overridden,
            events.STEP_UNDONE: self._step_undone,
            events.STEP_UNDO_FAILED: self._step_undo_failed,
            events.NOTE_ADDED: self._note_added,
            events.NOTIFY_SENT: self._notified("notified"),
            events.NOTIFY_FAILED: self._problem("notification not sent"),
            events.PONR_PASSED: self._mark("ponr"),
            events.APPROVAL_ACCEPTED: self._mark("approval-accepted"),
            events.APPROVAL_REFUSED: self._mark("approval-refused"),
        }

    def feed(self, entry: LogEntry) -> None:
        report = self.report
        report.entries += 1
        report.first_ts = report.first_ts or entry.ts
        report.last_ts = entry.ts
        self.handlers.get(entry.event, self._other)(entry)
        if (entry.who, entry.session) != self._counted:
            self._count_actor(entry)  # after the handler: session.opened starts a new session

    def finish(self, verify: VerifyReport) -> BoardReport:
        for step in list(self.progress):
            self._flush_progress(step)
        self.report.verify = verify
        return self.report

    # --- sessions -------------------------------------------------------------------------

    def _count_actor(self, entry: LogEntry) -> None:
        # Only the driver writes the log (watchers read it), so every actor in it drove.
        self._counted = (entry.who, entry.session)
        label = who(entry)
        if label not in self.report.drivers:
            self.report.drivers.append(label)
        session = self._session(entry)
        if session is not None and label not in session.who:
            session.who.append(label)

    def _session(self, entry: LogEntry) -> SessionSummary | None:
        sessions = self.report.sessions
        return sessions[-1] if sessions and sessions[-1].session == entry.session else None

    def _session_opened(self, entry: LogEntry) -> None:
        self._end_runs("interrupted")
        if self.report.sessions and self.report.sessions[-1].ended is None:
            self.report.sessions[-1].how = "cut short (a new session opened)"
        if not self.report.opened:
            self.report.opened = dict(entry.detail)
        summary = SessionSummary(entry.session, entry.ts, entry.mode,
                                 as_text(entry.detail.get("plan_sha256")) or None, [who(entry)])
        self.report.sessions.append(summary)

    def _session_closed(self, entry: LogEntry) -> None:
        self._end_runs("interrupted")
        session = self._session(entry)
        if session is not None:
            session.ended, session.how = entry.ts, "closed"

    def _session_interrupted(self, entry: LogEntry) -> None:
        step, last = entry.detail.get("step") or entry.step, entry.detail.get("last_event")
        stopped_by = as_text(entry.detail.get("stopped_by"))
        text = (f"the cockpit was stopped ({stopped_by}) during step {as_text(step) or '?'}"
                if stopped_by else
                f"the previous session died during step {as_text(step) or '?'}")
        if last:
            text += f" (its last event: {as_text(last)})"
        self._add(self.report.problems, entry, "session interrupted", text, as_text(step) or None)

    def _audit_repaired(self, entry: LogEntry) -> None:
        removed = entry.detail.get("removed_bytes")
        digest = as_text(entry.detail.get("removed_sha256"))
        text = f"torn last line cut off: {as_text(removed)} bytes, sha256 {digest}"
        self._add(self.report.problems, entry, "audit log repaired", text)

    def _problem(self, what: str) -> Callable[[LogEntry], None]:
        def record(entry: LogEntry) -> None:
            text = ", ".join(f"{k}: {as_text(v)}" for k, v in entry.detail.items())
            self._add(self.report.problems, entry, what, text)

        return record

    def _notified(self, what: str) -> Callable[[LogEntry], None]:
        def record(entry: LogEntry) -> None:
            text = (f"{what}: {as_text(entry.detail.get('title'))} "
                    f"({as_text(entry.detail.get('target'))})")
            self._add(self.report.notes, entry, what, text, entry.step)

        return record

    def _mark(self, kind: str) -> Callable[[LogEntry], None]:
        def record(entry: LogEntry) -> None:
            detail = entry.detail
            if kind == "ponr":
                text = (f"point of no return of {as_text(detail.get('phase'))}: "
                        f"{as_text(detail.get('summary')) or 'passed'}")
            else:
                said = "approved" if kind == "approval-accepted" else "approval refused"
                why = detail.get("why") if kind == "approval-refused" else detail.get("reason")
                text = (f"{said}: {as_text(detail.get('action'))} by "
                        f"{as_text(detail.get('approver')) or entry.who} ({as_text(why)})")
            self.report.marks.append(Mark(entry.ts, entry.step, kind, text))
            self._other(entry)

        return record

    def _other(self, entry: LogEntry) -> None:
        self._collect_evidence(entry, entry.event)

    # --- steps ----------------------------------------------------------------------------

    def _step_started(self, entry: LogEntry) -> None:
        step = entry.step or "?"
        self._end_run(step, "interrupted")
        title = as_text(entry.detail.get("title"))
        self.report.titles.setdefault(step, title)
        attempt = entry.detail.get("attempt")
        run = StepRun(step, title or self._title(step), entry.ts, who(entry),
                      attempt=attempt if isinstance(attempt, int) else None,
                      why=as_text(entry.detail.get("reason")))
        self.running[step] = run
        self.report.timeline.append(run)

    def _step_progress(self, entry: LogEntry) -> None:
        step = entry.step or ""
        keys = entry.detail.keys()  # most of a long log: asked what it holds, not decoded
        if "warning" in keys and entry.detail["warning"]:
            self._warning(entry)  # said on opening (uploads a dead driver left open)
            return
        if "outputs" in keys:  # what an action did (ids, change ids): never sampled
            what = f"{as_text(entry.detail.get('message')) or 'action'}: outputs"
            self._add_evidence_of(entry, what, "outputs")
        if "evidence" in keys:
            _, count = self.progress.get(step, (entry, 0))
            self.progress[step] = (entry, count + 1)

    def _step_ended(self, entry: LogEntry) -> None:
        step = entry.step or "?"
        result = "succeeded" if entry.event == events.STEP_SUCCEEDED else "failed"
        run = self.running.pop(step, None) or self._run_from_end(entry)
        run.end, run.result = entry.ts, result
        run.duration_s = _duration(entry, run.start)
        if who(entry) != run.who:  # the lock was taken over mid-step
            run.who = f"{run.who} → {who(entry)}"
        reason = as_text(entry.detail.get("reason"))
        if result == "failed":
            self._add(self.report.problems, entry, "step failed", reason, step)
        elif entry.detail.get("marked_done"):  # vouched for by a person, not by a probe
            self._add(self.report.decisions, entry, "marked done", reason, step)
        self._flush_progress(entry.step or "")
        shown = self._gates_held(entry)
        evidence = entry.detail.get("evidence")
        if result == "succeeded" and shown and _all_shown(evidence, shown):
            return  # a step of gates alone: its gates' evidence is its evidence
        what = result
        if result == "succeeded" and entry.detail.get("summary"):
            what = f"succeeded: {as_text(entry.detail.get('summary'))}"
        self._collect_evidence(entry, what)

    def _gates_held(self, entry: LogEntry) -> list[Any]:
        """Each gate that held, with what it was judged on (a failed gate is the failure's
        own evidence; an overridden one is shown by its override)."""
        gates = entry.detail.get("gates")
        shown: list[Any] = []
        for gate in gates if isinstance(gates, list) else []:
            if isinstance(gate, dict) and gate.get("held"):
                what = f"gate held: {as_text(gate.get('gate'))}: {as_text(gate.get('summary'))}"
                self._add_evidence(entry, what, gate.get("evidence", {}))
                shown.append(gate.get("evidence", {}))
        return shown

    def _warning(self, entry: LogEntry) -> None:
        self._add(self.report.problems, entry, "warning", as_text(entry.detail.get("message")),
                  entry.step)
        uploads = entry.detail.get("orphaned_uploads")
        if uploads:
            self._add_evidence(entry, "warning: orphaned multipart uploads", uploads)

    def _run_from_end(self, entry: LogEntry) -> StepRun:
        # An end without a start we saw (it may lie before a repaired tear): place it by
        # its duration.
        step = entry.step or "?"
        run = StepRun(step, self._title(step), _start_from_duration(entry), who(entry))
        self.report.timeline.append(run)
        return run

    def _step_withdrawn(self, entry: LogEntry) -> None:
        """A manual prompt cancelled: the attempt shows, and nothing was done."""
        step = entry.step or "?"
        run = self.running.pop(step, None) or self._run_from_end(entry)
        run.end, run.result = entry.ts, "withdrawn"
        run.duration_s = _duration(entry, run.start)
        self._collect_evidence(entry, "withdrawn")

    def _step_skipped(self, entry: LogEntry) -> None:
        step = entry.step or "?"
        self.report.timeline.append(
            StepRun(step, self._title(step), entry.ts, who(entry), result="skipped"))
        reason = as_text(entry.detail.get("reason"))
        self._add(self.report.decisions, entry, "skipped", reason, step)

    def _gate_overridden(self, entry: LogEntry) -> None:
        gate = as_text(entry.detail.get("gate"))
        reason = as_text(entry.detail.get("reason"))
        self._add(self.report.decisions, entry, f"gate {gate} overridden", reason, entry.step)
        self._collect_evidence(entry, f"gate {gate} overridden")

    def _step_undone(self, entry: LogEntry) -> None:
        step = entry.step or "?"
        run = StepRun(step, self._title(step), _start_from_duration(entry), who(entry),
                      end=entry.ts, duration_s=_duration(entry, None), result="undone")
        self.report.timeline.append(run)
        self._collect_evidence(entry, "undone")

    def _step_undo_failed(self, entry: LogEntry) -> None:
        step = entry.step or "?"
        self.report.timeline.append(
            StepRun(step, self._title(step), None, who(entry), end=entry.ts, result="undo failed"))
        reason = as_text(entry.detail.get("reason"))
        self._add(self.report.problems, entry, "undo failed", reason, step)

    def _note_added(self, entry: LogEntry) -> None:
        self._add(self.report.notes, entry, "note", as_text(entry.detail.get("text")), entry.step)

    def _title(self, step: str) -> str:
        return self.report.titles.get(step, "")

    def _end_run(self, step: str, result: str) -> None:
        run = self.running.pop(step, None)
        if run is not None:
            run.result = result
        self._flush_progress(step)

    def _end_runs(self, result: str) -> None:
        for step in list(self.running):
            self._end_run(step, result)

    # --- evidence -------------------------------------------------------------------------

    def _flush_progress(self, step: str) -> None:
        sample = self.progress.pop(step, None)
        if sample is not None:
            entry, count = sample
            what = f"progress: {as_text(entry.detail.get('message'))}"
            if count > 1:
                what += f" (the last of {count} samples)"
            self._add_evidence_of(entry, what, "evidence")

    def _collect_evidence(self, entry: LogEntry, what: str) -> None:
        self._flush_progress(entry.step or "")
        if "evidence" in entry.detail:
            self._add_evidence_of(entry, what, "evidence")

    def _add_evidence(self, entry: LogEntry, what: str, evidence: Any) -> None:
        self._add_evidence_json(entry, what, _evidence_json(evidence))

    def _add_evidence_of(self, entry: LogEntry, what: str, key: str) -> None:
        """The detail's value at `key` as evidence: the JSON the line holds, when it is kept."""
        detail = entry.detail
        if isinstance(detail, LazyDetail):
            self._add_evidence_json(entry, what, detail.json_of(key))
        else:
            self._add_evidence(entry, what, detail[key])

    def _add_evidence_json(self, entry: LogEntry, what: str, evidence: str | bytes) -> None:
        item = EvidenceItem(entry.ts, what, who(entry), evidence)
        self.report.evidence.setdefault(entry.step or "", []).append(item)

    def _add(self, rows: list[Happening], entry: LogEntry, what: str, text: str,
             step: str | None = None) -> None:
        rows.append(Happening(entry.ts, step, what, text, who(entry)))


def _all_shown(evidence: Any, shown: list[Any]) -> bool:
    """The step's evidence says nothing the gates' did not."""
    if not evidence:
        return True
    return isinstance(evidence, dict) and all(value in shown for value in evidence.values())


def _duration(entry: LogEntry, start: datetime | None) -> float | None:
    recorded = entry.detail.get("duration_s")
    if isinstance(recorded, int | float) and not isinstance(recorded, bool):
        return float(recorded)
    return (entry.ts - start).total_seconds() if start is not None else None


def _start_from_duration(entry: LogEntry) -> datetime | None:
    seconds = _duration(entry, None)
    return entry.ts - timedelta(seconds=seconds) if seconds is not None else None
