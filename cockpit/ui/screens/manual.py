"""A manual step: the instruction, a note of what was done (required), Cancel focused.

A person does the thing (phones the bridge, places the smoke order) and says so here; the
note and who confirmed go into the log. Cancel or Escape leaves the step ready.
"""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class ConfirmManual(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    ConfirmManual { align: center middle; }
    ConfirmManual > Vertical { width: 80; max-width: 95%; height: auto; border: thick $accent;
                               padding: 1 2; background: $surface; }
    ConfirmManual Label { width: 100%; }
    ConfirmManual #instruction { margin: 1 0; text-style: bold; }
    ConfirmManual Horizontal { height: auto; margin-top: 1; }
    ConfirmManual Button { margin-right: 2; }
    """

    def __init__(self, step_id: str, title: str, instruction: str) -> None:
        super().__init__()
        self.step_id, self.title_text, self.instruction = step_id, title, instruction

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]MANUAL STEP[/b] {self.step_id}: {self.title_text}")
            yield Label(self.instruction, id="instruction", markup=False)
            yield Label("When it is done, say what happened (it goes into the audit log) "
                        "and press Enter. Cancel leaves the step ready.")
            yield Input(placeholder="what was done, by whom, what was seen", id="note",
                        select_on_focus=False)
            with Horizontal():
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Done", id="done", variant="success", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # the safe choice has focus

    def on_key(self, event: events.Key) -> None:
        """Typing while Cancel has focus goes into the note: Enter alone still cancels."""
        note = self.query_one("#note", Input)
        if event.is_printable and event.character and not note.has_focus:
            event.stop()
            note.focus()
            note.insert_text_at_cursor(event.character)

    @on(Input.Changed, "#note")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#done", Button).disabled = not event.value.strip()

    @on(Input.Submitted, "#note")
    @on(Button.Pressed, "#done")
    def _done(self) -> None:
        note = self.query_one("#note", Input).value.strip()
        if not note:
            self.notify("a note is required: it goes into the audit log", severity="warning")
            return
        self.dismiss(note)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
