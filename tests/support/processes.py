"""Whether a process the tests started, or one a cockpit started, still runs."""

from __future__ import annotations

from pathlib import Path


def running(pid: int) -> bool:
    """The process exists and is not a zombie: one that ended, orphaned, waits for
    whoever inherited it (init, the tmux server) to reap it, and that counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
