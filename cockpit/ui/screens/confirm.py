"""Type-to-confirm for a dangerous step: the engineer types the step's id; Cancel has focus."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class ConfirmStep(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    ConfirmStep { align: center middle; }
    ConfirmStep > Vertical { width: 70; max-width: 95%; height: auto; border: thick $error;
                             padding: 1 2; background: $surface; }
    ConfirmStep Label { width: 100%; }
    ConfirmStep Horizontal { height: auto; margin-top: 1; }
    ConfirmStep Button { margin-right: 2; }
    """

    def __init__(self, step_id: str, title: str, action: str) -> None:
        super().__init__()
        self.step_id, self.title_text, self.action_text = step_id, title, action

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.title_text}[/b]")
            yield Label(f"This changes the estate: {self.action_text}")
            yield Label(f"Type [b]{self.step_id}[/b] to run it, or press Cancel.")
            yield Input(placeholder=self.step_id, id="typed", select_on_focus=False)
            with Horizontal():
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Run", id="run", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # the safe choice has focus

    def on_key(self, event: events.Key) -> None:
        """Typing while Cancel has focus goes into the id field: Enter alone still cancels."""
        typed = self.query_one("#typed", Input)
        if event.is_printable and event.character and not typed.has_focus:
            event.stop()
            typed.focus()
            typed.insert_text_at_cursor(event.character)

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#run", Button).disabled = event.value.strip() != self.step_id

    @on(Input.Submitted, "#typed")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.step_id:
            self.dismiss(True)
        else:
            self.notify(f"type {self.step_id} exactly to run it", severity="warning")

    @on(Button.Pressed, "#run")
    def _run(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
