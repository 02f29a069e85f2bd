"""A watcher's session: the folder alone, re-read cheaply, and never a blank screen.

The audit log is read incrementally (only new lines are parsed), `state.json` gives the
panes, and `plan.toml` the plan as the driver opened it. Whatever cannot be read is said,
with why, in `problem`: a watcher must never be left looking at an empty cockpit.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from typing import Any

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry
from cockpit.plan.loader import PlanLoadError, load_plan_text
from cockpit.plan.models import Plan
from cockpit.runner.lock import HUNG_AFTER_S, is_held, read_holder
from cockpit.runner.panes import PaneView, laid_out
from cockpit.runner.publish import read_state
from cockpit.runner.state import derive
from cockpit.session.approving import approval_lines
from cockpit.session.folder import ReadsFolder, SessionFolder
from cockpit.session.view import SessionView


class SessionReader(ReadsFolder):
    """Reads a session folder for a watcher; holds no credentials and changes nothing."""

    def __init__(self, folder: SessionFolder, *, hung_after_s: float = HUNG_AFTER_S) -> None:
        self.folder = folder
        self.hung_after_s = hung_after_s
        self._offset = 0
        self._partial = b""
        self._entries: list[AuditEntry] = []
        self._plan: Plan | None = None
        self._plan_sha = ""
        self._read_problem: str | None = None  # this read's: it clears when a read works
        self._entry_problem: str | None = None  # a line that did not parse stays said
        self._plan_problem: str | None = None

    @property
    def problem(self) -> str | None:
        said = [p for p in (self._read_problem, self._entry_problem, self._plan_problem) if p]
        return "; ".join(said) if said else None

    def view(self) -> SessionView | None:
        """The session as its files say now; None (with `problem`) when there is no plan
        to draw it by."""
        self._read_new_lines()
        plan = self._current_plan()
        if plan is None:
            return None
        state = read_state(self.folder.state) or {}
        holder = read_holder(self.folder.lock)
        alive = is_held(self.folder.lock)
        hung = alive and holder is not None and holder.is_hung(self.hung_after_s)
        return SessionView(
            plan=plan, run=derive(plan, self._entries), entries=list(self._entries),
            panes=_panes(state), driver=holder.describe() if holder else None,
            driver_alive=alive,
            driver_hung_s=holder.silent_s() if hung and holder is not None else None,
            published_at=_when(state.get("published_at")), problem=self.problem,
            approvals=approval_lines(self.folder.path, self._entries),
            time_scale=_time_scale(state.get("time_scale")))

    # --- the log ----------------------------------------------------------------------------

    def _read_new_lines(self) -> None:
        try:
            with self.folder.audit.open("rb") as log:
                if os.fstat(log.fileno()).st_size < self._offset:
                    self._reset()  # the log was cut (a torn tail repaired): read it again
                log.seek(self._offset)
                data = log.read()
        except OSError as exc:
            self._read_problem = f"cannot read {self.folder.audit}: {exc.strerror or exc}"
            return
        self._read_problem = None
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
                self._entry_problem = f"unreadable log entry after seq {len(self._entries)}"

    def _reset(self) -> None:
        self._offset, self._partial, self._entries = 0, b"", []
        self._entry_problem = None

    # --- the plan ---------------------------------------------------------------------------

    def _current_plan(self) -> Plan | None:
        """The plan the latest opening recorded; read again when a resumed session
        opened with an edited plan (its hash changed)."""
        opened = _last_opened(self._entries)
        if opened is None:
            self._plan_problem = "the driver has not opened the session yet"
            return None
        wanted = str(opened.detail.get("plan_sha256", ""))
        if self._plan is None or wanted != self._plan_sha:
            self._load_plan(wanted, str(opened.detail.get("plan_path", "")))
        return self._plan

    def _load_plan(self, wanted: str, driver_path: str) -> None:
        try:
            raw = self.folder.plan.read_bytes()
        except OSError as exc:
            self._plan_problem = (f"cannot read the session's plan copy {self.folder.plan}: "
                                  f"{exc.strerror or exc} (the driver's own plan was "
                                  f"{driver_path or 'not recorded'})")
            return
        sha = hashlib.sha256(raw).hexdigest()
        try:
            self._plan = load_plan_text(raw.decode("utf-8-sig"), self.folder.plan)
        except (PlanLoadError, UnicodeDecodeError) as exc:
            self._plan_problem = f"the session's plan copy does not load: {_first(exc)}"
            return
        self._plan_sha = wanted
        self._plan_problem = None if sha == wanted else (
            f"{self.folder.plan} is not the plan the driver opened (sha256 {sha[:12]}, "
            f"the log says {wanted[:12]}): the runbook may not match the record")


def _last_opened(entries: list[AuditEntry]) -> AuditEntry | None:
    return next((e for e in reversed(entries) if e.event == events.SESSION_OPENED), None)


def _first(exc: Exception) -> str:
    if isinstance(exc, PlanLoadError) and exc.problems:
        return str(exc.problems[0])
    return str(exc)


def _panes(state: dict[str, Any]) -> dict[str, PaneView]:
    panes = state.get("panes")
    if not isinstance(panes, dict):
        return {}
    views = {}
    for name, data in panes.items():
        try:
            # Laid out here, in the reader's thread, not on the screen's.
            views[name] = laid_out(PaneView.model_validate(data))
        except ValueError:
            continue
    return views


def _when(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def _time_scale(value: object) -> float:
    """The driver's `--speed` as it published it, so a watcher's abort-by is the driver's;
    1 when it says nothing usable."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        and value > 0 else 1.0
