"""What every line of the log is made of, without pydantic: the genesis hash, the keys in
their order, the time format, how an actor is named.

Verify and export need these and nothing of the pydantic models, whose import costs a
fresh `cockpit audit verify|export` process more than reading a long log does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

GENESIS = "0" * 64
"""The `prev` of the first entry of a log: there is no entry before it."""

# The line's keys in the order they are written. Verify checks the order too, so a line
# that was rebuilt by some other JSON writer is noticed even if someone re-hashed it.
ENTRY_KEYS = ("seq", "ts", "session", "actor", "mode", "event", "step", "detail", "prev", "hash")


def render_ts(ts: datetime) -> str:
    """`2026-11-26T14:33:23.123456Z`: always UTC, always microseconds, so lines sort as text."""
    utc = ts.astimezone(UTC)
    if utc.year >= 1000:
        # The same text as the strftime below, in a fifth of the time: every line is stamped.
        return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # `%Y` does not pad a year before 1000


@lru_cache(maxsize=256)  # a log names a handful of actors, on every one of its lines
def actor_label(user: str, host: str, ssh_client: str | None) -> str:
    """`jo@jump1 from 10.1.1.5`: how a report names the actor."""
    where = f" from {ssh_client.split()[0]}" if ssh_client else ""
    return f"{user}@{host}{where}"
