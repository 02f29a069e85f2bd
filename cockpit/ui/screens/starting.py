"""The first frame: shown at once while the estate and the session open behind it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, Static

from cockpit.ui import styles
from cockpit.ui.context import UiContext

if TYPE_CHECKING:
    from cockpit.session.protocols import DriverOpening, Driving


class StartingScreen(Screen[None]):
    BINDINGS = [("q", "app.quit", "Quit")]
    DEFAULT_CSS = "StartingScreen Static { width: auto; text-align: center; }"

    def __init__(self, opening: DriverOpening, context: UiContext) -> None:
        super().__init__()
        self.opening = opening
        self.context = context

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(f"cutover cockpit\n\n{self.opening.describe()}", id="starting")
        yield Footer()

    def on_mount(self) -> None:
        self._open()

    @work(thread=True, exit_on_error=False)
    def _open(self) -> None:
        try:
            # In this worker, after the first frame: the driver's screen and the session
            # layer under it are a second of imports.
            from cockpit.ui.screens.driver import DriverScreen

            self._driver_screen = DriverScreen
            self.app.call_from_thread(self._read_styles_ahead)
            session = self.opening.open()
        except Exception as exc:  # the app ends with why; the CLI prints it, no traceback
            self.app.call_from_thread(self.app.exit, f"{_reason(exc)}", 2)
            return
        self.app.call_from_thread(self._opened, session)

    def _read_styles_ahead(self) -> None:
        """On the screen's thread, idle while the estate starts: the driver's screen
        would parse its widgets' styles as the session first shows."""
        styles.read_ahead(self.app, self._driver_screen.composed_ahead())

    def _opened(self, session: Driving) -> None:
        self.app.switch_screen(self._driver_screen(session, self.context))


def _reason(exc: Exception) -> str:
    """The message alone for the refusals an engineer meets (lock held, no sim extra, a
    bad endpoints file); the exception's name too for anything unexpected."""
    known = ("LockHeld", "LockHung", "StaleLock", "SimUnavailable", "ServedSimFailed")
    # ValueError: a refused estate (wrong account, a Name on two instances), a bad fault
    if isinstance(exc, ValueError | OSError) or type(exc).__name__ in known:
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
