"""One audit entry: who did what, when, in which session, chained to the entry before it."""

from __future__ import annotations

import getpass
import os
import socket
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, field_serializer

from cockpit.audit.line import ENTRY_KEYS, GENESIS, actor_label, render_ts

__all__ = ["ENTRY_KEYS", "GENESIS", "Actor", "AuditEntry", "Sha256Hex", "actor_label",
           "render_ts"]

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Actor(BaseModel):
    """The person at the keyboard: the login, the jump host, and where they came in from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str
    host: str
    ssh_client: str | None = None

    @classmethod
    def current(cls) -> Actor:
        return cls(user=_login_name(), host=socket.gethostname(),
                   ssh_client=os.environ.get("SSH_CLIENT") or None)

    def label(self) -> str:
        """`jo@jump1 from 10.1.1.5`: how a report names the actor."""
        return actor_label(self.user, self.host, self.ssh_client)


def _login_name() -> str:
    # getpass raises when the uid has no passwd entry (containers, some jump hosts);
    # the audit log must still say who it was.
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid:{os.getuid()}"


class AuditEntry(BaseModel):
    """One parsed line of `audit.jsonl`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    ts: AwareDatetime
    session: str
    actor: Actor
    mode: str
    event: str
    step: str | None
    detail: dict[str, Any]
    prev: Sha256Hex
    hash: Sha256Hex

    @field_serializer("ts")
    def _ts_as_written(self, ts: datetime) -> str:
        return render_ts(ts)

