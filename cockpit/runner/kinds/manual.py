"""The manual action: an instruction the engineer carries out and confirms, with a note.

It touches no system, so nothing probes it, no pane shows it, and nothing in the estate
can tell whether it was done: a manual step cut short is run again (the engineer confirms
what was done) or marked done.
"""

from __future__ import annotations

from typing import Any

from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    ActionContext,
    Actions,
    Effects,
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

EFFECTS: Effects = {
    m.Manual: None,  # a person's doing: the estate cannot tell
}

WATCHED_BY: WatchedBy = {}
