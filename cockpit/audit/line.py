"""What every line of the log is made of, without pydantic: the genesis hash, the keys in
their order, the time format, how an actor is named, which values msgspec writes as json does.

Verify and export need these and nothing of the pydantic models, whose import costs a
fresh `cockpit audit verify|export` process more than reading a long log does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

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


_PLAIN_LEAVES = frozenset({str, int, bool, type(None)})


def json_encodes_alike(value: Any) -> bool:
    """Whether `msgspec.json.encode(value)` makes the bytes `json.dumps(value,
    ensure_ascii=False)` makes, compact: when the value holds nothing but JSON's own types,
    exactly (no subclass, tuple, set, NaN, key that is not text...). For those the two write
    every code point of a string alike, and a float alike where neither takes an exponent.
    msgspec writes them ten times faster, and every line holds a detail.
    """
    # Loops, with the leaves tested in place: a call per leaf would cost more than the
    # encoding this check makes safe.
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (type(item) not in _PLAIN_LEAVES
                                        and not json_encodes_alike(item)):
                return False
        return True
    if kind is list:
        for item in value:
            if type(item) not in _PLAIN_LEAVES and not json_encodes_alike(item):
                return False
        return True
    if kind is float:
        return _without_exponent(value)
    return kind in _PLAIN_LEAVES


def _without_exponent(number: float) -> bool:
    """Where `repr` (json's way) and msgspec both write digits and a point: they write an
    exponent differently (`1e+16` against `1e16`). NaN and infinity are not JSON at all."""
    return number == 0.0 or 1e-4 <= abs(number) < 1e16
