"""The watcher's screen: re-reads the session folder; no action that changes anything.

When there is nothing to draw (no plan copy, an unreadable log) it says so, with why, in
the middle of the screen: a watcher must never be left looking at an empty cockpit.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.binding import BindingType
from textual.message import Message

from cockpit.ui.keys import bindings_for
from cockpit.ui.screens.base import CockpitScreen


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
