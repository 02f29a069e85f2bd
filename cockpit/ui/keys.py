"""One registry of the cockpit's actions: it feeds the bindings, the help screen and the
command palette. Every binding has an id, so keys can be remapped from a config file.

Keys are single printable characters or F-keys: they arrive intact through SSH, tmux and
PuTTY. Nothing essential sits on Esc alone, alt or ctrl+shift.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.binding import Binding


@dataclass(frozen=True)
class CockpitAction:
    id: str
    keys: str
    action: str
    description: str
    help: str
    driver_only: bool = True
    show: bool = True


# Footer order: the essential keys first, so an 80-column footer still shows them.
ACTIONS: tuple[CockpitAction, ...] = (
    CockpitAction("run_step", "r,f5", "run_selected", "Run",
                  "Run the selected step (type-to-confirm where the plan asks)"),
    CockpitAction("run_next", "g,f6", "run_next", "Next",
                  "Run the next ready step"),
    CockpitAction("help", "question_mark,f1", "help", "Help", "List every key",
                  driver_only=False),
    CockpitAction("quit", "q,f10", "quit_cockpit", "Quit", "Leave the cockpit",
                  driver_only=False),
    CockpitAction("undo_step", "u", "undo_selected", "Undo", "Undo the selected step"),
    CockpitAction("skip_step", "s", "skip_selected", "Skip",
                  "Skip the selected step, with a reason"),
    CockpitAction("override_gate", "o", "override_selected", "Override",
                  "Run the selected step overriding its failed gates, with a reason"),
    CockpitAction("recheck_step", "c", "recheck_selected", "Re-check",
                  "Re-check an interrupted step's condition without acting again"),
    CockpitAction("mark_done", "m", "mark_done_selected", "Mark done",
                  "Mark the selected step done, with a reason", show=False),
    CockpitAction("add_note", "n", "add_note", "Note", "Add a note to the audit log"),
    CockpitAction("pause_polling", "p", "toggle_pause", "Pause",
                  "Pause or resume polling the estate"),
    CockpitAction("export_log", "e", "export_log", "Export",
                  "Export the audit log as an html report", driver_only=False),
    CockpitAction("next_pane", "]", "cycle_pane(1)", "Pane",
                  "Show the next pane (small terminals)", driver_only=False, show=False),
    CockpitAction("previous_pane", "[", "cycle_pane(-1)", "Pane",
                  "Show the previous pane (small terminals)", driver_only=False, show=False),
    CockpitAction("palette", "colon,ctrl+p", "app.command_palette", "Steps",
                  "Command palette: every step and action", driver_only=False),
)


def bindings_for(mode: str) -> list[Binding]:
    """Watch mode registers no action that changes anything: they are not there to press."""
    return [
        Binding(a.keys, a.action, a.description, show=a.show, id=a.id, tooltip=a.help)
        for a in ACTIONS
        if mode == "driver" or not a.driver_only
    ]


def actions_for(mode: str) -> list[CockpitAction]:
    return [a for a in ACTIONS if mode == "driver" or not a.driver_only]


class KeymapError(ValueError):
    """The key config file is unreadable or names an unknown binding id."""


def keymap_path() -> Path:
    """`$COCKPIT_KEYS` if set, else `$XDG_CONFIG_HOME/cockpit/keys.toml`."""
    if os.environ.get("COCKPIT_KEYS"):
        return Path(os.environ["COCKPIT_KEYS"])
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "cockpit" / "keys.toml"


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """`[keys]` table: binding id = "key[,key...]". A missing file is no keymap."""
    path = path or keymap_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise KeymapError(f"{path}: {exc}") from exc
    keys = data.get("keys", {})
    known = {a.id for a in ACTIONS}
    if not isinstance(keys, dict):
        raise KeymapError(f"{path}: [keys] must be a table")
    for binding_id, value in keys.items():
        if binding_id not in known:
            raise KeymapError(f"{path}: unknown binding id {binding_id!r} "
                              f"(known: {', '.join(sorted(known))})")
        if not isinstance(value, str) or not value.strip():
            raise KeymapError(f"{path}: keys.{binding_id} must be a string such as \"x,f7\"")
    return dict(keys)
