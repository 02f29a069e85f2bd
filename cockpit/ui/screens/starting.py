"""The first frame: shown at once while the estate and the session open behind it."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, Static


class StartingScreen(Screen[None]):
    BINDINGS = [("q", "app.quit", "Quit")]
    DEFAULT_CSS = "StartingScreen Static { width: auto; text-align: center; }"

    def __init__(self, opening: Any) -> None:
        super().__init__()
        self.opening = opening

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(f"cutover cockpit\n\n{self.opening.describe()}", id="starting")
        yield Footer()

    def on_mount(self) -> None:
        self._open()

    @work(thread=True, exit_on_error=False)
    def _open(self) -> None:
        try:
            source = self.opening.open()
        except Exception as exc:  # shown, then the CLI prints it: never a traceback
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._opened, source)

    def _opened(self, source: Any) -> None:
        from cockpit.ui.screens.driver import DriverScreen

        self.app.switch_screen(DriverScreen(source))

    def _failed(self, exc: Exception) -> None:
        if getattr(self.opening, "error", None) is None:
            self.opening.error = f"{type(exc).__name__}: {exc}"
        self.app.exit(return_code=2)
