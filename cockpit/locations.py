"""Every path the cockpit finds on its own, in one place, by the XDG base directory rules.

A jump host is shared and often has no desktop conventions, so the cockpit keeps to the
XDG variables (falling back to ~/.config and ~/.local/state as the spec says) rather than
guessing per platform. The environment is read at each call, not at import: tests and
wrappers change it after the module is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "cockpit"


def _xdg(variable: str, fallback: tuple[str, ...]) -> Path:
    """`$variable`, or `~/<fallback>` when it is unset, empty or relative.

    The spec says a relative value is invalid and must be ignored: it would otherwise put
    the files wherever the cockpit happened to be started.
    """
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else Path.home().joinpath(*fallback)


def config_dir() -> Path:
    """`$XDG_CONFIG_HOME/cockpit` (~/.config/cockpit when unset)."""
    return _xdg("XDG_CONFIG_HOME", (".config",)) / APP


def config_file() -> Path:
    """`$COCKPIT_CONFIG` if set, else `config_dir()/config.toml`.

    The override lets a test, or an engineer trying a change, point at another file without
    moving the one in use.
    """
    override = os.environ.get("COCKPIT_CONFIG")
    return Path(override) if override else config_dir() / "config.toml"


def state_dir() -> Path:
    """`$XDG_STATE_HOME/cockpit` (~/.local/state/cockpit when unset): what a session leaves."""
    return _xdg("XDG_STATE_HOME", (".local", "state")) / APP


def sessions_dir() -> Path:
    """`state_dir()/sessions`: one folder per session unless the engineer names one."""
    return state_dir() / "sessions"
