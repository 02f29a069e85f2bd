"""The two-person rule: a second engineer's approval, from their own login on the jump host.

The driver's session folder is theirs alone (0700), so an approval is left in a spool beside
it that every login can write to (`/var/tmp/cockpit-approvals` by default, sticky like
/tmp): one file per approval, in a folder named by the session folder's path. Who approved
is not what the file says but who owns it: the kernel's word (`st_uid`), which no user can
forge for another. The driver accepts an approval only from a login other than its own,
only for the step and the action it is asked for, only once (each accepted approval is
recorded in the audit log by its id), and only while fresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import stat
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry

SPOOL_ENV = "COCKPIT_APPROVALS"
DEFAULT_SPOOL = Path("/var/tmp/cockpit-approvals")
ACTIONS = ("override", "skip", "mark-done", "undo")
FRESH_FOR = timedelta(minutes=30)  # an approval is for now, not for the rest of the night
MAX_BYTES = 4096


@dataclass(frozen=True)
class Approval:
    id: str
    step: str
    action: str
    reason: str
    at: datetime
    uid: int

    @property
    def approver(self) -> str:
        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return f"uid {self.uid}"


def spool_root() -> Path:
    return Path(os.environ.get(SPOOL_ENV) or DEFAULT_SPOOL)


def spool_for(session_folder: Path) -> Path:
    """The session's approvals folder: named by the folder's real path, which both the
    driver and the approver can name without reading inside it."""
    key = hashlib.sha256(str(session_folder.resolve()).encode()).hexdigest()[:24]
    return spool_root() / key


def _shared_dir(path: Path) -> None:
    """A folder every login may add to, none may empty of another's (sticky, as /tmp)."""
    for folder in (path.parent, path):
        if not folder.exists():
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chmod(folder, 0o1777)


def leave(session_folder: Path, step: str, action: str, reason: str) -> Approval:
    """`cockpit approve`: leave an approval for the driver, as this login."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    if not reason.strip():
        raise ValueError("an approval needs a reason")
    folder = spool_for(session_folder)
    _shared_dir(folder)
    approval = Approval(uuid.uuid4().hex, step, action, reason.strip(), datetime.now(UTC),
                        os.getuid())
    body = json.dumps({"id": approval.id, "step": step, "action": action,
                       "reason": approval.reason, "at": approval.at.isoformat()})
    fd = os.open(folder / f"{approval.id}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL
                 | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body)
    return approval


def pending(session_folder: Path, step: str, action: str,
            now: datetime | None = None) -> list[Approval]:
    """Fresh approvals left for this step and action, oldest first, whoever left them."""
    folder = spool_for(session_folder)
    now = now or datetime.now(UTC)
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        approval = _read(path)
        if approval is not None and approval.step == step and approval.action == action \
                and now - approval.at <= FRESH_FOR:
            found.append(approval)
    return sorted(found, key=lambda a: a.at)


def _read(path: Path) -> Approval | None:
    """A regular file, small, well formed; its owner is who approved. Anything else is
    ignored (a symlink planted to point elsewhere, a half-written file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        try:
            data = json.loads(f.read())
            return Approval(str(data["id"]), str(data["step"]), str(data["action"]),
                            str(data["reason"]), datetime.fromisoformat(data["at"]),
                            info.st_uid)
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Asked:
    """What the driver asked for and has no accepted approval for yet."""

    step: str
    action: str
    at: datetime


def awaiting(entries: list[AuditEntry]) -> list[Asked]:
    """The asks of the record not yet answered by an accepted approval, oldest first."""
    open_asks: dict[tuple[str, str], Asked] = {}
    for entry in entries:
        if entry.step is None:
            continue
        key = (entry.step, str(entry.detail.get("action")))
        if entry.event == events.APPROVAL_ASKED:
            open_asks.setdefault(key, Asked(entry.step, key[1], entry.ts))
        elif entry.event == events.APPROVAL_ACCEPTED:
            open_asks.pop(key, None)
    return list(open_asks.values())


def left_unused(session_folder: Path, entries: list[AuditEntry],
                asks: list[Asked]) -> list[Approval]:
    """Approvals in the spool for what the driver asked, fresh and not yet taken."""
    used = {str(e.detail.get("id")) for e in entries
            if e.event in (events.APPROVAL_ACCEPTED, events.APPROVAL_REFUSED)}
    return [a for ask in asks for a in pending(session_folder, ask.step, ask.action)
            if a.id not in used]
