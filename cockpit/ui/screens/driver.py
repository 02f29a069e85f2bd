"""The driver's screen: polls the estate, runs steps from keys, records every choice.

The session's poller polls each pane on its own cadence, off this thread (from the start
of its last poll; faster while a running step waits on that pane; paused with the
screen; stopped when the screen goes), and hands each view over built and laid out: the
screen only draws it. Steps run in a worker, so the screen keeps moving; a manual step
asks its question from that worker through a modal, and waits for the answer there. A
backup the last driver left running that left multipart uploads open is said on opening,
its undo (the abort) one key away.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import ClassVar

from textual import work
from textual.binding import BindingType
from textual.message import Message

from cockpit.audit import events
from cockpit.audit.readiness import last_verdicts
from cockpit.plan.models import Step
from cockpit.runner.actions import describe
from cockpit.runner.panes import PaneView
from cockpit.session.protocols import CommandRefused, Driving
from cockpit.ui.context import UiContext
from cockpit.ui.keys import actions_for, bindings_for
from cockpit.ui.screens.base import CockpitScreen
from cockpit.ui.screens.complete import WindowComplete
from cockpit.ui.screens.confirm import ConfirmStep
from cockpit.ui.screens.manual import ConfirmManual
from cockpit.ui.screens.reason import AskReason
from cockpit.ui.widgets.runbook import Runbook


class DriverScreen(CockpitScreen):
    badge = "DRIVER"
    help_mode = "driver"
    BINDINGS: ClassVar[list[BindingType]] = bindings_for("driver")  # type: ignore[assignment]

    class PanePolled(Message):
        def __init__(self, view: PaneView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, session: Driving, context: UiContext) -> None:
        super().__init__(session, context)
        self.session = session
        self._offered_export = False
        self._quit_armed = False
        self._warned: set[str] = set()

    def on_mount(self) -> None:
        super().on_mount()
        self.session.answer_manual_with(self._ask_manual)
        self.draw(self.session.view())
        self._offered_export = self.view is not None and self.view.completion() is not None
        self._offer_orphan_abort()
        self._say_last_readiness()
        self._warned = set(self.session.warnings)  # said by the command line on opening
        self.session.follow_panes(self._pane_polled, self._every_s,
                                  apart=self.context.settings.polling.apart)
        # timed by the event loop itself, so a loop stuck in the terminal's writes stops
        # beating; the beat runs in a worker (it may derive the run and append to the log)
        self._beat()
        self.set_interval(self.context.settings.runner.heartbeat_every_s, self._beat)

    def on_unmount(self) -> None:
        # The poller outlives the screen (the session closes after the app has ended):
        # it must not go on polling, or waking, for a screen that is gone.
        self.session.stop_following_panes()

    def _beat(self) -> None:
        self.run_worker(self.session.heartbeat, thread=True, group="heartbeat",
                        exclusive=True, exit_on_error=False, name="heartbeat")

    # --- what the last driver left behind -------------------------------------------------

    def _offer_orphan_abort(self) -> None:
        """The runner said on opening (in the log) that a backup cut short by the last
        driver left multipart uploads open in S3: say which, select that step and name the
        key of its undo, the abort, to press before anything else."""
        view = self.view
        if view is None:
            return
        opened = max((i for i, e in enumerate(view.entries)
                      if e.event == events.SESSION_OPENED), default=0)
        for entry in view.entries[opened:]:
            if entry.event != events.STEP_PROGRESS or entry.step is None \
                    or entry.detail.get("warning") != "orphaned_uploads":
                continue
            state = view.run.steps.get(entry.step)
            if state is None or not state.to_recover:
                continue
            uploads = [u for u in entry.detail.get("orphaned_uploads") or []
                       if isinstance(u, dict)]
            listed = "; ".join(f"{u.get('key')} (upload {u.get('upload_id')}, "
                               f"{u.get('parts')} part(s), {u.get('bytes')} bytes)"
                               for u in uploads)
            abort = entry.detail.get("abort_with")
            then = (f"press {self._key_for('undo_step')} to abort them before anything "
                    f"else (this step's undo: {abort}), then run it again"
                    if abort else "abort them with s3.abort_multipart before anything else")
            self.select_step(entry.step)
            self.notify(f"{entry.step} was cut short and left {len(uploads)} multipart "
                        f"upload(s) open in S3, kept and billed until aborted: {listed}. "
                        f"{then.capitalize()}.", title="ORPHANED UPLOADS",
                        severity="warning", timeout=600)

    def _say_last_readiness(self) -> None:
        """The verdicts of the session's last `cockpit check`, when it recorded any: the
        driver opens the window knowing what the team found two days or an hour out."""
        if self.view is None:
            return
        last = last_verdicts(self.view.entries)
        if last is not None:
            text, go = last
            self.notify(text, title="READINESS", severity="information" if go else "warning",
                        timeout=30 if go else 600)

    def _key_for(self, action_id: str) -> str:
        default = next(a.keys for a in actions_for("driver") if a.id == action_id)
        return self.context.keymap.get(action_id, default).split(",")[0]

    def hint(self) -> str:
        return f"watch from another terminal: {self.session.how_to_watch}"

    # --- polling ------------------------------------------------------------------------

    def _pane_polled(self, view: PaneView) -> None:
        """From the poller's thread: hand the view over, nothing more."""
        self.post_message(self.PanePolled(view))

    def _every_s(self, pane: str) -> float | None:
        """The pane's interval now, asked by the poller (from its thread) as it waits: None
        while polling is paused, and once this screen is gone (the app has ended; the
        session closes after it)."""
        if self.paused or not self.is_attached:
            return None
        polling = self.context.settings.polling
        fast = pane in self.session.panes_to_watch()
        return polling.pane_fast_every_s if fast else polling.pane_every_s

    def on_driver_screen_pane_polled(self, message: PanePolled) -> None:
        self.show_pane(message.view)

    def _tick(self) -> None:
        super()._tick()
        self.draw(self.session.view())
        self._offer_export()
        self._say_new_warnings()

    def _say_new_warnings(self) -> None:
        """What went wrong since opening (state.json not written...), said once."""
        for warning in self.session.warnings:
            if warning not in self._warned:
                self._warned.add(warning)
                self.notify(warning, severity="warning", timeout=10)

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.notify("polling paused" if self.paused else "polling resumed", timeout=2)
        self._tick()

    # --- the end of the window ------------------------------------------------------------

    def _offer_export(self) -> None:
        """Once, when the last step is done: the record is what the change board wants."""
        summary = self.view.completion() if self.view else None
        if summary is None or self._offered_export:
            return
        self._offered_export = True

        def chosen(export: bool | None) -> None:
            if export:
                self.action_export_log()

        self.app.push_screen(WindowComplete(summary), chosen)

    # --- step commands ------------------------------------------------------------------

    def _selected(self) -> str | None:
        return self.query_one(Runbook).selected_step

    def on_step_key(self, step_id: str) -> None:
        self.request_run(step_id)

    def request_run(self, step_id: str) -> None:
        """The one way a step is asked to run: its key, `r`, `g` and the palette."""
        self.select_step(step_id)
        refusal = self.session.refusal(step_id)
        if refusal is not None:  # say so before asking anyone to type an id
            self.notify(refusal, severity="warning")
            return
        step = self._step(step_id)
        if step.confirm and step.do is not None:
            self._confirm_then(step_id, step.title, describe(step.do),
                               lambda: self._command(lambda: self.session.run(step_id)))
        else:
            self._command(lambda: self.session.run(step_id))

    def request_undo(self, step_id: str) -> None:
        self.select_step(step_id)
        step = self._step(step_id)
        if step.undo is None:
            self.notify(f"{step_id} has no undo", severity="warning")
            return
        self._confirm_then(step_id, f"Undo {step_id}", describe(step.undo),
                           lambda: self._command(lambda: self.session.undo(step_id)))

    def action_run_selected(self) -> None:
        step_id = self._selected()
        if step_id is not None:
            self.request_run(step_id)

    def action_run_next(self) -> None:
        ready = self.session.next_ready()
        if ready is None:
            self.notify("no step is ready", severity="warning")
            return
        self.request_run(ready)

    def action_roll_back(self) -> None:
        """The rollback key: a refusal is still sent, so that it is on the record; else
        type-to-confirm, then the path runs in the step worker, step after step."""
        if self.session.rollback_refusal() is not None:
            self._command(self._roll_back)
            return
        found = self.session.rollback_path()
        if found is None:
            return
        phase, steps = found
        budget = sum(step.budget for step in steps)
        self._confirm_then("rollback", f"Roll {phase} back ({len(steps)} steps, "
                                       f"budget {budget / 60:.0f} min)",
                           "; ".join(step.title for step in steps),
                           lambda: self._command(self._roll_back))

    def _roll_back(self) -> None:
        said = self.session.roll_back()
        self.app.call_from_thread(self.notify, said, title="ROLLBACK", timeout=30)

    def action_undo_selected(self) -> None:
        step_id = self._selected()
        if step_id is not None:
            self.request_undo(step_id)

    def action_skip_selected(self) -> None:
        self._with_reason("Skip {}: why?", self.session.skip)

    def action_override_selected(self) -> None:
        self._with_reason("Override the failed gates of {} and run it: why?",
                          self.session.override)

    def action_mark_done_selected(self) -> None:
        self._with_reason("Mark {} done without running it: why?", self.session.mark_done)

    def action_recheck_selected(self) -> None:
        step_id = self._selected()
        if step_id is not None:
            self._command(lambda: self.session.recheck(step_id))

    def action_add_note(self) -> None:
        def noted(text: str | None) -> None:
            if text:
                self._command(lambda: self.session.note(text))

        self.app.push_screen(AskReason("Note for the audit log", placeholder="what happened"),
                             noted)

    def _with_reason(self, prompt: str, command: Callable[[str, str], object]) -> None:
        step_id = self._selected()
        if step_id is None:
            return

        def reasoned(text: str | None) -> None:
            if text:
                self._command(lambda: command(step_id, text))

        self.app.push_screen(AskReason(prompt.format(step_id)), reasoned)

    def _confirm_then(self, step_id: str, title: str, action: str,
                      go: Callable[[], object]) -> None:
        def confirmed(ok: bool | None) -> None:
            if ok:
                go()

        self.app.push_screen(ConfirmStep(step_id, title, action), confirmed)

    @work(thread=True, group="step", exit_on_error=False)
    def _command(self, command: Callable[[], object]) -> None:
        try:
            command()
        except CommandRefused as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="warning", timeout=6)
        self.post_message(self.ViewReady(self.session.view()))

    def _step(self, step_id: str) -> Step:
        assert self.view is not None
        return self.view.plan.step(step_id)

    # --- a manual step, asked from the step's worker --------------------------------------

    def _ask_manual(self, step: Step, instruction: str) -> str | None:
        """Blocks the step's worker (never the UI) until the engineer answers; gives up
        when the app is ending (quit, hang-up), and the step stays ready."""
        answer: Future[str | None] = Future()
        try:
            # found once: from this thread `self.app` walks the screen's parents, and a
            # screen taken off the app mid-prompt has none (NoActiveAppError)
            app = self.app
            app.call_from_thread(app.push_screen,
                                 ConfirmManual(step.id, step.title, instruction),
                                 answer.set_result)
        except RuntimeError:  # the app is no longer running, or this screen left it
            return None
        while app.is_running:
            try:
                return answer.result(timeout=0.2)
            except FutureTimeout:
                continue
        return None

    def action_quit_cockpit(self) -> None:
        running = [s.step_id for s in self.view.run.running_steps()] if self.view else []
        if running and not self._quit_armed:
            self._quit_armed = True
            said = ", ".join(running)
            self.notify(f"{said} {'is' if len(running) == 1 else 'are'} running: press q "
                        "again to stop waiting and quit (recorded as cancelled)",
                        severity="warning", timeout=6)
            return
        self.session.cancel()
        self.app.exit()

    def action_cancel_selected(self) -> None:
        """Streams run side by side: cancel names the one step it stops, the selected."""
        step_id = self._selected()
        running = self.session.running()
        if step_id is None or step_id not in running:
            said = f"running: {', '.join(running)}" if running else "no step is running"
            self.notify(f"select the running step to cancel ({said})", severity="warning")
            return
        self._command(lambda: self._cancel(step_id))

    def _cancel(self, step_id: str) -> None:
        cancelled = self.session.cancel_step(step_id)
        said = (f"cancelling {step_id}: it ends failed (cancelled) at its next look"
                if cancelled else f"{step_id} had already ended")
        self.app.call_from_thread(self.notify, said, severity="warning", timeout=6)

