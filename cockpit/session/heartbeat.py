"""The heartbeat of a driver with no screen.

A driver with a screen beats from its event loop (a timer on the driver screen), so a
loop stuck in the terminal's writes stops beating and is named as hung. A headless
rehearsal has no such loop; its steps block the main thread for as long as an action
takes, which is not a hang. It beats from a thread of its own, which stops with the
process (killed, or suspended).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from cockpit.session.protocols import DriverCommands


@contextmanager
def beating(session: DriverCommands, every_s: float) -> Iterator[None]:
    """Beat every `every_s` seconds until the block ends."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every_s):
            try:
                session.heartbeat()
            except OSError:
                return  # the lock file went away under us: the session is over

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=every_s + 1.0)
