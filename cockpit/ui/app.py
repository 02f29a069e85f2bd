"""The cockpit's Textual app: thin. Screens and widgets live in their own modules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from textual.app import App

from cockpit.ui.commands import StepCommands
from cockpit.ui.keys import load_keymap


class CockpitApp(App[None]):
    CSS_PATH = "cockpit.tcss"
    TITLE = "cutover cockpit"
    COMMANDS = App.COMMANDS | {StepCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, source: Any, *, keymap: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.source = source
        self.keymap = keymap or {}
        # Ages, the window clock and report names read the time here: tests freeze it.
        self.clock = clock or (lambda: datetime.now(UTC))

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        self.push_screen(self._main_screen())

    def _main_screen(self) -> Any:
        if self.source.mode == "driver" and hasattr(self.source, "open"):
            from cockpit.ui.screens.starting import StartingScreen

            return StartingScreen(self.source)  # opens the estate off the UI thread
        if self.source.mode == "driver":
            from cockpit.ui.screens.driver import DriverScreen

            return DriverScreen(self.source)
        from cockpit.ui.screens.main import WatchScreen

        return WatchScreen(self.source)


def make_app(source: Any, *, keymap: dict[str, str] | None = None,
             clock: Callable[[], datetime] | None = None) -> CockpitApp:
    """The one factory for the CLI and the tests."""
    return CockpitApp(source, keymap=keymap if keymap is not None else load_keymap(),
                      clock=clock)
