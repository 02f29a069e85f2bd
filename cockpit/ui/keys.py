"""The cockpit's actions as Textual bindings, and the keymap from the config file.

The registry itself (`cockpit/bindings.py`) is plain data, so that the settings can check
a `[keys]` table against it without importing the UI.
"""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding

from cockpit.bindings import ACTIONS, CockpitAction
from cockpit.locations import config_file
from cockpit.settings import SettingsError, load_settings


def bindings_for(mode: str) -> list[Binding]:
    """Watch and replay register no action that changes anything: they are not there to
    press."""

    return [
        Binding(a.keys, a.action, a.description, show=a.show, id=a.id, tooltip=a.help)
        for a in ACTIONS
        if a.in_mode(mode)
    ]


def actions_for(mode: str) -> list[CockpitAction]:
    return [a for a in ACTIONS if a.in_mode(mode)]


# Every config problem, keys or not, is one error type: whoever catches a bad keymap
# catches a bad config file, which stops the cockpit just the same.
KeymapError = SettingsError


def keymap_path() -> Path:
    """The file keys are remapped in: the config file (its `[keys]` table)."""
    return config_file()


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """binding id -> "key[,key...]" from the config's `[keys]` table and `COCKPIT_KEYS__*`,
    checked against `ACTIONS`. No config file is no keymap."""
    return dict(load_settings(path).keys)
