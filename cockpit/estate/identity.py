"""Who the AWS credentials say we are: the first audit entry names the account."""

from __future__ import annotations

from typing import Any

from cockpit.estate.handle import EstateHandle


def aws_identity(handle: EstateHandle) -> dict[str, Any]:
    """The caller identity, or why it could not be had; never raises."""
    try:
        found = handle.client("sts").get_caller_identity()
    except Exception as exc:  # no credentials must not stop a session from opening
        return {"error": f"{type(exc).__name__}: {exc}", "profile": handle.profile_label}
    return {"account": found.get("Account"), "arn": found.get("Arn"),
            "profile": handle.profile_label}


def account_problem(found: dict[str, Any], pinned: str) -> str | None:
    """Why credentials of this identity (`aws_identity`) must not drive a plan pinned to
    `pinned`; None if they may."""
    profile = f" (profile {found['profile']})" if found.get("profile") else ""
    if "error" in found:
        return (f"the plan pins AWS account {pinned} (estate.account_id) and the credentials"
                f"{profile} could not say which account they are for: {found['error']}")
    if found.get("account") != pinned:
        return (f"the plan pins AWS account {pinned} (estate.account_id) but the credentials"
                f"{profile} are for account {found.get('account')} ({found.get('arn')}): "
                "choose the profile of the plan's account")
    return None
