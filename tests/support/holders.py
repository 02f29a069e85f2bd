"""Another driver holding a session's lock: a real process, as a second engineer's would be.

It takes the lock as a driver does, then rewrites its own line to say what the test needs
(a heartbeat long ago: hung; or now: alive; or another pid than its own), says `holding`
and then waits on its stdin, which never comes: a process that answers nothing.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LONG_AGO = "2026-01-01T00:00:00Z"

_HOLDER = """
import json, os, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from cockpit.runner.lock import DriverLock

path, beat, term, pid = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
lock = DriverLock(path)
lock.acquire()
if term == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
line = json.loads(path.read_bytes())
line["beat"] = beat if beat != "now" else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
line["pid"] = int(pid) if pid != "own" else os.getpid()
fd = os.open(path, os.O_WRONLY)
os.ftruncate(fd, 0)
os.pwrite(fd, json.dumps(line).encode(), 0)
print("holding", flush=True)
sys.stdin.read()
"""


@contextmanager
def holding(lock: Path, *, beat: str = LONG_AGO, sigterm: str = "default",
            pid: str = "own") -> Iterator[subprocess.Popen[str]]:
    """A process holding `lock` until the block ends (killed then, if still there)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, "-c", _HOLDER, str(lock), beat, sigterm, pid],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "holding"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
