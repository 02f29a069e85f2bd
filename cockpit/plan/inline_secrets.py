"""Recognise credentials pasted into a plan.

Plan files are reviewed, committed and shown on screen during the window; a password in
one has leaked. Each pattern answers with what it found, never with the text, so the
message that reports a secret cannot repeat it.
"""

from __future__ import annotations

import re

_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(?<![a-z])(pwd|password)\s*=\s*[^;\s]"), "an ODBC password (PWD=...)"),
    (
        re.compile(r"(?i)[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@"),
        "a URL with a user's password (user:password@)",
    ),
    (re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"), "an AWS access key id"),
)
_BASE64_RUN = re.compile(r"[A-Za-z0-9/+]+")


def find_secret(text: str) -> str | None:
    """What kind of secret `text` holds (`"an AWS access key id"`), or None."""
    for pattern, what in _SECRETS:
        if pattern.search(text):
            return what
    if any(_looks_like_secret_key(run.group()) for run in _BASE64_RUN.finditer(text)):
        return "an AWS secret access key"
    return None


def _looks_like_secret_key(run: str) -> bool:
    """40 random base64 characters: mixed case and digits, unlike a hex digest (a git
    commit id) or a URL path (many slashes)."""
    return (
        len(run) == 40
        and run.count("/") <= 3
        and any(char.islower() for char in run)
        and any(char.isupper() for char in run)
        and any(char.isdigit() for char in run)
    )
