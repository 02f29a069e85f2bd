"""Actions performed on the estate: the `do` and `undo` of steps.

Each returns its outputs (instance ids, change ids, the values written), which the audit
log records and later conditions read (`route53.insync` reads the change ids).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit.estate import ec2, elb, route53
from cockpit.estate.handle import EstateHandle
from cockpit.plan import models as m


class ManualNotConfirmed(RuntimeError):
    """The engineer did not confirm a manual action."""


class ActionFailed(RuntimeError):
    """An action that failed, with what it found: `evidence` goes into the failed step."""

    def __init__(self, message: str, evidence: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.evidence = evidence or {}


# Asked when a `manual` action runs: returns the engineer's note, or None to refuse.
ConfirmManual = Callable[[str], str | None]
# Told how a long action is getting on (a message, and its figures for the log).
Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class ActionContext:
    handle: EstateHandle
    confirm_manual: ConfirmManual
    progress: Progress | None = None
    progress_every_s: float = 5.0


def perform(action: Any, ctx: ActionContext) -> dict[str, Any]:
    return _handler(type(action))(action, ctx)


def _handler(kind: type) -> Callable[[Any, ActionContext], dict[str, Any]]:
    if kind not in _ACTIONS:  # the database window's kinds build on this module's names
        from cockpit.runner.database_actions import ACTIONS

        _ACTIONS.update(ACTIONS)
    return _ACTIONS[kind]


def describe(action: Any) -> str:
    fields = action.model_dump(exclude={"kind"}, exclude_defaults=True)
    args = ", ".join(f"{k}={'+'.join(map(str, v)) if isinstance(v, list) else v}"
                     for k, v in fields.items())
    return f"{action.kind}({args})"


def _manual(a: m.Manual, ctx: ActionContext) -> dict[str, Any]:
    note = ctx.confirm_manual(a.instruction)
    if note is None:
        raise ManualNotConfirmed(f"not confirmed: {a.instruction}")
    return {"confirmed": True, "note": note}


_ACTIONS: dict[type, Callable[[Any, ActionContext], dict[str, Any]]] = {
    m.Ec2Start: lambda a, ctx: ec2.start_instances(ctx.handle, a.servers),
    m.Ec2Stop: lambda a, ctx: ec2.stop_instances(ctx.handle, a.servers),
    m.Register: lambda a, ctx: elb.register(ctx.handle, a.target_group, a.servers),
    m.Deregister: lambda a, ctx: elb.deregister(ctx.handle, a.target_group, a.servers),
    m.Upsert: lambda a, ctx: route53.upsert(ctx.handle, a.records, a.value, a.ttl),
    m.Manual: _manual,
}
