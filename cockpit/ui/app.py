"""The cockpit's Textual app: thin. Screens and widgets live in their own modules.

Three ways in, one app: a driver whose session still has to open (`cockpit run`, `demo`),
a driver's session already open (tests, benchmarks), a watcher. Which one is decided
here by the factory called, never by asking the source what it is.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import datetime

from textual.app import App
from textual.screen import Screen

from cockpit.session.protocols import DriverOpening, Driving, SessionSource
from cockpit.settings import CockpitSettings, load_settings
from cockpit.ui.commands import StepCommands
from cockpit.ui.context import UiContext, utc_now
from cockpit.ui.screens.driver import DriverScreen
from cockpit.ui.screens.starting import StartingScreen
from cockpit.ui.screens.watch import WatchScreen

FirstScreen = Callable[[UiContext], Screen[None]]


class CockpitApp(App[str | None]):
    """Its result is None, or why the session could not be opened (the CLI prints it)."""

    CSS_PATH = "cockpit.tcss"
    TITLE = "cutover cockpit"
    COMMANDS = App.COMMANDS | {StepCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, first: FirstScreen, context: UiContext) -> None:
        super().__init__()
        self.first = first
        self.context = context

    def on_mount(self) -> None:
        if self.context.keymap:
            self.set_keymap(self.context.keymap)
        self.push_screen(self.first(self.context))


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
    return CockpitApp(lambda ctx: StartingScreen(opening, ctx),
                      _context(keymap, clock, settings))


def make_driver_app(session: Driving, *, keymap: dict[str, str] | None = None,
                    clock: Callable[[], datetime] | None = None,
                    settings: CockpitSettings | None = None) -> CockpitApp:
    """A driver's session that is already open."""
    return CockpitApp(lambda ctx: DriverScreen(session, ctx), _context(keymap, clock, settings))


def make_watch_app(source: SessionSource, *, keymap: dict[str, str] | None = None,
                   clock: Callable[[], datetime] | None = None,
                   settings: CockpitSettings | None = None) -> CockpitApp:
    """`cockpit watch`: read-only, from the session folder."""
    return CockpitApp(lambda ctx: WatchScreen(source, ctx), _context(keymap, clock, settings))


def drive(app: CockpitApp, opening: DriverOpening) -> str | None:
    """Run the driver's app until it ends; SIGHUP (the SSH line dropped) or SIGTERM stops
    the waiting, records the hang-up and restores the terminal."""

    def handler(signum: int, frame: object) -> None:
        opening.cancel(hangup=signum == signal.SIGHUP)
        app.exit()

    signal.signal(signal.SIGHUP, handler)
    signal.signal(signal.SIGTERM, handler)
    return app.run()
