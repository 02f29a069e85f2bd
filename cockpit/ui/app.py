"""The cockpit's Textual app: thin. Screens and widgets live in their own modules.

Three ways in, one app: a driver whose session still has to open (`cockpit run`, `demo`),
a driver's session already open (tests, benchmarks), a watcher. Which one is decided
here by the factory called, never by asking the source what it is.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from textual.app import App
from textual.screen import Screen

from cockpit.session.shutdown import Stop, Stoppable, StopReason, TerminalWatch
from cockpit.settings import CockpitSettings, load_settings
from cockpit.ui.context import UiContext, utc_now

if TYPE_CHECKING:
    from textual.command import Provider

    from cockpit.session.approving import Approver
    from cockpit.session.protocols import DriverOpening, Driving, SessionSource
    from cockpit.session.replay import Replay

# The screens are imported by the factory that shows them: `cockpit run` and `demo` show
# their first frame (the starting screen) before the driver's screen and the session layer
# under it are imported, which the opening does in a worker.
FirstScreen = Callable[[UiContext], Screen[None]]


def _step_commands() -> type[Provider]:
    """The palette's steps, imported when the palette first opens."""
    from cockpit.ui.commands import StepCommands

    return StepCommands


class CockpitApp(App[str | None]):
    """Its result is None, or why the session could not be opened (the CLI prints it)."""

    CSS_PATH = "cockpit.tcss"
    TITLE = "cutover cockpit"
    COMMANDS = App.COMMANDS | {_step_commands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, first: FirstScreen, context: UiContext) -> None:
        super().__init__()
        self.first = first
        self.context = context
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False

    def on_mount(self) -> None:
        self._event_loop = asyncio.get_running_loop()  # before the check below: see request_stop
        if self._stop_requested:
            self.exit()
            return
        if self.context.keymap:
            self.set_keymap(self.context.keymap)
        self.push_screen(self.first(self.context))

    def request_stop(self) -> None:
        """From any thread, never blocking: end the app (a stop thread asks this once the
        session is cancelled). Before the app has mounted, it ends as soon as it does."""
        self._stop_requested = True
        loop = self._event_loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self.exit)
        except RuntimeError:  # the loop has closed: the app has ended already
            pass

    @property
    def is_running(self) -> bool:
        """False from a stop's request on: a step's worker waiting on a question (a manual
        step) gives up then, and the step ends, even while the screen is still stuck ending
        on a terminal that is gone."""
        return super().is_running and not self._stop_requested


def _context(keymap: dict[str, str] | None, clock: Callable[[], datetime] | None,
             settings: CockpitSettings | None) -> UiContext:
    """The settings the CLI read (the config file and COCKPIT_* variables), or read here;
    tests pass their own keymap and clock."""
    settings = settings if settings is not None else load_settings()
    return UiContext(settings=settings,
                     keymap=keymap if keymap is not None else dict(settings.keys),
                     clock=clock or utc_now)


def make_opening_app(opening: DriverOpening, *, keymap: dict[str, str] | None = None,
                     clock: Callable[[], datetime] | None = None,
                     settings: CockpitSettings | None = None) -> CockpitApp:
    """`cockpit run` and `demo`: the first frame at once, the session opening behind it."""
    from cockpit.ui.screens.starting import StartingScreen

    return CockpitApp(lambda ctx: StartingScreen(opening, ctx),
                      _context(keymap, clock, settings))


def make_driver_app(session: Driving, *, keymap: dict[str, str] | None = None,
                    clock: Callable[[], datetime] | None = None,
                    settings: CockpitSettings | None = None) -> CockpitApp:
    """A driver's session that is already open."""
    from cockpit.ui.screens.driver import DriverScreen

    return CockpitApp(lambda ctx: DriverScreen(session, ctx), _context(keymap, clock, settings))


def make_watch_app(source: SessionSource, *, keymap: dict[str, str] | None = None,
                   clock: Callable[[], datetime] | None = None,
                   settings: CockpitSettings | None = None,
                   approver: Approver | None = None) -> CockpitApp:
    """`cockpit watch`: read-only, from the session folder; with an `approver`, one key
    approves what the driver waits on."""
    from cockpit.ui.screens.watch import ApproverScreen, WatchScreen

    if approver is not None:
        return CockpitApp(lambda ctx: ApproverScreen(source, ctx, approver),
                          _context(keymap, clock, settings))
    return CockpitApp(lambda ctx: WatchScreen(source, ctx), _context(keymap, clock, settings))


def make_replay_app(replay: Replay, *, at: str | None = None,
                    keymap: dict[str, str] | None = None,
                    settings: CockpitSettings | None = None) -> CockpitApp:
    """`cockpit replay`: read-only, from the session's record; the clock is the window's."""
    from cockpit.ui.screens.replay import ReplayScreen

    return CockpitApp(lambda ctx: ReplayScreen(replay, ctx, at=at),
                      _context(keymap, None, settings))


@dataclass(frozen=True)
class DriveEnd:
    """How the driver's app ended: `error` says why the session could not be opened;
    `stopped` what stopped it (a signal, the terminal lost), None when the engineer quit."""

    error: str | None
    stopped: StopReason | None


def drive(app: CockpitApp, opening: Stoppable) -> DriveEnd:
    """Run the driver's app until it ends, then close the session.

    SIGHUP (the SSH line dropped), a terminal gone without one, SIGTERM or SIGINT stop it
    from a thread of their own (`session/shutdown.py`): the running step is cancelled, the
    app asked to end, and the session closed on the record (the step's end, the hang-up,
    `session.closed`, the lock released, the estate stopped) without waiting for the screen,
    which may be stuck writing to a terminal that is gone (Textual's writer thread and its
    bounded queue, Textual issue #6692); the process is ended if it has not ended a few
    seconds after that."""
    stop = Stop(opening, then=app.request_stop, in_handler=_no_screen_restart)
    previous_hook = threading.excepthook
    threading.excepthook = _writer_failure_is_a_hangup(previous_hook, stop)
    try:
        with stop, TerminalWatch(stop.terminal_lost):
            try:
                error = app.run()
            finally:
                opening.close()  # or wait for the stop thread's close to finish
    finally:
        threading.excepthook = previous_hook
    return DriveEnd(error, stop.reason)


def _no_screen_restart(signum: int) -> None:
    """In the SIGHUP handler: the kernel sends SIGCONT with a hang-up, and Textual's
    SIGCONT handler would start the screen again on the terminal that is gone (a new
    writer thread, writes that fail). Python runs the pending handlers in signal order,
    so resetting it here keeps it from running."""
    if signum == signal.SIGHUP:
        signal.signal(signal.SIGCONT, signal.SIG_DFL)


def _writer_failure_is_a_hangup(
    previous: Callable[[threading.ExceptHookArgs], object], stop: Stop,
) -> Callable[[threading.ExceptHookArgs], object]:
    """Textual's output thread dies when a write to the terminal fails: the terminal is
    gone, whether a SIGHUP came or not."""

    def hook(args: threading.ExceptHookArgs) -> object:
        thread = args.thread
        if thread is not None and thread.name == "textual-output" \
                and isinstance(args.exc_value, OSError):
            stop.terminal_lost()
            return None  # nothing to print it on
        return previous(args)

    return hook
