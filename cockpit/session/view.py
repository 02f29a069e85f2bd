"""What a screen needs to draw a session, the same whether it drives or watches.

The driver builds a `SessionView` from its runner's in-memory log; a watcher builds it
from the session folder alone (`SessionReader`): the audit log, read incrementally, and
`state.json` for the panes. Neither needs the other's memory, and a watcher holds no
credentials.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry
from cockpit.plan.loader import PlanLoadError, load_plan
from cockpit.plan.models import Plan
from cockpit.runner.lock import is_held, read_holder
from cockpit.runner.panes import PaneView
from cockpit.runner.publish import read_state
from cockpit.runner.state import RunState, Status, derive


@dataclass
class SessionView:
    plan: Plan
    run: RunState
    entries: list[AuditEntry]
    panes: dict[str, PaneView] = field(default_factory=dict)
    driver: str | None = None
    driver_alive: bool = True
    published_at: datetime | None = None
    problem: str | None = None

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

    def remaining_budget_s(self) -> float:
        return sum(step.budget for step in self.plan.steps()
                   if not self.run.steps[step.id].done)

    def current_phase(self) -> str:
        running = self.run.running() or self.run.next_ready()
        step_id = running.step_id if running else self.plan.steps()[-1].id
        return self.plan.phase_of(step_id).title


_CREDENTIAL_SIGNS = ("ExpiredToken", "InvalidClientTokenId", "UnrecognizedClient",
                     "Unable to locate credentials", "NoCredentialsError", "RequestExpired")


class SessionReader:
    """A watcher's view of a session folder, re-read cheaply: only new log lines are parsed."""

    mode = "watch"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._offset = 0
        self._partial = b""
        self._entries: list[AuditEntry] = []
        self._plan: Plan | None = None
        self.problem: str | None = None

    def read(self) -> SessionView | None:
        """The session as its files say now; None until the driver has written a plan."""
        self._read_new_lines()
        plan = self._plan or self._load_plan()
        if plan is None:
            return None
        state = read_state(self.folder / "state.json") or {}
        holder = read_holder(self.folder / "lock")
        return SessionView(
            plan=plan, run=derive(plan, self._entries), entries=list(self._entries),
            panes=_panes(state), driver=holder.describe() if holder else None,
            driver_alive=is_held(self.folder / "lock"),
            published_at=_when(state.get("published_at")), problem=self.problem)

    def _read_new_lines(self) -> None:
        path = self.folder / "audit.jsonl"
        try:
            with path.open("rb") as log:
                if os.fstat(log.fileno()).st_size < self._offset:
                    self._reset()  # the log was cut (a torn tail repaired): read it again
                log.seek(self._offset)
                data = log.read()
        except OSError as exc:
            self.problem = f"cannot read the audit log: {exc.strerror or exc}"
            return
        self._offset += len(data)
        self._parse(self._partial + data)

    def _parse(self, data: bytes) -> None:
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                self._entries.append(AuditEntry.model_validate_json(line))
            except ValueError:
                self.problem = f"unreadable log entry after seq {len(self._entries)}"

    def _reset(self) -> None:
        self._offset, self._partial, self._entries = 0, b"", []

    def _load_plan(self) -> Plan | None:
        opened = next((e for e in self._entries if e.event == events.SESSION_OPENED), None)
        if opened is None:
            return None
        path = Path(str(opened.detail.get("plan_path", "")))
        try:
            self._plan = load_plan(path)
        except PlanLoadError as exc:
            self.problem = f"cannot load the session's plan {path}: {exc.problems[0]}"
        return self._plan


def _panes(state: dict[str, Any]) -> dict[str, PaneView]:
    panes = state.get("panes")
    if not isinstance(panes, dict):
        return {}
    views = {}
    for name, data in panes.items():
        try:
            views[name] = PaneView.model_validate(data)
        except ValueError:
            continue
    return views


def _when(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def status_counts(run: RunState) -> dict[Status, int]:
    counts: dict[Status, int] = {}
    for state in run.steps.values():
        counts[state.status] = counts.get(state.status, 0) + 1
    return counts
