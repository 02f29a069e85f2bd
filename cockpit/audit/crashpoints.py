"""Crash points for the crash-matrix harness (`python -m bench.crash_matrix`).

With `COCKPIT_CRASH_AFTER_SEQ=N` the process SIGKILLs itself right after entry N is on
disk; with `COCKPIT_CRASH_TEAR_SEQ=N` it writes only the first half of entry N's line,
fsyncs, and SIGKILLs itself: a crash in the middle of a write. Unset, they cost one dict
lookup at open. They exist so that recovery is proven at every event boundary, not hoped.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class CrashPoints:
    after_seq: int | None
    tear_seq: int | None

    @classmethod
    def from_env(cls) -> CrashPoints:
        return cls(_int_env("COCKPIT_CRASH_AFTER_SEQ"), _int_env("COCKPIT_CRASH_TEAR_SEQ"))

    @property
    def armed(self) -> bool:
        return self.after_seq is not None or self.tear_seq is not None

    def before_write(self, fd: int, line: bytes) -> None:
        if self.tear_seq is not None and _seq_of(line) == self.tear_seq:
            os.write(fd, line[: len(line) // 2])
            os.fsync(fd)
            os.kill(os.getpid(), signal.SIGKILL)

    def after_write(self, line: bytes) -> None:
        if self.after_seq is not None and _seq_of(line) == self.after_seq:
            os.kill(os.getpid(), signal.SIGKILL)


def _int_env(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value and value.isdigit() else None


def _seq_of(line: bytes) -> int | None:
    head = line[: line.find(b",")]
    digits = head.rpartition(b":")[2]
    return int(digits) if digits.isdigit() else None
