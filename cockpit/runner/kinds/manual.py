"""The manual action: an instruction the engineer carries out and confirms, with a note.

It touches no system, so nothing probes it and no pane shows it.
"""

from __future__ import annotations

from typing import Any

from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    ActionContext,
    Actions,
    ManualNotConfirmed,
    Probes,
    WatchedBy,
)


def _manual(a: m.Manual, ctx: ActionContext) -> dict[str, Any]:
    note = ctx.confirm_manual(a.instruction)
    if note is None:
        raise ManualNotConfirmed(f"not confirmed: {a.instruction}")
    return {"confirmed": True, "note": note}


PROBES: Probes = {}

ACTIONS: Actions = {
    m.Manual: _manual,
}

WATCHED_BY: WatchedBy = {}
