"""Runs steps: gates -> action -> wait until -> record. The only writer of the audit log.

Every transition is in the log before it is reported; a step's outcome carries the
evidence it was judged on. State is never kept on the side: it is derived from the
entries, so what the driver, a restarted driver and a watcher see is the same.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import utcnow
from cockpit.estate.sql import describe_sql_error
from cockpit.notify.sender import Delivery, Notifier
from cockpit.plan.models import Plan, Step
from cockpit.runner import actions, approvals, probes, rollback
from cockpit.runner import point_of_no_return as ponr
from cockpit.runner.kinds import EFFECTS
from cockpit.runner.kinds.s3 import LeftOpen, left_open
from cockpit.runner.milestones import milestones_of, past_budget
from cockpit.runner.opening import OpenedSession
from cockpit.runner.publish import StatePublisher
from cockpit.runner.shipping import LogShipper, ends_shipping, keeps_shipping
from cockpit.runner.state import RECHECK_REASON, RunState, Status, StepState, derive


class StepRefused(RuntimeError):
    """The step cannot run now (dependencies, already running or done, the session
    closing)."""


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


NOTIFY_EVENTS = frozenset({events.NOTIFY_SENT, events.NOTIFY_FAILED})


class Runner:
    """Runs the steps of one opened session; the session layer opens and hands it over."""

    # The statuses from which a step may be run (again).
    RUNNABLE = frozenset({Status.READY, Status.FAILED, Status.UNDONE, Status.INTERRUPTED})

    def __init__(self, plan: Plan, handle: EstateHandle, session: OpenedSession, *,
                 pacing: Pacing | None = None, ask_manual: AskManual | None = None,
                 notifier: Notifier | None = None) -> None:
        self.plan = plan
        self.handle = handle
        self.pacing = pacing or Pacing()
        self.time_scale = self.pacing.time_scale
        self.ask_manual: AskManual = ask_manual or _nobody_confirms
        self._session = session
        self.publisher = StatePublisher(session.files.state, session.redactor)
        self._lock = threading.RLock()
        self._cancel = threading.Event()  # the whole session stops waiting
        self._idle = threading.Condition(self._lock)
        # The steps running now, each with its own cancel: streams run side by side, and
        # cancelling one (the engineer's choice) leaves the others running.
        self._running: dict[str, threading.Event] = {}
        self._closed = False
        self._close_done = threading.Event()
        self._stopped_by: str | None = None  # why the cockpit is stopping (cancel, close)
        self._cut_short: list[str] = []  # the steps the stop cut short
        self.notifier = notifier
        self._past_budget_told: set[tuple[str, int]] = set()
        self._record_closed = False  # `session.closed` is written: nothing may follow it
        for secret in notifier.secrets() if notifier else []:
            session.redactor.add_secret(secret)
        self._last_run = derive(self.plan, self._session.entries)  # as of the last entry
        self._shipper: LogShipper | None = None  # log shipping going on after its step
        self._first_write: ponr.FirstWriteWatcher | None = None  # the point of no return's
        self._warn_of_orphans()
        self.publish()

    @property
    def cancelled(self) -> threading.Event:
        """Set once the session stops waiting on every step (quit, hang-up)."""
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

    def heartbeat(self) -> None:
        """The driver's loop is alive: say so in the lock, for watchers and take-overs;
        and what only the clock tells (a step past its budget) and the notices delivered
        since are put on the record."""
        self._session.lock.beat()
        if self.notifier is None:
            return
        for notice in past_budget(self.state(), self.plan, utcnow(), self._past_budget_told,
                                  time_scale=self.time_scale):
            self.notifier.submit(notice)
        self._record_deliveries()

    def driver_label(self) -> str:
        holder = self._session.lock.holder
        return holder.describe() if holder else "?"

    def step_state(self, step_id: str) -> StepState:
        return self.state().step(step_id)

    # --- commands -----------------------------------------------------------------------

    def run_step(self, step_id: str, *, override_reason: str | None = None) -> StepState:
        """Run one step to its end; returns its state as the log now says."""
        step = self.plan.step(step_id)
        if override_reason is not None:
            self._require_reason(override_reason)  # a blank reason overrides nothing
            self._second_person(step, "override")
        alone = rollback.outside_rollback(self.plan, self.state(), step_id)
        if alone is not None:
            raise StepRefused(alone)
        if ends_shipping(step):
            self.stop_shipping()
        # a rollback step is never `ready` (nothing waits for it): its rollback runs it
        self._claim(step, allow=set(self.RUNNABLE)
                    | rollback.runnable(self.plan, self.state(), step_id))
        try:
            self._arm_point_of_no_return(step)
            self._run_to_an_end(step, override_reason)
        finally:
            self._release(step)
        succeeded = self.step_state(step_id).status is Status.SUCCEEDED
        if keeps_shipping(step) and succeeded:
            self._ship_in_background(step)
        if succeeded:
            self._declared_point_passed(step)
        return self.step_state(step_id)

    # --- the rollback path ----------------------------------------------------------------

    def roll_back(self, on_step: Callable[[StepState], None] | None = None) -> str:
        """Run the window's phase's rollback path, its steps in order, each as any step
        runs (`on_step` told of each as it ends); returns how it ended. Refused, on the
        record with why, once the phase's point of no return has passed (or when there is
        nothing to roll back)."""
        with self._lock:
            entries = self._session.entries
            path = rollback.current_path(self.plan, entries)
            refused = rollback.refusal(self.plan, self.state(), entries)
            if refused is not None:
                self._append(events.ROLLBACK_REFUSED, None, {
                    "phase": path.phase.id if path else None, "reason": refused})
                raise StepRefused(refused)
            assert path is not None
            steps = rollback.to_run(path, self.state())
            self._append(events.ROLLBACK_STARTED, None, {
                "phase": path.phase.id, "steps": [s.id for s in steps],
                "projected_s": path.duration_s})
        started = time.monotonic()
        for step in steps:
            held = self._rollback_step(step)
            if on_step is not None:
                on_step(self.step_state(step.id))
            if not held:
                reason = self.step_state(step.id).reason or "did not succeed"
                self._end_rollback(path, started, "stopped", at=step.id, reason=reason)
                return f"rollback stopped at {step.id}: {reason}"
        self._end_rollback(path, started, "rolled back")
        return f"{path.phase.id} rolled back"

    def _rollback_step(self, step: Step) -> bool:
        seen = rollback.already_so(step, self._probe_ctx(step))
        if seen is not None:
            self._append(events.STEP_SKIPPED, step.id, {
                "reason": f"already so: {seen.summary}", "evidence": seen.evidence})
            return True
        return self.run_step(step.id).status is Status.SUCCEEDED

    def _end_rollback(self, path: rollback.RollbackPath, started: float, outcome: str,
                      **detail: str) -> None:
        with self._lock:
            if self._closed:  # the session is closing: the cut-short step says the rest
                return
            self._append(events.ROLLBACK_ENDED, None, {
                "phase": path.phase.id, "outcome": outcome,
                "duration_s": round(time.monotonic() - started, 3), **detail})

    # --- the point of no return -----------------------------------------------------------

    def _arm_point_of_no_return(self, step: Step) -> None:
        """The declared step starts: the new primary's rows now are the baseline the first
        production write is told by."""
        phase = ponr.declared(self.plan, step.id)
        run = self.state()
        if phase is None or phase.id in run.ponr_armed or phase.id in run.ponr_passed:
            return
        watch = ponr.watch_of(self.plan, phase)
        if watch is None:
            return
        try:
            baseline = ponr.rows(self.handle, watch)
        except Exception as exc:  # the step's own success passes it instead
            self._append(events.PONR_ARMED, step.id, {
                "phase": phase.id, "endpoint": watch.endpoint, "database": watch.database,
                "error": describe_sql_error(self.handle, exc)})
            return
        self._append(events.PONR_ARMED, step.id, {
            "phase": phase.id, "endpoint": watch.endpoint, "database": watch.database,
            "baseline": baseline})
        self._watch_first_write(phase, step, watch, baseline)

    def resume_point_of_no_return(self) -> bool:
        """On opening: a watch a driver before this one began, carried on from its
        recorded baseline. Whether one was."""
        run = self.state()
        for phase_id, armed in run.ponr_armed.items():
            baseline = armed.detail.get("baseline")
            phase = next((p for p in self.plan.phases if p.id == phase_id), None)
            watch = ponr.watch_of(self.plan, phase) if phase else None
            if phase_id in run.ponr_passed or not isinstance(baseline, dict) or \
                    phase is None or watch is None or armed.step is None:
                continue
            self._watch_first_write(phase, self.plan.step(armed.step), watch,
                                    {str(k): int(v) for k, v in baseline.items()})
            return True
        return False

    def _watch_first_write(self, phase: Any, step: Step, watch: ponr.Watch,
                           baseline: dict[str, int]) -> None:
        def passed(evidence: dict[str, Any]) -> None:
            self._append(events.PONR_PASSED, step.id, {
                "phase": phase.id, "rollback": "forward-fix only", **evidence})

        self.stop_watching()
        every = max(0.05, ponr.WATCH_EVERY_S / self.time_scale)
        self._first_write = ponr.FirstWriteWatcher(self.handle, watch, baseline, every, passed)
        self._first_write.start()

    def stop_watching(self) -> None:
        watcher, self._first_write = self._first_write, None
        if watcher is not None:
            watcher.stop()

    def _declared_point_passed(self, step: Step) -> None:
        """With nothing to watch, the declared step's success is the moment."""
        phase = ponr.declared(self.plan, step.id)
        run = self.state()
        if phase is None or phase.id in run.ponr_passed:
            return
        armed = run.ponr_armed.get(phase.id)
        if armed is not None and isinstance(armed.detail.get("baseline"), dict):
            return  # the watch decides
        self._append(events.PONR_PASSED, step.id, {
            "phase": phase.id, "rollback": "forward-fix only",
            "summary": f"{step.id} done (no new primary to watch for the first write)"})

    # --- log shipping in the background ---------------------------------------------------

    def resume_shipping(self) -> bool:
        """On opening: log shipping that a driver before this one kept going, started
        again, unless the window has reached the chain. Whether it was."""
        run = self.state()
        steps = self.plan.steps()
        reached = any(ends_shipping(s) and run.steps[s.id].status is not Status.PENDING
                      and run.steps[s.id].status is not Status.READY for s in steps)
        shipping = [s for s in steps if keeps_shipping(s)
                    and run.steps[s.id].status is Status.SUCCEEDED]
        if reached or not shipping:
            return False
        self._append(events.STEP_PROGRESS, shipping[-1].id, {
            "message": "log shipping goes on in the background, resumed by this driver",
            "background": True})
        self._ship_in_background(shipping[-1])
        return True

    def stop_shipping(self, *, finish: bool = True) -> None:
        """Log shipping ends: its round in flight finished first (before the fence, or a
        close), or left to its Agent jobs (`finish` False: the cockpit is stopping)."""
        shipper, self._shipper = self._shipper, None
        if shipper is not None:
            shipper.stop(finish=finish)

    def _ship_in_background(self, step: Step) -> None:
        self.stop_shipping()
        ctx = self._action_ctx(step)
        ctx.progress = None  # each round is recorded once, by the shipper

        def record(message: str, detail: dict[str, Any]) -> None:
            self._append(events.STEP_PROGRESS, step.id, {"message": message, **detail})

        self._shipper = LogShipper(step, ctx, ctx.outputs, record)
        self._shipper.start()

    def next_ready(self) -> str | None:
        ready = self.state().next_ready()
        return ready.step_id if ready else None

    def recheck_step(self, step_id: str) -> StepState:
        """After an interruption, judge whether the step is done without acting again: by
        its `until`, waited for as a run would (to its timeout: what was started may still
        be converging); without one, by what the estate shows for its action (has it taken
        effect? waited for only while it is on its way); a step of gates alone, by its
        gates. A manual action cannot be judged, and the re-check says so. A re-check that
        does not find the step done leaves it failed and still to recover: it may be run
        again, resumed or marked done, in this session or the next."""
        step = self.plan.step(step_id)
        self._claim(step, allow={Status.INTERRUPTED, Status.FAILED})
        try:
            started = self._start(step, reason=RECHECK_REASON, recheck=True)
            self._finish(step, started, self._recheck(step, self._probe_ctx(step)))
        finally:
            self._release(step)
        return self.step_state(step_id)

    def can_recheck(self, step_id: str) -> bool:
        """Whether a re-check can tell that the step is done: it has an `until`, an action
        whose effect the estate shows, or gates alone (a manual action: no)."""
        step = self.plan.step(step_id)
        if step.until:
            return True
        if step.do is not None:
            return EFFECTS.get(type(step.do)) is not None
        return bool(step.gates)

    def orphaned_uploads(self, step_id: str) -> LeftOpen | None:
        """The multipart uploads open under the key of a step that backs up into S3 (the
        parts of a backup cut short, kept and billed by S3 until aborted); None when the
        step backs nothing up there, or nothing is open."""
        found = left_open(self.plan.step(step_id), self.handle)
        return found if found is not None and found.uploads else None

    def abort_orphans(self, step_id: str) -> StepState | None:
        """Before a backup cut short runs again: abort the uploads it left open with the
        step's undo (`s3.abort_multipart`), on the record as that undo. None when nothing
        is open, or the step's undo is not that abort."""
        found = self.orphaned_uploads(step_id)
        if found is None or found.abort is None:
            return None
        return self.undo_step(step_id)

    def mark_done(self, step_id: str, reason: str) -> None:
        """The engineer vouches that a step is done (e.g. after an interruption)."""
        self._require_reason(reason)
        self._refuse_if(step_id, {Status.RUNNING, Status.SUCCEEDED, Status.SKIPPED})
        self._second_person(self.plan.step(step_id), "mark-done")
        self._append(events.STEP_SUCCEEDED, step_id, {
            "duration_s": 0.0, "reason": f"marked done: {reason}", "marked_done": True,
            "evidence": {}})

    def skip_step(self, step_id: str, reason: str) -> None:
        self._require_reason(reason)
        self._refuse_if(step_id, {Status.RUNNING, Status.SUCCEEDED, Status.SKIPPED})
        self._second_person(self.plan.step(step_id), "skip")
        self._append(events.STEP_SKIPPED, step_id, {"reason": reason})

    def _second_person(self, step: Step, action: str) -> None:
        """The two-person rule: an approval for this step and action from another login,
        taken once and recorded; the driver's own are refused on the record."""
        if not step.second_person:
            return
        used = {str(e.detail.get("id")) for e in self.entries
                if e.event in (events.APPROVAL_ACCEPTED, events.APPROVAL_REFUSED)}
        for approval in approvals.pending(self.folder, step.id, action):
            if approval.id in used:
                continue
            detail = {"id": approval.id, "action": action, "approver": approval.approver,
                      "reason": approval.reason, "approved_at": approval.at.isoformat()}
            if approval.uid == os.getuid():
                self._append(events.APPROVAL_REFUSED, step.id, {
                    **detail, "why": "the driver's own login cannot be the second person"})
                continue
            self._append(events.APPROVAL_ACCEPTED, step.id, detail)
            return
        self._append(events.APPROVAL_ASKED, step.id, {"action": action})
        raise StepRefused(
            f"{action} of {step.id} needs a second person: another engineer runs, from their "
            f"own login, cockpit approve {self.folder} {step.id} --action {action} "
            "--reason '...'")

    def _refuse_if(self, step_id: str, refused: set[Status]) -> None:
        """Skip and mark-done are records, not runs: they may not rewrite what happened."""
        state = self.step_state(step_id)
        if state.status in refused:
            raise StepRefused(f"{step_id} is {state.status.value}")
        if step_id in self.running_now():  # claimed, its start not yet on the record
            raise StepRefused(f"{step_id} is running")

    def undo_step(self, step_id: str) -> StepState:
        step = self.plan.step(step_id)
        if step.undo is None:
            raise StepRefused(f"{step_id} has no undo")
        refused = ponr.undo_refused(self.plan, step_id, self.state().ponr_passed)
        if refused is not None:
            raise StepRefused(refused)
        self._second_person(step, "undo")
        self._claim(step, allow={Status.SUCCEEDED, Status.FAILED, Status.INTERRUPTED})
        try:
            self._undo(step)
        finally:
            self._release(step)
        return self.step_state(step_id)

    def add_note(self, text: str) -> None:
        self._require_reason(text, what="note")
        self._append(events.NOTE_ADDED, None, {"text": text})

    def cancel(self, step_id: str | None = None, *, stopped_by: str | None = None) -> list[str]:
        """Stop waiting: a running step ends as failed (cancelled), on the record. Every
        running step, or only `step_id` (the others go on). Returns the steps cancelled.

        `stopped_by` (a signal's name, or "terminal lost"): the cockpit itself is stopping,
        and every running step with it. The steps this cuts short are then also marked
        interrupted when the session closes (`session.interrupted`, after their ends), so
        that the next driver re-checks them, runs them again or resumes them, as after any
        interrupted run, rather than finding them failed on their merits."""
        with self._lock:
            if stopped_by is not None:
                step_id = None
                if self._stopped_by is None:
                    self._stopped_by, self._cut_short = stopped_by, list(self._running)
            if step_id is None:
                self._cancel.set()
            cancelled = [s for s in self._running if step_id is None or s == step_id]
            for step in cancelled:
                self._running[step].set()
            return cancelled

    def close(self, *, hangup: bool = False, wait_s: float = 30.0) -> None:
        """End the session on the record; a running step is first brought to its end (it
        is cancelled, so it ends at its next look; it is given `wait_s`). Two threads may
        close (a stop's and the screen's): the second waits until the first has finished,
        so nothing is appended after `session.closed`, and nobody exits mid-close. The lock
        is released only once `session.closed` is on disk."""
        self.cancel()
        self.stop_watching()
        self.stop_shipping(finish=self._stopped_by is None)
        with self._lock:
            first, self._closed = not self._closed, True
            if first:
                try:
                    self._let_the_running_step_end(wait_s)
                    self._mark_cut_short()
                    if hangup:
                        self._append(events.SESSION_HANGUP, None, self._hangup_detail())
                    if self.notifier is not None:  # bounded: a webhook down must not hold it
                        self._record(self.notifier.finish())
                    self._append(events.SESSION_CLOSED, None, {"summary": self._summary()})
                    self._record_closed = True
                finally:
                    self._session.writer.close()
                    self._close_done.set()
                self._session.lock.release()
        if not first:
            self._close_done.wait()

    def _let_the_running_step_end(self, wait_s: float) -> None:
        """Close's wait for every running step (the lock is let go meanwhile, so each can
        write its end)."""
        deadline = time.monotonic() + wait_s
        while self._running and (left := deadline - time.monotonic()) > 0:
            for step_id, cancel in self._running.items():
                cancel.set()  # a step claimed after the cancel stops too
                if self._stopped_by is not None and step_id not in self._cut_short:
                    self._cut_short.append(step_id)
            self._idle.wait(min(left, 0.1))

    def _mark_cut_short(self) -> None:
        """After a stop: each step it cut short (ended failed by the cancel, or still not
        ended) is interrupted, for the next driver to recover."""
        if self._stopped_by is None:
            return
        for step in self._cut_short:
            if self.step_state(step).status not in (Status.FAILED, Status.RUNNING):
                continue  # it ended on its own merits (succeeded), or was withdrawn
            last = next(e.event for e in reversed(self._session.entries) if e.step == step)
            self._append(events.SESSION_INTERRUPTED, step, {
                "step": step, "last_event": last, "stopped_by": self._stopped_by})

    def _hangup_detail(self) -> dict[str, Any]:
        if self._stopped_by in (None, "SIGHUP"):
            return {"signal": "SIGHUP"}
        return {"signal": None, "cause": self._stopped_by}  # the terminal went without one

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
        gates = self._pass_gates(step, started, ctx, override_reason)
        if gates is None:
            return
        if step.do is not None and not self._act(step, started, ctx, gates):
            return
        if step.until:
            verdict = self._wait_until(step, ctx)
        elif step.do is not None:
            verdict = probes.Verdict(True, "action done")
        elif gates:
            verdict = _gates_held(gates)
        else:
            verdict = probes.Verdict(True, "no condition")
        self._finish(step, started, verdict, gates)

    def _start(self, step: Step, reason: str | None = None, *, recheck: bool = False) -> float:
        attempt = self.step_state(step.id).attempt + 1
        detail: dict[str, Any] = {
            "title": step.title, "kind": step.do.kind if step.do else "check",
            "phase": self.plan.phase_of(step.id).id, "attempt": attempt}
        if reason:
            detail["reason"] = reason
        if recheck:
            detail["recheck"] = True
        self._append(events.STEP_STARTED, step.id, detail)
        return time.monotonic()

    def _pass_gates(self, step: Step, started: float, ctx: probes.ProbeContext,
                    override_reason: str | None) -> list[dict[str, Any]] | None:
        """Judge every gate; each verdict and its evidence is kept for the step's end
        (held ones too: a go/no-go is proven by what was seen). None: a gate failed, and
        the step with it."""
        judged: list[dict[str, Any]] = []
        for gate in step.gates:
            verdict = probes.judge(gate, ctx)
            judged.append({"gate": probes.describe(gate), "kind": gate.kind,
                           "held": verdict.ok, "summary": verdict.summary,
                           "evidence": verdict.evidence})
            if verdict.ok:
                continue
            if not override_reason:
                self._fail(step, started, f"gate failed: {probes.describe(gate)}: "
                                          f"{verdict.summary}", verdict.evidence, judged)
                return None
            judged[-1]["overridden"] = override_reason
            self._append(events.GATE_OVERRIDDEN, step.id, {
                "gate": probes.describe(gate), "reason": override_reason,
                "evidence": verdict.evidence, "seen": verdict.summary})
        return judged

    def _act(self, step: Step, started: float, ctx: probes.ProbeContext,
             gates: list[dict[str, Any]]) -> bool:
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
                       getattr(exc, "evidence", {}), gates)
            return False
        ctx.outputs[step.id] = outputs
        self._append(events.STEP_PROGRESS, step.id, {
            "message": f"done: {actions.describe(step.do)}", "outputs": outputs})
        return True

    def _recheck(self, step: Step, ctx: probes.ProbeContext) -> probes.Verdict:
        if step.until:
            return self._wait_until(step, ctx)
        if step.do is not None:
            return self._took_effect(step, step.do, ctx)
        if step.gates:
            held = probes.judge_all(step.gates, ctx)
            return replace(held, summary=f"gates {'held' if held.ok else 'do not hold'}: "
                                         f"{held.summary}")
        return probes.Verdict(False, "nothing to re-check: the step has no condition and no "
                                     "action; run it again or mark it done")

    def _took_effect(self, step: Step, action: Any, ctx: probes.ProbeContext) -> probes.Verdict:
        """What the estate shows for the action: waited for while it is on its way there
        (to the step's timeout), answered at once when it is not."""
        effect = EFFECTS.get(type(action))
        if effect is None:
            return probes.Verdict(
                False, f"re-check: {action.kind} cannot be judged from the estate: run it "
                       "again (the engineer confirms what was done) or mark it done",
                {action.kind: {"judged": False}})
        verdict = self._wait(step, lambda: effect(action, ctx), settled_is_final=True)
        evidence = {action.kind: verdict.evidence}
        if verdict.ok:
            return probes.Verdict(True, f"{action.kind} took effect: {verdict.summary}",
                                  evidence)
        return probes.Verdict(False, f"re-check: {action.kind} has not taken effect: "
                                     f"{verdict.summary}; run it again or mark it done",
                              evidence)

    def _wait_until(self, step: Step, ctx: probes.ProbeContext) -> probes.Verdict:
        return self._wait(step, lambda: probes.judge_all(step.until, ctx))

    def _wait(self, step: Step, judge: Callable[[], probes.Verdict], *,
              settled_is_final: bool = False) -> probes.Verdict:
        """Judge until it holds, or the step's timeout; with `settled_is_final`, a "no"
        that is not on its way (`pending`) is the answer at once."""
        deadline = time.monotonic() + step.timeout / self.time_scale
        cancel = self._cancel_of(step.id)
        last_summary, last_logged = "", 0.0
        interval = min(self.pacing.until_poll_s, max(step.timeout / 20, 0.5)) / self.time_scale
        resample = self.pacing.progress_every_s / self.time_scale
        while True:
            verdict = judge()
            now = time.monotonic()
            if verdict.ok or (settled_is_final and not verdict.pending):
                return verdict
            if verdict.summary != last_summary or now - last_logged > resample:
                self._append(events.STEP_PROGRESS, step.id,
                             {"message": verdict.summary, "evidence": verdict.evidence})
                last_summary, last_logged = verdict.summary, now
            if now >= deadline:
                return probes.Verdict(False, f"timed out after {_human(step.timeout)} waiting: "
                                             f"{verdict.summary}", verdict.evidence)
            if cancel.wait(min(interval, max(0.0, deadline - now))):
                return probes.Verdict(False, f"cancelled while waiting: {verdict.summary}",
                                      verdict.evidence)

    def _finish(self, step: Step, started: float, verdict: probes.Verdict,
                gates: list[dict[str, Any]] | None = None) -> None:
        if verdict.ok:
            detail: dict[str, Any] = {
                "duration_s": round(time.monotonic() - started, 3), "summary": verdict.summary,
                "evidence": verdict.evidence}
            if gates:
                detail["gates"] = gates
            self._append(events.STEP_SUCCEEDED, step.id, detail)
        else:
            self._fail(step, started, verdict.summary, verdict.evidence, gates)

    def _fail(self, step: Step, started: float, reason: str, evidence: dict[str, Any],
              gates: list[dict[str, Any]] | None = None) -> None:
        detail: dict[str, Any] = {"duration_s": round(time.monotonic() - started, 3),
                                  "reason": reason, "evidence": evidence}
        if gates:
            detail["gates"] = gates  # the verdicts of the gates judged, held ones too
        self._append(events.STEP_FAILED, step.id, detail)

    def _warn_of_orphans(self) -> None:
        """On opening: a backup the last driver left running leaves its multipart upload
        open when it dies with it. Say so in the log and to the engineer, with the undo
        that aborts them, before anything else is done."""
        for state in self.state().to_recover():
            found = self.orphaned_uploads(state.step_id)
            if found is None:
                continue
            how = (f"abort them first with this step's undo, {actions.describe(found.abort)}"
                   if found.abort is not None else
                   "abort them with s3.abort_multipart (this step's undo does not)")
            text = f"{state.step_id} was cut short and left {found.describe()}; {how}"
            self._append(events.STEP_PROGRESS, state.step_id, {
                "message": f"warning: {text}", "warning": "orphaned_uploads",
                "orphaned_uploads": found.uploads,
                "abort_with": actions.describe(found.abort) if found.abort else None})
            self._session.warnings.append(text)  # said as a warning wherever it is shown

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
        """The step is this thread's until `_release`; other steps may run meanwhile, each
        in its own thread (one writer serialises their entries)."""
        with self._lock:
            if self._closed or self._stopped_by is not None:
                raise StepRefused(f"{step.id} not started: the session is closing")
            if step.id in self._running:
                raise StepRefused(f"{step.id} is running")
            state = self.step_state(step.id)
            if state.status not in allow:
                waiting = f" (waiting on {', '.join(state.waiting_on)})" if state.waiting_on else ""
                raise StepRefused(f"{step.id} is {state.status}{waiting}")
            self._running[step.id] = threading.Event()

    def _release(self, step: Step) -> None:
        with self._lock:
            self._running.pop(step.id, None)
            self._idle.notify_all()
        self.publish()

    def _cancel_of(self, step_id: str) -> threading.Event:
        """The event that cancels this step's waits (the session's, outside a run)."""
        with self._lock:
            return self._running.get(step_id, self._cancel)

    def running_now(self) -> list[str]:
        """The steps this runner has claimed and not yet released (a step may be claimed a
        moment before its `step.started` is written)."""
        with self._lock:
            return list(self._running)

    def _append(self, event: str, step: str | None, detail: dict[str, Any]) -> AuditEntry:
        with self._lock:
            before = self._last_run
            entry = self._session.writer.append(event, step=step, detail=detail)
            self._session.entries.append(entry)
            self._last_run = after = derive(self.plan, self._session.entries)
            if self.notifier is not None and event not in NOTIFY_EVENTS:
                for notice in milestones_of(entry, before, after, self.plan):
                    self.notifier.submit(notice)
        self.publish(after)
        if self.notifier is not None and event not in NOTIFY_EVENTS:
            self._record_deliveries()
        return entry

    def _record_deliveries(self) -> None:
        assert self.notifier is not None
        with self._lock:
            if not self._record_closed:
                self._record(self.notifier.take_deliveries())

    def _record(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            notice = delivery.notice
            detail: dict[str, Any] = {"milestone": notice.milestone, "title": notice.title,
                                      "target": delivery.target, "attempts": delivery.attempts}
            if delivery.error:
                detail["error"] = delivery.error
            event = events.NOTIFY_SENT if delivery.sent else events.NOTIFY_FAILED
            self._append(event, notice.step, detail)

    def publish(self, run: RunState | None = None) -> None:
        run = run or self.state()
        self.publisher.update(
            plan=self.plan.plan.name, session=str(self.folder),
            head={"seq": run.head[0], "hash": run.head[1]} if run.head else None,
            closed=run.closed, steps={sid: _public(s) for sid, s in run.steps.items()},
            driver=self._session.lock.holder_info(), time_scale=self.time_scale)
        self.publisher.publish()

    def _probe_ctx(self, step: Step) -> probes.ProbeContext:
        run = self.state()
        outputs = {sid: s.outputs for sid, s in run.steps.items() if s.outputs}
        return probes.ProbeContext(self.handle, outputs, step.id, step.do,
                                   readiness=probes.readiness_judge(self.plan, self.handle),
                                   session_id=self._session.writer.session,
                                   step_outcomes={sid: _outcome(s)
                                                  for sid, s in run.steps.items()})

    def _action_ctx(self, step: Step) -> actions.ActionContext:
        def progress(message: str, detail: dict[str, Any]) -> None:
            self._append(events.STEP_PROGRESS, step.id, {"message": message, **detail})

        def confirm(instruction: str) -> str | None:
            return self.ask_manual(step, instruction)

        run = self.state()
        return actions.ActionContext(self.handle, confirm, progress,
                                     self.pacing.until_poll_s / self.time_scale,
                                     outputs=dict(self.step_state(step.id).outputs),
                                     earlier={sid: dict(s.outputs)
                                              for sid, s in run.steps.items() if s.outputs},
                                     session_id=self._session.writer.session,
                                     time_scale=self.time_scale, step_id=step.id,
                                     cancelled=self._cancel_of(step.id),
                                     stopping=lambda: self._stopped_by is not None)

    def _summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in self.state().steps.values():
            counts[state.status.value] = counts.get(state.status.value, 0) + 1
        return counts

    @staticmethod
    def _require_reason(text: str, what: str = "reason") -> None:
        if not text or not text.strip():
            raise ValueError(f"a {what} is required")


def _gates_held(gates: list[dict[str, Any]]) -> probes.Verdict:
    """A step of gates alone: what its gates showed is its outcome and its evidence."""
    evidence: dict[str, Any] = {}
    for gate in gates:
        key, n = str(gate["kind"]), 2
        while key in evidence:  # two gates of one kind: keep both
            key, n = f"{gate['kind']}#{n}", n + 1
        evidence[key] = gate["evidence"]
    said = "; ".join(str(g["summary"]) if g["held"] else f"{g['gate']} overridden"
                     for g in gates)
    return probes.Verdict(True, f"gates held: {said}", evidence)


def _outcome(state: StepState) -> str:
    """What a step came to, as a `step.succeeded` condition tells them apart."""
    if state.status is Status.SUCCEEDED and state.marked_done:
        return "marked done"
    return state.status.value


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

