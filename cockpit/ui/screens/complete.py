"""The window is over: say so, and offer the change board's record at once."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class WindowComplete(ModalScreen[bool]):
    """Dismissed with True to export the report now."""

    BINDINGS = [Binding("escape", "later", "Later", show=False)]
    DEFAULT_CSS = """
    WindowComplete { align: center middle; }
    WindowComplete > Vertical { width: 70; max-width: 95%; height: auto;
                                border: thick $success; padding: 1 2; background: $surface; }
    WindowComplete Label { width: 100%; }
    WindowComplete Horizontal { height: auto; margin-top: 1; }
    WindowComplete Button { margin-right: 2; }
    """

    def __init__(self, summary: str) -> None:
        super().__init__()
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.summary}[/b]", markup=True)
            yield Label("Export the audit log as the change board's HTML report now? "
                        "(e exports it again at any time)")
            with Horizontal():
                yield Button("Export report", id="export", variant="success")
                yield Button("Later", id="later")

    def on_mount(self) -> None:
        self.query_one("#export", Button).focus()

    @on(Button.Pressed, "#export")
    def _export(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#later")
    def action_later(self) -> None:
        self.dismiss(False)
