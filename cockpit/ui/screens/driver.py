"""The driver's screen: polls the estate, runs steps from keys, records every choice."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import work
from textual.binding import BindingType
from textual.message import Message

from cockpit.runner.driver import DriverSource
from cockpit.runner.panes import PANES, PaneView
from cockpit.runner.runner import Runner, StepRefused
from cockpit.runner.state import Status
from cockpit.ui.keys import bindings_for
from cockpit.ui.screens.confirm import ConfirmStep
from cockpit.ui.screens.main import CockpitScreen
from cockpit.ui.screens.reason import AskReason
from cockpit.ui.widgets.runbook import Runbook

# Statuses from which the run key may start a step (the runner checks again).
RUNNABLE = frozenset({Status.READY, Status.FAILED, Status.UNDONE, Status.INTERRUPTED})


class DriverScreen(CockpitScreen):
    mode = "DRIVER"
    BINDINGS: ClassVar[list[BindingType]] = bindings_for("driver")  # type: ignore[assignment]
    POLL_S = 2.0
    FAST_POLL_S = 0.5

    class PanePolled(Message):
        def __init__(self, view: PaneView) -> None:
            super().__init__()
            self.view = view

    source: DriverSource

    def on_mount(self) -> None:
        super().on_mount()
        self.draw(self.source.view())
        for pane in PANES:
            self._poll(pane)

    def hint(self) -> str:
        return f"watch from another terminal: {self.source.how_to_watch}"

    # --- polling ------------------------------------------------------------------------

    def _poll(self, pane: str) -> None:
        self.run_worker(lambda: self._poll_once(pane), thread=True, group=f"pane-{pane}",
                        exclusive=True, exit_on_error=False, name=f"poll {pane}")

    def _poll_once(self, pane: str) -> None:
        try:
            self.post_message(self.PanePolled(self.source.poll_pane(pane)))
        finally:
            if self.app.is_running:  # after quit there is nothing left to re-arm
                self.app.call_from_thread(self._rearm, pane)

    def _rearm(self, pane: str) -> None:
        """One-shot timer, re-armed after the poll ends: polls never overlap."""
        if self.view is None:
            return
        fast = pane in self.source.watched_now(self.view.run)
        delay = self.FAST_POLL_S if fast else self.POLL_S
        self.set_timer(delay, lambda: self._poll_if_live(pane))

    def _poll_if_live(self, pane: str) -> None:
        if self.paused:
            self.set_timer(self.POLL_S, lambda: self._poll_if_live(pane))
        else:
            self._poll(pane)

    def on_driver_screen_pane_polled(self, message: PanePolled) -> None:
        self.show_pane(message.view)

    def _tick(self) -> None:
        super()._tick()
        self.draw(self.source.view())

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.notify("polling paused" if self.paused else "polling resumed", timeout=2)
        self._tick()

    # --- step commands ------------------------------------------------------------------

    def _selected(self) -> str | None:
        return self.query_one(Runbook).selected_step

    def on_step_key(self, step_id: str) -> None:
        self.action_run_selected()

    def run_step_by_id(self, step_id: str) -> None:
        self.select_step(step_id)
        self.action_run_selected()

    def undo_step_by_id(self, step_id: str) -> None:
        self.select_step(step_id)
        self.action_undo_selected()

    def action_run_selected(self) -> None:
        step_id = self._selected()
        if step_id is not None:
            self._confirm_then(step_id, lambda: self._command("run", step_id))

    def action_run_next(self) -> None:
        ready = self.source.runner.next_ready()
        if ready is None:
            self.notify("no step is ready", severity="warning")
            return
        self.query_one(Runbook).select(ready)
        self.action_run_selected()

    def action_undo_selected(self) -> None:
        step_id = self._selected()
        if step_id is None:
            return
        step = self.source.runner.plan.step(step_id)
        if step.undo is None:
            self.notify(f"{step_id} has no undo", severity="warning")
            return
        from cockpit.runner.actions import describe

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._command("undo", step_id)

        self.app.push_screen(ConfirmStep(step_id, f"Undo {step_id}", describe(step.undo)),
                             confirmed)

    def action_skip_selected(self) -> None:
        self._with_reason(f"Skip {self._selected()}: why?", "skip")

    def action_override_selected(self) -> None:
        self._with_reason(f"Override the failed gates of {self._selected()} and run it: why?",
                          "override")

    def action_mark_done_selected(self) -> None:
        self._with_reason(f"Mark {self._selected()} done without running it: why?", "mark")

    def action_recheck_selected(self) -> None:
        step_id = self._selected()
        if step_id is not None:
            self._command("recheck", step_id)

    def action_add_note(self) -> None:
        def noted(text: str | None) -> None:
            if text:
                self._command("note", "", text)

        self.app.push_screen(AskReason("Note for the audit log", placeholder="what happened"),
                             noted)

    def _with_reason(self, prompt: str, command: str) -> None:
        step_id = self._selected()
        if step_id is None:
            return
        def reasoned(text: str | None) -> None:
            if text:
                self._command(command, step_id, text)

        self.app.push_screen(AskReason(prompt), reasoned)

    def _confirm_then(self, step_id: str, go: Callable[[], object]) -> None:
        step = self.source.runner.plan.step(step_id)
        state = self.source.runner.step_state(step_id)
        if state.status not in RUNNABLE:  # say so before asking anyone to type an id
            waiting = f": waiting on {', '.join(state.waiting_on)}" if state.waiting_on else ""
            self.notify(f"{step_id} is {state.status.value}{waiting}", severity="warning")
            return
        if step.confirm and step.do is not None:
            from cockpit.runner.actions import describe

            def confirmed(ok: bool | None) -> None:
                if ok:
                    go()

            self.app.push_screen(ConfirmStep(step_id, step.title, describe(step.do)), confirmed)
        else:
            go()

    @work(thread=True, group="step", exit_on_error=False)
    def _command(self, command: str, step_id: str, text: str = "") -> None:
        try:
            COMMANDS[command](self.source.runner, step_id, text)
        except (StepRefused, ValueError, KeyError) as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="warning", timeout=6)
        self.post_message(self.ViewReady(self.source.view()))

    def action_quit_cockpit(self) -> None:
        running = self.source.runner.state().running()
        if running is not None and not getattr(self, "_quit_armed", False):
            self._quit_armed = True
            self.notify(f"{running.step_id} is running: press q again to stop waiting and quit "
                        "(the step is recorded as cancelled)", severity="warning", timeout=6)
            return
        self.source.runner.cancel()
        self.app.exit()


# What each command does to the runner: (runner, step id, reason or note text).
COMMANDS: dict[str, Callable[[Runner, str, str], object]] = {
    "run": lambda runner, step, text: runner.run_step(step),
    "override": lambda runner, step, text: runner.run_step(step, override_reason=text),
    "undo": lambda runner, step, text: runner.undo_step(step),
    "skip": lambda runner, step, text: runner.skip_step(step, text),
    "mark": lambda runner, step, text: runner.mark_done(step, text),
    "recheck": lambda runner, step, text: runner.recheck_step(step),
    "note": lambda runner, step, text: runner.add_note(text),
}
