"""`?`: every key the cockpit answers to in this mode, from the one action registry."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cockpit.bindings import CockpitAction
from cockpit.ui.keys import keymap_path

_NAMES = {"question_mark": "?", "colon": ":", "ctrl+p": "ctrl+p", "full_stop": "."}


def _readable(keys: str) -> str:
    return ", ".join(_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close", show=False)]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 95%; height: auto; max-height: 90%;
                                  border: thick $primary; padding: 1 2; background: $surface; }
    """

    def __init__(self, actions: list[CockpitAction], keys: dict[str, str], mode: str,
                 step_keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.actions, self.keys, self.mode, self.step_keys = actions, keys, mode, step_keys

    def compose(self) -> ComposeResult:
        table = Table(title=f"Keys ({self.mode.lower()} mode)", box=None, expand=True)
        table.add_column("keys", style="bold", no_wrap=True)
        table.add_column("what it does")
        table.add_column("binding id", style="dim")
        for action in self.actions:
            table.add_row(_readable(self.keys.get(action.id, action.keys)), action.help, action.id)
        for key, step in self.step_keys:
            table.add_row(key, f"Select step {step}", "")
        with VerticalScroll():
            yield Static(table)
            yield Static(Text(
                f"\nRemap keys in {keymap_path()}: [keys] run_step = \"x,f7\"."
                "\nArrows and page keys move the runbook cursor. Esc, q or ? closes this."))
