"""Runs steps: gates -> action -> wait until -> record. The only writer of the audit log.

Every transition is in the log before it is reported; a step's outcome carries the
evidence it was judged on. State is never kept on the side: it is derived from the
entries, so what the driver, a restarted driver and a watcher see is the same.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry
from cockpit.estate.handle import EstateHandle
from cockpit.plan.models import Plan, Step
from cockpit.runner import actions, probes
from cockpit.runner.opening import OpenedSession
from cockpit.runner.publish import StatePublisher
from cockpit.runner.state import RunState, Status, StepState, derive


class StepRefused(RuntimeError):
    """The step cannot run now (dependencies, another step running, already done)."""


# Asked when a `manual` step's action runs: (step, instruction) -> the engineer's note,
# or None when they did not confirm (the step is withdrawn and stays ready).
AskManual = Callable[[Step, str], str | None]


@dataclass(frozen=True)
class Pacing:
    """How often the runner looks while it waits; nominal seconds, scaled like every
    duration (a rehearsal at speed N looks N times as often)."""

    time_scale: float = 1.0
    until_poll_s: float = 5.0  # between polls of an `until`
    progress_every_s: float = 30.0  # an unchanged wait is still sampled into the log


def _nobody_confirms(step: Step, instruction: str) -> None:
    return None


class Runner:
    """Runs the steps of one opened session; the session layer opens and hands it over."""

    # The statuses from which a step may be run (again).
    RUNNABLE = frozenset({Status.READY, Status.FAILED, Status.UNDONE, Status.INTERRUPTED})

    def __init__(self, plan: Plan, handle: EstateHandle, session: OpenedSession, *,
                 pacing: Pacing | None = None, ask_manual: AskManual | None = None) -> None:
        self.plan = plan
        self.handle = handle
        self.pacing = pacing or Pacing()
        self.time_scale = self.pacing.time_scale
        self.ask_manual: AskManual = ask_manual or _nobody_confirms
        self._session = session
        self.publisher = StatePublisher(session.files.state, session.redactor)
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._busy: str | None = None
        self._closed = False
        self.publish()

    @property
    def cancelled(self) -> threading.Event:
        """Set while the session stops waiting (quit, hang-up): a prompt gives up too."""
        return self._cancel

    # --- reading ------------------------------------------------------------------------

    @property
    def warnings(self) -> list[str]:
        return list(self._session.warnings)

    @property
    def folder(self) -> Path:
        return self._session.files.path

    @property
    def entries(self) -> list[AuditEntry]:
        with self._lock:
            return list(self._session.entries)

    def state(self) -> RunState:
        with self._lock:
            return derive(self.plan, self._session.entries)

    def driver_label(self) -> str:
        holder = self._session.lock.holder
        return holder.describe() if holder else "?"

    def step_state(self, step_id: str) -> StepState:
        return self.state().steps[step_id]

    # --- commands -----------------------------------------------------------------------

    def run_step(self, step_id: str, *, override_reason: str | None = None) -> StepState:
        """Run one step to its end; returns its state as the log now says."""
        step = self.plan.step(step_id)
        if override_reason is not None:
            self._require_reason(override_reason)  # a blank reason overrides nothing
        self._claim(step, allow=set(self.RUNNABLE))
        try:
            self._run_to_an_end(step, override_reason)
        finally:
            self._release()
        return self.step_state(step_id)

    def next_ready(self) -> str | None:
        ready = self.state().next_ready()
        return ready.step_id if ready else None

    def recheck_step(self, step_id: str) -> StepState:
        """After an interruption: wait for the step's `until` as a run would (to its
        timeout: what was started may still be converging), without acting again."""
        step = self.plan.step(step_id)
        self._claim(step, allow={Status.INTERRUPTED, Status.FAILED})
        try:
            started = self._start(step, reason="re-check after interruption")
            verdict = self._wait_until(step, self._probe_ctx(step)) if step.until else \
                probes.Verdict(False, "nothing to re-check: the step has no `until`")
            self._finish(step, started, verdict)
        finally:
            self._release()
        return self.step_state(step_id)

    def mark_done(self, step_id: str, reason: str) -> None:
        """The engineer vouches that a step is done (e.g. after an interruption)."""
        self._require_reason(reason)
        self._refuse_if(step_id, {Status.RUNNING, Status.SUCCEEDED, Status.SKIPPED})
        self._append(events.STEP_SUCCEEDED, step_id, {
            "duration_s": 0.0, "reason": f"marked done: {reason}", "marked_done": True,
            "evidence": {}})

    def skip_step(self, step_id: str, reason: str) -> None:
        self._require_reason(reason)
        self._refuse_if(step_id, {Status.RUNNING, Status.SUCCEEDED, Status.SKIPPED})
        self._append(events.STEP_SKIPPED, step_id, {"reason": reason})

    def _refuse_if(self, step_id: str, refused: set[Status]) -> None:
        """Skip and mark-done are records, not runs: they may not rewrite what happened."""
        state = self.step_state(step_id)
        if state.status in refused:
            raise StepRefused(f"{step_id} is {state.status.value}")

    def undo_step(self, step_id: str) -> StepState:
        step = self.plan.step(step_id)
        if step.undo is None:
            raise StepRefused(f"{step_id} has no undo")
        self._claim(step, allow={Status.SUCCEEDED, Status.FAILED, Status.INTERRUPTED})
        try:
            self._undo(step)
        finally:
            self._release()
        return self.step_state(step_id)

    def add_note(self, text: str) -> None:
        self._require_reason(text, what="note")
        self._append(events.NOTE_ADDED, None, {"text": text})

    def cancel(self) -> None:
        """Stop waiting: a running step ends as failed (cancelled), on the record."""
        self._cancel.set()

    def close(self, *, hangup: bool = False, wait_s: float = 30.0) -> None:
        """End the session on the record; a running step is first brought to its end."""
        self.cancel()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._idle.wait_for(lambda: self._busy is None, timeout=wait_s)
            if hangup:
                self._append(events.SESSION_HANGUP, None, {"signal": "SIGHUP"})
            self._append(events.SESSION_CLOSED, None, {"summary": self._summary()})
            self._session.writer.close()
            self._session.lock.release()

    # --- the step's life ----------------------------------------------------------------

    def _run_to_an_end(self, step: Step, override_reason: str | None) -> None:
        """Whatever happens inside, the step ends on the record: a started step is never
        left open by an exception (a probe or an adapter that raised)."""
        entries_before = len(self._session.entries)
        try:
            self._run(step, override_reason)
        except Exception as exc:
            if self._still_open(step.id, entries_before):
                self._append(events.STEP_FAILED, step.id, {
                    "duration_s": 0.0, "evidence": {},
                    "reason": f"internal error: {type(exc).__name__}: {exc}"})
            raise

    def _still_open(self, step_id: str, since: int) -> bool:
        started = [e for e in self._session.entries[since:] if e.step == step_id]
        return bool(started) and started[-1].event not in (
            events.STEP_SUCCEEDED, events.STEP_FAILED, events.STEP_WITHDRAWN)

    def _run(self, step: Step, override_reason: str | None) -> None:
        started = self._start(step)
        ctx = self._probe_ctx(step)
        if not self._pass_gates(step, started, ctx, override_reason):
            return
        if step.do is not None and not self._act(step, started, ctx):
            return
        if step.until:
            verdict = self._wait_until(step, ctx)
        else:
            verdict = probes.Verdict(True, "action done" if step.do else "no condition")
        self._finish(step, started, verdict)

    def _start(self, step: Step, reason: str | None = None) -> float:
        attempt = self.step_state(step.id).attempt + 1
        detail: dict[str, Any] = {
            "title": step.title, "kind": step.do.kind if step.do else "check",
            "phase": self.plan.phase_of(step.id).id, "attempt": attempt}
        if reason:
            detail["reason"] = reason
        self._append(events.STEP_STARTED, step.id, detail)
        return time.monotonic()

    def _pass_gates(self, step: Step, started: float, ctx: probes.ProbeContext,
                    override_reason: str | None) -> bool:
        for gate in step.gates:
            verdict = probes.judge(gate, ctx)
            if verdict.ok:
                continue
            if not override_reason:
                self._fail(step, started, f"gate failed: {probes.describe(gate)}: "
                                          f"{verdict.summary}", verdict.evidence)
                return False
            self._append(events.GATE_OVERRIDDEN, step.id, {
                "gate": probes.describe(gate), "reason": override_reason,
                "evidence": verdict.evidence, "seen": verdict.summary})
        return True

    def _act(self, step: Step, started: float, ctx: probes.ProbeContext) -> bool:
        assert step.do is not None
        try:
            outputs = actions.perform(step.do, self._action_ctx(step))
        except actions.ManualNotConfirmed as exc:
            self._append(events.STEP_WITHDRAWN, step.id, {
                "duration_s": round(time.monotonic() - started, 3), "reason": str(exc)})
            return False
        except Exception as exc:  # any failure of the action is the step's outcome
            said = str(exc) if isinstance(exc, actions.ActionFailed) else \
                f"{type(exc).__name__}: {exc}"
            self._fail(step, started, f"{actions.describe(step.do)} failed: {said}",
                       getattr(exc, "evidence", {}))
            return False
        ctx.outputs[step.id] = outputs
        self._append(events.STEP_PROGRESS, step.id, {
            "message": f"done: {actions.describe(step.do)}", "outputs": outputs})
        return True

    def _wait_until(self, step: Step, ctx: probes.ProbeContext) -> probes.Verdict:
        deadline = time.monotonic() + step.timeout / self.time_scale
        last_summary, last_logged = "", 0.0
        interval = min(self.pacing.until_poll_s, max(step.timeout / 20, 0.5)) / self.time_scale
        resample = self.pacing.progress_every_s / self.time_scale
        while True:
            verdict = probes.judge_all(step.until, ctx)
            now = time.monotonic()
            if verdict.ok:
                return verdict
            if verdict.summary != last_summary or now - last_logged > resample:
                self._append(events.STEP_PROGRESS, step.id,
                             {"message": verdict.summary, "evidence": verdict.evidence})
                last_summary, last_logged = verdict.summary, now
            if now >= deadline:
                return probes.Verdict(False, f"timed out after {_human(step.timeout)} waiting: "
                                             f"{verdict.summary}", verdict.evidence)
            if self._cancel.wait(min(interval, max(0.0, deadline - now))):
                return probes.Verdict(False, f"cancelled while waiting: {verdict.summary}",
                                      verdict.evidence)

    def _finish(self, step: Step, started: float, verdict: probes.Verdict) -> None:
        if verdict.ok:
            self._append(events.STEP_SUCCEEDED, step.id, {
                "duration_s": round(time.monotonic() - started, 3), "summary": verdict.summary,
                "evidence": verdict.evidence})
        else:
            self._fail(step, started, verdict.summary, verdict.evidence)

    def _fail(self, step: Step, started: float, reason: str, evidence: dict[str, Any]) -> None:
        self._append(events.STEP_FAILED, step.id, {
            "duration_s": round(time.monotonic() - started, 3), "reason": reason,
            "evidence": evidence})

    def _undo(self, step: Step) -> None:
        assert step.undo is not None
        started = time.monotonic()
        try:
            outputs = actions.perform(step.undo, self._action_ctx(step))
        except Exception as exc:  # an undo that fails must be on the record, not raised
            self._append(events.STEP_UNDO_FAILED, step.id, {
                "reason": f"{actions.describe(step.undo)}: {type(exc).__name__}: {exc}"})
            return
        self._append(events.STEP_UNDONE, step.id, {
            "duration_s": round(time.monotonic() - started, 3),
            "action": actions.describe(step.undo), "outputs": outputs, "evidence": outputs})

    # --- plumbing -----------------------------------------------------------------------

    def _claim(self, step: Step, allow: set[Status]) -> None:
        with self._lock:
            if self._busy is not None:
                raise StepRefused(f"{self._busy} is running; one step at a time")
            state = self.step_state(step.id)
            if state.status not in allow:
                waiting = f" (waiting on {', '.join(state.waiting_on)})" if state.waiting_on else ""
                raise StepRefused(f"{step.id} is {state.status}{waiting}")
            self._busy = step.id
            self._cancel.clear()

    def _release(self) -> None:
        with self._lock:
            self._busy = None
            self._idle.notify_all()
        self.publish()

    def _append(self, event: str, step: str | None, detail: dict[str, Any]) -> AuditEntry:
        with self._lock:
            entry = self._session.writer.append(event, step=step, detail=detail)
            self._session.entries.append(entry)
        self.publish()
        return entry

    def publish(self) -> None:
        run = self.state()
        self.publisher.update(
            plan=self.plan.plan.name, session=str(self.folder),
            head={"seq": run.head[0], "hash": run.head[1]} if run.head else None,
            closed=run.closed, steps={sid: _public(s) for sid, s in run.steps.items()},
            driver=self._session.lock.holder_info())
        self.publisher.publish()

    def _probe_ctx(self, step: Step) -> probes.ProbeContext:
        run = self.state()
        outputs = {sid: s.outputs for sid, s in run.steps.items() if s.outputs}
        return probes.ProbeContext(self.handle, outputs, step.id, step.do)

    def _action_ctx(self, step: Step) -> actions.ActionContext:
        def progress(message: str, detail: dict[str, Any]) -> None:
            self._append(events.STEP_PROGRESS, step.id, {"message": message, **detail})

        def confirm(instruction: str) -> str | None:
            return self.ask_manual(step, instruction)

        return actions.ActionContext(self.handle, confirm, progress,
                                     self.pacing.until_poll_s / self.time_scale)

    def _summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in self.state().steps.values():
            counts[state.status.value] = counts.get(state.status.value, 0) + 1
        return counts

    @staticmethod
    def _require_reason(text: str, what: str = "reason") -> None:
        if not text or not text.strip():
            raise ValueError(f"a {what} is required")


def _public(state: StepState) -> dict[str, Any]:
    return {"status": state.status.value, "attempt": state.attempt,
            "started_at": state.started_at.isoformat() if state.started_at else None,
            "ended_at": state.ended_at.isoformat() if state.ended_at else None,
            "duration_s": state.duration_s, "actor": state.actor, "reason": state.reason,
            "message": state.message, "waiting_on": state.waiting_on}


def _human(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"

