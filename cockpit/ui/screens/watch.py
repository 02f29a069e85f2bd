"""The watcher's screen: re-reads the session folder; no action that changes anything.

When there is nothing to draw (no plan copy, an unreadable log) it says so, with why, in
the middle of the screen: a watcher must never be left looking at an empty cockpit.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.binding import BindingType
from textual.message import Message

from cockpit.session.approving import Approver
from cockpit.session.protocols import SessionSource
from cockpit.ui.context import UiContext
from cockpit.ui.keys import bindings_for
from cockpit.ui.screens.base import CockpitScreen
from cockpit.ui.screens.reason import AskReason


class WatchScreen(CockpitScreen):
    badge = "WATCH"
    help_mode = "watch"
    BINDINGS: ClassVar[list[BindingType]] = bindings_for("watch")  # type: ignore[assignment]

    class Unreadable(Message):
        def __init__(self, problem: str) -> None:
            super().__init__()
            self.problem = problem

    def on_mount(self) -> None:
        super().on_mount()
        self._read()

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def _read(self) -> None:
        try:
            view = self.source.view()
            if view is not None:
                self.post_message(self.ViewReady(view))
            else:
                self.post_message(self.Unreadable(self.source.problem or "nothing to show yet"))
        finally:
            every = self.context.settings.polling.watch_read_every_s
            self.app.call_from_thread(self.set_timer, every, self._read)

    def on_watch_screen_unreadable(self, message: Unreadable) -> None:
        self.show_unreadable(message.problem)


class ApproverScreen(WatchScreen):
    """`cockpit watch --approver`: the watcher, and one key that approves, as the login
    running it, what the driver waits on (the driver still refuses its own login)."""

    help_mode = "approver"
    BINDINGS: ClassVar[list[BindingType]] = bindings_for("approver")  # type: ignore[assignment]

    def __init__(self, source: SessionSource, context: UiContext, approver: Approver) -> None:
        super().__init__(source, context)
        self.approver = approver

    def action_approve_waiting(self) -> None:
        waiting = self.approver.waiting(self.view.entries) if self.view else None
        if waiting is None:
            self.notify("the driver waits on no approval", severity="warning")
            return
        step, action = waiting

        def reasoned(reason: str | None) -> None:
            if reason:
                self._approve(step, action, reason)

        self.app.push_screen(AskReason(f"Approve {action} of {step}, as the second person: "
                                       "why?"), reasoned)

    @work(thread=True, group="approve", exit_on_error=False)
    def _approve(self, step: str, action: str, reason: str) -> None:
        try:
            said = self.approver.approve(step, action, reason)
        except (ValueError, OSError) as exc:
            self.app.call_from_thread(self.notify, f"not approved: {exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, said, title="APPROVED", timeout=15)
