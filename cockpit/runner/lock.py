"""One driver per session folder.

The lock is an `flock` on `lock`, held for the driver's life, so the kernel frees it when
the process dies however it dies. The file also says who holds it (user, host, pid,
since), so a second driver is refused with a name, and a lock left by a driver that died
is seen as stale and taken over only when the engineer says so (`--take-over`).
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cockpit.audit.entry import Actor


@dataclass(frozen=True)
class LockHolder:
    user: str
    host: str
    pid: int
    since: str

    def describe(self) -> str:
        return f"{self.user}@{self.host} (pid {self.pid}) since {self.since}"


class LockHeld(RuntimeError):
    """Another live driver holds this session."""

    def __init__(self, holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "another process"
        super().__init__(f"this session is driven by {who}; watch it with `cockpit watch`")
        self.holder = holder


class StaleLock(RuntimeError):
    """The last driver died without releasing the session; taking over must be explicit."""

    def __init__(self, holder: LockHolder) -> None:
        super().__init__(
            f"the last driver, {holder.describe()}, is gone without closing the session; "
            "reopen with --take-over to drive it (the take-over is recorded)"
        )
        self.holder = holder


class DriverLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.previous: LockHolder | None = None
        self.holder: LockHolder | None = None

    def acquire(self, *, take_over: bool = False) -> LockHolder:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeld(holder) from None
        stale = _read_holder(fd)
        if stale is not None and not take_over:
            os.close(fd)
            raise StaleLock(stale)
        self.previous = stale
        self._fd = fd
        self.holder = self._write_holder(fd)
        return self.holder

    def holder_info(self) -> dict[str, object] | None:
        return asdict(self.holder) if self.holder else None

    def release(self, *, restore_previous: bool = False) -> None:
        """Empty the file first: an empty lock file means the last driver closed cleanly.

        A take-over that failed to open the session puts the dead driver's name back, so
        the next attempt still needs --take-over and still records whom it took over from.
        """
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        if restore_previous and self.previous is not None:
            os.pwrite(self._fd, json.dumps(asdict(self.previous)).encode(), 0)
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None

    def _write_holder(self, fd: int) -> LockHolder:
        actor = Actor.current()
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        holder = LockHolder(actor.user, actor.host, os.getpid(), since)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
        os.fsync(fd)
        return holder


def read_holder(path: Path) -> LockHolder | None:
    """Who drives the session in `path`'s folder, for watchers (None: nobody, or closed)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _read_holder(fd)
    finally:
        os.close(fd)


def is_held(path: Path) -> bool:
    """True while a live driver holds the lock (a shared flock attempt would block)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _read_holder(fd: int) -> LockHolder | None:
    raw = os.pread(fd, 4096, 0)
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
        return LockHolder(str(data["user"]), str(data["host"]), int(data["pid"]),
                          str(data["since"]))
    except (ValueError, KeyError, TypeError):
        return LockHolder("unknown", "unknown", 0, "unknown")
