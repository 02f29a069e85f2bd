"""Actions performed on the estate: the `do` and `undo` of steps.

Each returns its outputs (instance ids, change ids, the values written), which the audit
log records and later conditions read (`route53.insync` reads the change ids). The
handlers live with their system in `runner.kinds`; this is what the runner calls.
"""

from __future__ import annotations

from typing import Any

from cockpit.runner.kinds import ACTIONS
from cockpit.runner.kinds.base import (
    ActionContext,
    ActionFailed,
    ConfirmManual,
    ManualNotConfirmed,
    Progress,
)

__all__ = [
    "ActionContext",
    "ActionFailed",
    "ConfirmManual",
    "ManualNotConfirmed",
    "Progress",
    "describe",
    "perform",
]


def perform(action: Any, ctx: ActionContext) -> dict[str, Any]:
    return ACTIONS[type(action)](action, ctx)


def describe(action: Any) -> str:
    fields = action.model_dump(exclude={"kind"}, exclude_defaults=True)
    args = ", ".join(f"{k}={'+'.join(map(str, v)) if isinstance(v, list) else v}"
                     for k, v in fields.items())
    return f"{action.kind}({args})"
