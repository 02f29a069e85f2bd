"""Ask for a reason (skip, override, mark done) or a note; empty text is refused."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class AskReason(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    AskReason { align: center middle; }
    AskReason > Vertical { width: 80; max-width: 95%; height: auto; border: thick $warning;
                           padding: 1 2; background: $surface; }
    AskReason Horizontal { height: auto; margin-top: 1; }
    AskReason Button { margin-right: 2; }
    """

    def __init__(self, prompt: str, *, placeholder: str = "why, in words the change board reads"):
        super().__init__()
        self.prompt, self.placeholder = prompt, placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt)
            yield Input(placeholder=self.placeholder, id="reason")
            with Horizontal():
                yield Button("Record", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    @on(Button.Pressed, "#ok")
    def _record(self) -> None:
        text = self.query_one("#reason", Input).value.strip()
        if not text:
            self.notify("a reason is required: it goes into the audit log", severity="warning")
            return
        self.dismiss(text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
