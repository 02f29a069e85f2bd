"""What is settled before a session opens on an estate, or the opening is refused.

A window must not start against the wrong AWS account (a profile left pointing at staging
finds nothing, or worse, finds look-alikes), nor with an app server's Name tag on more than
one live instance (a leftover test instance would be registered behind the ALB). Both are
found in one or two read calls; both refuse the opening, naming what was found. `cockpit
check` runs the same two as its first readiness checks.
"""

from __future__ import annotations

from cockpit.estate.ec2 import DuplicateName, instance_ids, pin_instances
from cockpit.estate.errors import probe_errors
from cockpit.estate.handle import EstateHandle
from cockpit.estate.identity import account_problem
from cockpit.plan.models import Plan


class EstateRefused(ValueError):
    """The estate is not the one the plan may be driven on."""


def check_before_opening(plan: Plan, handle: EstateHandle) -> None:
    """Raise EstateRefused naming every reason not to open a session on this estate; else
    pin the app servers' instances as found now (`ec2.pin_instances`)."""
    problems = [p for p in (account_refusal(plan, handle), names_refusal(plan, handle)) if p]
    if problems:
        raise EstateRefused("; ".join(problems))
    _pin(plan, handle)


def _pin(plan: Plan, handle: EstateHandle) -> None:
    servers = aws_servers(plan)
    try:
        ids = instance_ids(handle, servers) if servers else {}
    except probe_errors():
        return  # not all there yet: each is looked up by Name when a step needs it
    pin_instances(handle, ids)


def account_refusal(plan: Plan, handle: EstateHandle) -> str | None:
    """Why these credentials must not drive this plan (None: the account is the pinned
    one, or the plan pins none)."""
    pinned = plan.estate.account_id
    return account_problem(handle, pinned) if pinned else None


def aws_servers(plan: Plan) -> list[str]:
    return [s.id for s in plan.estate.app_servers if s.site == "aws"]


def names_refusal(plan: Plan, handle: EstateHandle) -> str | None:
    """Which app servers' Name tags are on more than one live instance (None: none)."""
    servers = aws_servers(plan)
    if not servers:
        return None
    try:
        instance_ids(handle, servers)
    except DuplicateName as exc:
        return str(exc)
    except probe_errors():
        return None  # missing or unreadable: the EC2 pane and the steps say so, in time
    return None
