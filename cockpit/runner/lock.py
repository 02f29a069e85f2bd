"""One driver per session folder, and a driver that stopped answering named as hung.

The lock is an `flock` on `lock`, held for the driver's life, so the kernel frees it when
the process dies however it dies. The file also says who holds it (user, host, pid,
since) and when the driver last showed it was alive (`beat`), so a second driver is
refused with a name, a lock left by a driver that died is seen as stale, and a driver
that still holds the lock but has stopped beating is named as hung. Both are taken over
only when the engineer says so (`--take-over`); a hung holder is first stopped (SIGTERM,
then SIGKILL) and what was done is kept as evidence for the record.

The beat is fed by the driver's own loop (the UI's event loop, the rehearsal's thread), not
by a timer thread of its own, so a driver whose loop is stuck stops beating. It is written
in place at a fixed width and not fsynced: it matters only while the process lives, and
after a crash of the machine the flock is gone anyway.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.audit.entry import Actor

BEAT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # fixed width: each beat overwrites the last in place
HUNG_AFTER_S = 30.0
STOP_GRACE_S = 10.0
KILL_WAIT_S = 5.0


@dataclass(frozen=True)
class LockHolder:
    user: str
    host: str
    pid: int
    since: str
    beat: str | None = None

    def describe(self) -> str:
        return f"{self.user}@{self.host} (pid {self.pid}) since {self.since}"

    def silent_s(self, now: datetime | None = None) -> float | None:
        """Seconds since the last heartbeat; None when the holder never wrote one."""
        if self.beat is None:
            return None
        try:
            beat = datetime.strptime(self.beat, BEAT_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return None
        return max(0.0, ((now or datetime.now(UTC)) - beat).total_seconds())

    def is_hung(self, hung_after_s: float, now: datetime | None = None) -> bool:
        silent = self.silent_s(now)
        return silent is not None and silent > hung_after_s


class LockHeld(RuntimeError):
    """Another live driver holds this session."""

    def __init__(self, holder: LockHolder | None, why: str | None = None) -> None:
        who = holder.describe() if holder else "another process"
        super().__init__(why or f"this session is driven by {who}; watch it with "
                                "`cockpit watch`")
        self.holder = holder


class LockHung(LockHeld):
    """A driver holds the lock but its heartbeat stopped: taking over must be explicit."""

    def __init__(self, holder: LockHolder, silent_s: float) -> None:
        super().__init__(holder, (
            f"this session is held by {holder.describe()}, which has given no heartbeat for "
            f"{silent_s:.0f} s (last {holder.beat}): it is hung; reopen with --take-over to "
            "stop it (SIGTERM, then SIGKILL) and drive the session (the take-over is recorded)"))
        self.silent = silent_s


class StaleLock(RuntimeError):
    """The last driver died without releasing the session; taking over must be explicit."""

    def __init__(self, holder: LockHolder) -> None:
        super().__init__(
            f"the last driver, {holder.describe()}, is gone without closing the session; "
            "reopen with --take-over to drive it (the take-over is recorded)"
        )
        self.holder = holder


class DriverLock:
    def __init__(self, path: Path, *, hung_after_s: float = HUNG_AFTER_S,
                 stop_grace_s: float = STOP_GRACE_S) -> None:
        self.path = path
        self.hung_after_s, self.stop_grace_s = hung_after_s, stop_grace_s
        self._fd: int | None = None
        self.previous: LockHolder | None = None
        self.holder: LockHolder | None = None
        self.stopped_hung: dict[str, Any] | None = None  # evidence of a hung holder stopped
        # beat() and release() come from different threads; a beat on a closed fd could
        # write into whatever file reuses its number
        self._guard = threading.Lock()

    def acquire(self, *, take_over: bool = False) -> LockHolder:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            hung = self._lock_or_stop_hung(fd, take_over=take_over)
        except BaseException:
            os.close(fd)
            raise
        stale = _read_holder(fd)
        if hung is None and stale is not None and not take_over:
            os.close(fd)
            raise StaleLock(stale)
        self.previous = hung or stale
        self._fd = fd
        self.holder = self._write_holder(fd)
        return self.holder

    def beat(self) -> None:
        """Show the driver is alive: the holder line again with a fresh `beat`."""
        with self._guard:
            if self._fd is None or self.holder is None:
                return
            self.holder = replace(self.holder, beat=_now_beat())
            os.pwrite(self._fd, json.dumps(asdict(self.holder)).encode(), 0)

    def holder_info(self) -> dict[str, object] | None:
        return asdict(self.holder) if self.holder else None

    def release(self, *, restore_previous: bool = False) -> None:
        """Empty the file first: an empty lock file means the last driver closed cleanly.

        A take-over that failed to open the session puts the dead driver's name back, so
        the next attempt still needs --take-over and still records whom it took over from.
        """
        with self._guard:
            if self._fd is None:
                return
            os.ftruncate(self._fd, 0)
            if restore_previous and self.previous is not None and self.stopped_hung is None:
                os.pwrite(self._fd, json.dumps(asdict(self.previous)).encode(), 0)
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def _lock_or_stop_hung(self, fd: int, *, take_over: bool) -> LockHolder | None:
        """Take the flock; a hung holder is stopped first when taking over is asked.
        Returns the hung holder that was stopped, if any."""
        if _try_lock(fd):
            return None
        holder = _read_holder(fd)
        if holder is None or not holder.is_hung(self.hung_after_s):
            raise LockHeld(holder)
        silent = holder.silent_s() or 0.0
        if not take_over:
            raise LockHung(holder, silent)
        self.stopped_hung = _stop_hung(fd, self.path, holder, self.stop_grace_s)
        self.stopped_hung["silent_s"] = round(silent, 1)
        return holder

    def _write_holder(self, fd: int) -> LockHolder:
        actor = Actor.current()
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        holder = LockHolder(actor.user, actor.host, os.getpid(), since, _now_beat())
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
        os.fsync(fd)
        return holder


def _now_beat() -> str:
    return datetime.now(UTC).strftime(BEAT_FORMAT)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


# --- stopping a hung holder ---------------------------------------------------------------


def _stop_hung(fd: int, path: Path, holder: LockHolder, grace_s: float) -> dict[str, Any]:
    """SIGTERM (with SIGCONT, for a driver that was suspended), then SIGKILL if the lock is
    not free within `grace_s`; the lock is ours on return, or LockHeld says why not.

    Only a process on this host that the kernel says holds this very lock is signalled:
    the pid in the file could have been reused since, by anything."""
    here = Actor.current().host
    if holder.host != here:
        raise LockHeld(holder, f"this session is held by {holder.describe()}, which is hung, "
                               f"but on another host than {here}: stop it there first")
    holders = lock_holder_pids(path)
    if holders is not None and holder.pid not in holders:
        raise LockHeld(holder, f"the lock names pid {holder.pid} but is held by pid(s) "
                               f"{sorted(holders) or 'none'}: not taking it over blind")
    began = time.monotonic()
    sent: list[str] = []
    for signum, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, KILL_WAIT_S)):
        _signal(holder, signum)
        sent.append(signum.name)
        if _wait_for_lock(fd, wait_s):
            return {"pid": holder.pid, "last_beat": holder.beat, "signals": sent,
                    "gone_after_s": round(time.monotonic() - began, 2)}
    raise LockHeld(holder, f"{holder.describe()} still holds the session after "
                           f"{' and '.join(sent)}: stop it by hand")


def _signal(holder: LockHolder, signum: signal.Signals) -> None:
    try:
        os.kill(holder.pid, signum)
        if signum == signal.SIGTERM:
            os.kill(holder.pid, signal.SIGCONT)  # a suspended driver must run to stop cleanly
    except ProcessLookupError:
        pass  # already gone: the lock frees as it goes
    except PermissionError:
        raise LockHeld(holder, f"{holder.describe()} is hung, but this user may not signal "
                               f"pid {holder.pid}: ask {holder.user} or root to stop it") from None


def _wait_for_lock(fd: int, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while True:
        if _try_lock(fd):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)  # polling a lock another process frees: there is no event to wait on


def lock_holder_pids(path: Path) -> set[int] | None:
    """The pids the kernel lists in /proc/locks as holding an flock on `path`; None where
    the kernel keeps no such list."""
    try:
        inode = os.stat(path).st_ino
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    pids: set[int] = set()
    for line in table.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
            pids.add(int(fields[4]))
    return pids


# --- for watchers ------------------------------------------------------------------------------


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
        beat = data.get("beat")
        return LockHolder(str(data["user"]), str(data["host"]), int(data["pid"]),
                          str(data["since"]), str(beat) if beat is not None else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        return LockHolder("unknown", "unknown", 0, "unknown")
