"""Where session folders live when the engineer does not say."""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.runner.session import new_session_id


def default_session_dir(plan_path: Path) -> Path:
    """`$XDG_STATE_HOME/cockpit/sessions/<plan>-<id>` (~/.local/state when unset)."""
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "cockpit" / "sessions" / f"{plan_path.stem}-{new_session_id()}"
