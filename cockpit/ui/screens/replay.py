"""The replay's screen: the watcher's screen fed from the record instead of the folder's
live files, on the window's clock.

Space pauses, `.` steps to the next recorded change of a pane, `n` jumps to the next
entry of the audit log. Like a watcher it has no action that changes anything, and its
source opens nothing but the record.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import ClassVar

from textual import work
from textual.binding import BindingType
from textual.message import Message

from cockpit.session.replay import Replay, ReplayUnreadable, parse_moment
from cockpit.ui.context import UiContext
from cockpit.ui.keys import bindings_for
from cockpit.ui.screens.base import CockpitScreen

TICK_S = 0.25  # how often the replayed clock moves the screen on


class ReplayScreen(CockpitScreen):
    badge = "REPLAY"
    help_mode = "replay"
    BINDINGS: ClassVar[list[BindingType]] = bindings_for("replay")  # type: ignore[assignment]

    class Loaded(Message):
        pass

    class Unreadable(Message):
        def __init__(self, problem: str) -> None:
            super().__init__()
            self.problem = problem

    def __init__(self, replay: Replay, context: UiContext, *,
                 at: str | None = None) -> None:
        super().__init__(replay, context)
        self.replay = replay
        self.at = at
        self._loaded = False
        self._ticked = time.monotonic()

    def on_mount(self) -> None:
        super().on_mount()
        self._load()

    @work(thread=True, exclusive=True, group="replay", exit_on_error=False)
    def _load(self) -> None:
        """Reading a long window's record takes a moment: never on the screen's thread."""
        try:
            self.replay.load()
        except ReplayUnreadable as exc:
            self.post_message(self.Unreadable(str(exc)))
            return
        self._start_at_the_moment_asked()
        self.replay.view()  # plays the recording to that moment here, not on the screen
        self.post_message(self.Loaded())

    def _start_at_the_moment_asked(self) -> None:
        if self.at is None:
            return
        try:
            self.replay.seek(parse_moment(self.at, self.replay.start))
        except ValueError as exc:
            self.app.call_from_thread(self.notify, f"--at: {exc}; replaying from the start",
                                      severity="error")
            return
        self.replay.paused = True  # asked for a moment, the engineer looks at it first

    def on_replay_screen_unreadable(self, message: Unreadable) -> None:
        self.show_unreadable(message.problem)

    def on_replay_screen_loaded(self) -> None:
        self._loaded = True
        self._redraw()
        self._ticked = time.monotonic()
        self.set_interval(TICK_S, self._play)

    def _play(self) -> None:
        now = time.monotonic()
        elapsed, self._ticked = now - self._ticked, now
        if self.replay.paused:
            return
        self.replay.advance(elapsed)
        if self.replay.finished:
            self.replay.paused = True
            self.notify("end of the recording: n, . and space do nothing more", timeout=4)
        self._redraw()

    def _redraw(self) -> None:
        view = self.replay.view()
        if view is not None:
            self.draw(view)

    def now(self) -> datetime:
        """Every age and the window clock read the moment being replayed."""
        return self.replay.at if self._loaded else self.context.clock()

    def hint(self) -> str:
        if not self._loaded:
            return "reading the recording ..."
        # Short enough for 80 columns: the keys are in the footer already.
        state = "PAUSED" if self.replay.paused else f"playing x{self.replay.speed:g}"
        event = self.replay.last_event()
        said = f"last: {event.describe()}" if event else "before the first event"
        return f"replay at {self.replay.at.strftime('%Y-%m-%d %H:%M:%S')}Z {state} | {said}"

    # --- keys ---------------------------------------------------------------------------

    def action_toggle_playing(self) -> None:
        if self._loaded:
            self.replay.paused = not self.replay.paused
            self._ticked = time.monotonic()
            self._draw_header()

    def action_step_change(self) -> None:
        """Pauses: a step is for looking at one change at a time."""
        if self._loaded:
            self.replay.paused = True
            if not self.replay.step():
                self.notify("no recorded change after this one", timeout=3)
            self._redraw()

    def action_next_event(self) -> None:
        if self._loaded:
            self.replay.paused = True
            event = self.replay.next_event()
            if event is None:
                self.notify("no audit event after this one", timeout=3)
            self._redraw()
