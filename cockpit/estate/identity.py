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
