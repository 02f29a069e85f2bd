"""Turn what the outside world throws into a one-line error value for a pane."""

from __future__ import annotations

from typing import Any


def describe_error(exc: BaseException) -> str:
    """A short, secret-free description of a failed call."""
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def probe_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a probe turns into an error value instead of letting them escape."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, OSError, ValueError, KeyError, LookupError)
