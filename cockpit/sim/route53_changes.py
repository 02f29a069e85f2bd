"""Route 53 changes that take time: PENDING for a while, then INSYNC, then served.

moto applies a change at once and answers INSYNC for any id. Here each change gets an id
of its own and stays PENDING for the propagation time; the zone as *published* (what the
authoritative servers answer, and so what resolvers fetch) holds a change only from INSYNC.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PROPAGATION_S = 45.0
# An alias has no TTL of its own: Route 53 answers it with its target's, and an ELB's
# records live 60 s.
ALIAS_TTL = 60


@dataclass(frozen=True)
class RecordData:
    """A published record set: its values (comma-separated), or for an alias (`alias`)
    the target's DNS name, whose addresses Route 53 answers in its place."""

    value: str
    ttl: int
    alias: bool = False


@dataclass
class PendingChange:
    change_id: str
    submitted_at: datetime
    insync_at: float
    changes: list[dict[str, Any]]
    applied: bool = False


def _key(name: str, rtype: str) -> tuple[str, str]:
    return name.rstrip(".").lower() + ".", rtype.upper()


class ChangeLedger:
    """The changes of one hosted zone, and the zone as published to resolvers."""

    def __init__(self, zone_name: str, speed: float,
                 propagation_s: float = PROPAGATION_S) -> None:
        self.zone_name = zone_name.rstrip(".").lower() + "."
        self.speed, self.propagation_s = speed, propagation_s
        self._published: dict[tuple[str, str], RecordData] = {}
        self._changes: dict[str, PendingChange] = {}
        self._lock = threading.Lock()

    def seed(self, name: str, rtype: str, value: str, ttl: int) -> None:
        with self._lock:
            self._published[_key(name, rtype)] = RecordData(value, ttl)

    def submit(self, changes: list[dict[str, Any]]) -> PendingChange:
        change = PendingChange(
            change_id="/change/C" + secrets.token_hex(8).upper(),
            submitted_at=datetime.now(UTC),
            insync_at=time.monotonic() + self.propagation_s / self.speed,
            changes=changes,
        )
        with self._lock:
            self._changes[change.change_id] = change
        return change

    def status(self, change_id: str) -> tuple[str, datetime] | None:
        self._publish_due()
        with self._lock:
            change = self._changes.get(change_id)
            if change is None:
                return None
            return ("INSYNC" if change.applied else "PENDING"), change.submitted_at

    def lookup(self, name: str, rtype: str) -> RecordData | None:
        self._publish_due()
        with self._lock:
            return self._published.get(_key(name, rtype))

    def holds(self, name: str) -> bool:
        key = name.rstrip(".").lower() + "."
        return key == self.zone_name or key.endswith("." + self.zone_name)

    def names(self) -> set[str]:
        self._publish_due()
        with self._lock:
            return {name for name, _ in self._published}

    def _publish_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [c for c in self._changes.values() if not c.applied and now >= c.insync_at]
            due.sort(key=lambda c: c.insync_at)
            for change in due:
                for item in change.changes:
                    self._apply(item)
                change.applied = True

    def _apply(self, item: dict[str, Any]) -> None:
        rrset = item["ResourceRecordSet"]
        key = _key(rrset["Name"], rrset["Type"])
        if item["Action"] == "DELETE":
            self._published.pop(key, None)
            return
        target = rrset.get("AliasTarget")
        if target:
            self._published[key] = RecordData(_key(target["DNSName"], "A")[0], ALIAS_TTL,
                                              alias=True)
            return
        # moto rewrites the batch in place to bare strings; accept both shapes.
        values = [r if isinstance(r, str) else r["Value"] for r in rrset.get("ResourceRecords", [])]
        self._published[key] = RecordData(",".join(values), int(rrset.get("TTL", 300)))
