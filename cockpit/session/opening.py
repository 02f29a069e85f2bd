"""Opening a driver's session behind the screen's first frame.

Apart from `driver.py` so that the CLI can hand the screen an opening without importing
the session layer first: the first frame shows as soon as Textual is up, and the session
layer is imported by the opening itself, in the screen's worker.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.plan.loader import LoadedPlan
    from cockpit.session.driver import DriverSession
    from cockpit.session.estate_choice import EstateChoice
    from cockpit.session.folder import SessionFolder
    from cockpit.session.protocols import ManualPrompt
    from cockpit.session.served_sim import ServedSim
    from cockpit.settings import CockpitSettings


class DriverOpening:
    """`cockpit run`, `demo` and `rehearse`: the screen's first frame shows at once while
    this opens the estate and the session (in a worker); it is closed once, by whoever
    comes first: the CLI after the app has ended, or the stop thread after a signal or a
    lost terminal (`session/shutdown.py`). The other caller waits for that close.

    Closed while it opens: no session at all if the lock is not taken yet (the estate is
    stopped again); else the session opens, and is closed on the record at once. How long a
    close waits for an estate still opening is `estate_wait_s`: None, until it is open and
    stopped again (a rehearsal: its simulator's folders are removed); the screen gives it
    nothing (0), for the process must end within seconds of a hang-up, and an estate still
    opening has nothing on the record (a simulator cut short is swept at its next start)."""

    def __init__(self, loaded: LoadedPlan, folder: SessionFolder, choice: EstateChoice, *,
                 settings: CockpitSettings, take_over: bool = False,
                 ask_manual: ManualPrompt | None = None, close_wait_s: float = 30.0,
                 estate_wait_s: float | None = None, early: ServedSim | None = None) -> None:
        self.loaded, self.folder, self.choice = loaded, folder, choice
        # The served sim started before the screen: the opening's to wait for and use.
        self._early = early
        self.settings, self.take_over = settings, take_over
        self.ask_manual, self.close_wait_s = ask_manual, close_wait_s
        self.estate_wait_s = estate_wait_s
        self.session: DriverSession | None = None
        self._hung_up = False
        self._stopped_by: str | None = None
        self._stack = ExitStack()
        self._state = threading.Condition()
        self._opening = False
        self._committed = False  # the opening is past its last check: it takes the lock
        self._closing = False
        self._closed = threading.Event()

    def describe(self) -> str:
        return f"opening {self.choice.describe(self.loaded.path)} and session {self.folder} ..."

    def open(self) -> DriverSession:
        # Here, not above: the screen's first frame shows before the session layer is
        # imported (a second of the interpreter's time), which this does in the worker.
        from cockpit.session.driver import OpeningCancelled, open_driver_session

        with self._state:
            why = self._why_not()
            if why is not None:
                raise OpeningCancelled(f"the session was not opened: {why}")
            self._opening = True
        try:
            session = self._stack.enter_context(open_driver_session(
                self.loaded, self.folder, self.choice, settings=self.settings,
                take_over=self.take_over, ask_manual=self.ask_manual,
                close_wait_s=self.close_wait_s, abandon=self._abandoned,
                early=self._early))
            with self._state:
                self.session = session
                hung_up, stopped_by = self._hung_up, self._stopped_by
            if hung_up or stopped_by is not None:  # the stop came while it opened
                session.cancel(hangup=hung_up, stopped_by=stopped_by)
            return session
        finally:
            with self._state:
                self._opening = False
                self._state.notify_all()

    def _why_not(self) -> str | None:
        with self._state:
            if self._stopped_by is not None:
                return f"the cockpit is stopping ({self._stopped_by})"
            return "the cockpit is stopping" if self._closing else None

    def _abandoned(self) -> str | None:
        """Asked once the estate is open, before the lock is taken: why not to open the
        session; None commits the opening (a close from now on waits for it)."""
        with self._state:
            why = self._why_not()
            self._committed = why is None
            return why

    def cancel(self, *, hangup: bool, stopped_by: str | None = None) -> None:
        with self._state:
            self._hung_up = self._hung_up or hangup
            self._stopped_by = self._stopped_by or stopped_by
            session = self.session
        if stopped_by is not None:  # a signal: the close that follows is bounded
            served = session.estate.served if session and session.estate else self._early
            if served is not None:
                served.let_go()
        if session is not None:
            session.cancel(hangup=hangup, stopped_by=stopped_by)

    def close(self) -> None:
        """Close the session on the record (an opening under way first finishes), then
        the estate. Once: a second caller waits until the first caller's close has ended."""
        with self._state:
            first, self._closing = not self._closing, True
            if first:  # uncommitted, the opening can no longer take the lock (_why_not)
                self._state.wait_for(lambda: not self._opening,
                                     timeout=None if self._committed else self.estate_wait_s)
        if not first:
            self._closed.wait()
            return
        try:
            self._stack.close()
        finally:
            self._stop_unused_estate()
            self._closed.set()

    def _stop_unused_estate(self) -> None:
        """An early sim no session came to use (the screen ended before the opening began,
        or while it waited for the sim to answer: that wait then ends at once)."""
        early = self._early
        if early is not None and self.session is None and not early.reused:
            early.stop()
