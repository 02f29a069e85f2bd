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
from cockpit.estate.identity import account_problem, aws_identity
from cockpit.plan.models import Plan


class EstateRefused(ValueError):
    """The estate is not the one the plan may be driven on."""


def check_before_opening(plan: Plan, handle: EstateHandle) -> None:
    """Raise EstateRefused naming every reason not to open a session on this estate; else
    pin the app servers' instances as found now (`ec2.pin_instances`)."""
    pinned = plan.estate.account_id
    account = account_problem(aws_identity(handle), pinned) if pinned else None
    names, ids = _names(plan, handle)
    problems = [p for p in (account, names) if p]
    if problems:
        raise EstateRefused("; ".join(problems))
    if ids is not None:
        pin_instances(handle, ids)


def aws_servers(plan: Plan) -> list[str]:
    return [s.id for s in plan.estate.app_servers if s.site == "aws"]


def names_refusal(plan: Plan, handle: EstateHandle) -> str | None:
    """Which app servers' Name tags are on more than one live instance (None: none)."""
    return _names(plan, handle)[0]


def _names(plan: Plan, handle: EstateHandle) -> tuple[str | None, dict[str, str] | None]:
    """One lookup of the app servers by Name: the refusal it gives, or the ids it found
    (None: missing or unreadable, which the EC2 pane and the steps say in time)."""
    servers = aws_servers(plan)
    try:
        return None, instance_ids(handle, servers) if servers else {}
    except DuplicateName as exc:
        return str(exc), None
    except probe_errors():
        return None, None
