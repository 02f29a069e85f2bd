"""Recognise credentials pasted into a plan.

Plan files are reviewed, committed and shown on screen during the window; a password in
one has leaked. Each pattern answers with what it found, never with the text, so the
message that reports a secret cannot repeat it.

Every pattern here is run on every string of an untrusted file, so each must stay linear
in the length of its text: no quantified group whose repetitions can overlap, and no
unanchored `x*` in front of the part that must match (that retries from every start
position, quadratic on one long word). `tests/unit/test_plan_scaling.py` holds them to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# An STS session token (`aws sts get-session-token`, `assume-role`, SSO, instance roles) is
# a long base64 blob whose first bytes are fixed by its encoding: `IQoJb3JpZ2luX2Vj...`
# (today's "origin_ec..." tokens, and their `AgoJ`/`IgoJ` variants), `FwoGZXIvYXdz` and
# `FQoGZXIvYXdz` (older), `AQoDYXdz` (the oldest), `AQoEXAMPLE` (the AWS docs' example).
_SESSION_TOKEN = re.compile(
    r"(?<![A-Za-z0-9+/])"
    r"(?:IQoJb3JpZ2luX2|AgoJb3JpZ2luX2|IgoJb3JpZ2luX2|FwoGZXIvYXdz|FQoGZXIvYXdz|AQoDYXdz|AQoEXAMPLE)"
    r"[A-Za-z0-9+/=]{16}"
)
_ODBC_PASSWORD = re.compile(r"(?i)(?<![a-z])(pwd|password)\s*=\s*[^;\s]")
_ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
# `export AWS_SESSION_TOKEN=...`, `aws_secret_access_key = ...` pasted into a text.
_TOKEN_ASSIGNED = re.compile(
    r"(?i)(?<![a-z0-9_])(?:aws_)?(?:session_token|security_token)\s*[=:]\s*[\"']?"
    r"[A-Za-z0-9+/]{16}"
)
_SECRET_KEY_ASSIGNED = re.compile(
    r"(?i)(?<![a-z0-9_])(?:aws_)?secret_access_key\s*[=:]\s*[\"']?[A-Za-z0-9+/]{16}"
)
# A URL's `user:password@`: found from its `://` (see `_password_in_url`).
_URL_AUTHORITY = re.compile(r"://[^/\s:@]*:[^/\s@]+@")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
# A run of exactly 40 base64 characters (an AWS secret access key's length).
_BASE64_40 = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")
# Keys that hold a credential whatever their value looks like (the key is the tell): as
# the AWS CLI's files and variables spell them, and as `aws sts` prints them (camel case).
_SECRET_KEYS = {
    "aws_session_token": "an AWS session token",
    "aws_security_token": "an AWS session token",
    "session_token": "an AWS session token",
    "security_token": "an AWS session token",
    "sessiontoken": "an AWS session token",
    "aws_secret_access_key": "an AWS secret access key",
    "secret_access_key": "an AWS secret access key",
    "secretaccesskey": "an AWS secret access key",
}


def _password_in_url(text: str) -> bool:
    """`scheme://user:password@`: a `://` with a password before the next `@`, behind a
    scheme (a letter, then letters, digits, `+`, `.` or `-`).

    Written as a search for `://` and a look back, not as one pattern starting at the
    scheme: `[a-z][a-z0-9+.-]*://` retries from every letter of a long word, and a 100 KB
    word took half a minute.
    """
    for match in _URL_AUTHORITY.finditer(text):
        start = match.start()
        while start > 0 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
            if text[start].isascii() and text[start].isalpha():
                return True
    return False


def _secret_access_key(text: str) -> bool:
    return any(_looks_like_secret_key(run.group()) for run in _BASE64_40.finditer(text))


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


# In order: the first that finds something names it.
_FINDERS: tuple[tuple[Callable[[str], object], str], ...] = (
    (_ODBC_PASSWORD.search, "an ODBC password (PWD=...)"),
    (_password_in_url, "a URL with a user's password (user:password@)"),
    (_ACCESS_KEY_ID.search, "an AWS access key id"),
    (_SESSION_TOKEN.search, "an AWS session token"),
    (_TOKEN_ASSIGNED.search, "an AWS session token"),
    (_SECRET_KEY_ASSIGNED.search, "an AWS secret access key"),
    (_secret_access_key, "an AWS secret access key"),
)


# Something every finder above needs to find anything (a superset, in one pass): most
# strings of a plan (ids, kinds, titles) are cleared by this alone.
_MAYBE = re.compile(
    r"(?i)pwd|password|://|akia|asia|token|secret|iqoj|agoj|igoj|fwog|fqog|aqod|aqoe"
    r"|[a-z0-9/+]{40}"
)


def find_secret(text: str) -> str | None:
    """What kind of secret `text` holds (`"an AWS access key id"`), or None."""
    if not _MAYBE.search(text):
        return None
    return next((what for finds, what in _FINDERS if finds(text)), None)


def secret_key(name: str) -> str | None:
    """What any value written under a key of that name holds (`aws_session_token` -> "an
    AWS session token": the key is the tell, whatever the value looks like); None for any
    other key."""
    return _SECRET_KEYS.get(name.strip().lower().replace("-", "_"))

