"""What a screen needs to draw a session, the same whether it drives or watches.

The driver's session builds a `SessionView` from its runner's in-memory log; a watcher
builds it from the session folder alone (`session/watch.py`). Neither needs the other's
memory, and a watcher holds no credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry
from cockpit.plan.models import Plan
from cockpit.runner.panes import PaneView
from cockpit.runner.state import RunState, Status


@dataclass
class SessionView:
    plan: Plan
    run: RunState
    entries: list[AuditEntry]
    panes: dict[str, PaneView] = field(default_factory=dict)
    driver: str | None = None
    driver_alive: bool = True
    driver_hung_s: float | None = None  # holds the lock, but silent this long: hung
    published_at: datetime | None = None
    problem: str | None = None
    mirror: str | None = None  # a watcher of the S3 mirror: how far behind the driver it is
    # A simulated estate's `--speed`: its durations, and so the budgets abort-by counts,
    # pass this many times faster than the screen's clock (1 for a real estate).
    time_scale: float = 1.0
    # What needs a second person: each ask of the driver still open, and approvals waiting.
    approvals: list[str] = field(default_factory=list)

    @property
    def opened(self) -> AuditEntry | None:
        return next((e for e in self.entries if e.event == events.SESSION_OPENED), None)

    @property
    def aws_identity(self) -> str:
        opened = self.opened
        identity: Any = opened.detail.get("aws_identity") if opened else None
        if not isinstance(identity, dict):
            return "unknown"
        if identity.get("error"):
            return f"no identity ({identity.get('profile', '?')})"
        return f"{identity.get('account', '?')} ({identity.get('profile', '?')})"

    def credentials_problem(self) -> str | None:
        """Expired or missing AWS credentials show in every AWS pane's error: say it once,
        loudly, naming the profile to refresh."""
        for pane in self.panes.values():
            error = pane.error or ""
            if any(sign in error for sign in _CREDENTIAL_SIGNS):
                profile = self.aws_identity.rpartition("(")[2].rstrip(")") or "default"
                return (f"AWS CREDENTIALS EXPIRED OR MISSING (profile {profile}): refresh them, "
                        f"e.g. `aws sso login --profile {profile}`; panes show the last data")
        return None

    def window_started(self) -> datetime | None:
        return next((e.ts for e in self.entries if e.event == events.STEP_STARTED), None)

    def window_ended(self) -> datetime | None:
        """When the last step ended, once no step is left to do; None while one is."""
        if not self.run.all_done():
            return None
        ends = [s.ended_at for s in self.run.steps.values() if s.ended_at is not None]
        return max(ends) if ends else self.window_started()

    def completion(self) -> str | None:
        """`window complete: 12 steps in 1:02:03 (1 skipped: x)`, once nothing is left."""
        ended, started = self.window_ended(), self.window_started()
        if ended is None:
            return None
        took = clock((ended - started).total_seconds()) if started else clock(0)
        count = len(self.run.steps)
        said = f"window complete: {count} step{'' if count == 1 else 's'} in {took}"
        skipped = [s.step_id for s in self.run.steps.values() if s.status is Status.SKIPPED]
        if skipped:
            said += f" ({len(skipped)} skipped: {', '.join(skipped)})"
        return said

    def remaining_budget_s(self) -> float:
        return sum(step.budget for step in self.plan.steps()
                   if not self.run.steps[step.id].done)

    def current_phase(self) -> str:
        running = self.run.running() or self.run.next_ready()
        step_id = running.step_id if running else self.plan.steps()[-1].id
        return self.plan.phase_of(step_id).title


def clock(seconds: float) -> str:
    """`H:MM:SS`, as the window clock reads."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


_CREDENTIAL_SIGNS = ("ExpiredToken", "InvalidClientTokenId", "UnrecognizedClient",
                     "Unable to locate credentials", "NoCredentialsError", "RequestExpired")


def status_counts(run: RunState) -> dict[Status, int]:
    counts: dict[Status, int] = {}
    for state in run.steps.values():
        counts[state.status] = counts.get(state.status, 0) + 1
    return counts
