"""What every screen is handed besides its session: settings, keys and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cockpit.settings import CockpitSettings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class UiContext:
    settings: CockpitSettings = field(default_factory=CockpitSettings)
    keymap: dict[str, str] = field(default_factory=dict)
    # Ages, the window clock and report names read the time here: tests freeze it.
    clock: Callable[[], datetime] = utc_now
