"""Where session folders live when the engineer does not say."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path


def new_session_id() -> str:
    """`20261126-143323-ab12`: sortable, and unique enough for one jump host."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def default_session_dir(plan_path: Path) -> Path:
    """`$XDG_STATE_HOME/cockpit/sessions/<plan>-<id>` (~/.local/state when unset)."""
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "cockpit" / "sessions" / f"{plan_path.stem}-{new_session_id()}"
