"""`cockpit replay`: a finished (or copied) window played back from its record alone.

The panes come from `panes.jsonl` (what the driver's panes showed, each time they
changed), the runbook and the log from `audit.jsonl`, the plan from `plan.toml`. Nothing
else is opened: no estate, no lock, no credentials, and nothing is written. The clock is
the window's: every age, the window clock and the header read the moment being replayed.

Where the record is read from is a `SessionRecording`: a session folder (or a copy of
one) today; a mirror of the folder elsewhere (S3) only has to hand over the same bytes.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry
from cockpit.plan.loader import PlanLoadError, load_plan_text
from cockpit.plan.models import Plan
from cockpit.runner.pane_recording import PanePlayback, read_recording
from cockpit.runner.state import RunState, derive
from cockpit.session.folder import ReadsFolder, SessionFolder
from cockpit.session.view import SessionView


class SessionRecording(Protocol):
    """The bytes a replay needs, wherever the session was kept."""

    @property
    def location(self) -> Path:
        """Where it is read from (a mirror: the local folder it is fetched into)."""

    @property
    def how_to_watch(self) -> str: ...

    def plan_bytes(self) -> bytes: ...

    def audit_bytes(self) -> bytes: ...

    def pane_parts(self) -> list[bytes]:
        """The recording's parts, oldest first; none when the panes were not recorded."""

    def write_report(self, now: datetime) -> Path: ...

    def report(self, now: datetime) -> tuple[str, str]: ...


class FolderRecording(ReadsFolder):
    """A session folder, where the driver left it or copied anywhere: only read."""

    def __init__(self, folder: SessionFolder) -> None:
        self.folder = folder

    @property
    def how_to_watch(self) -> str:
        return f"cockpit replay {self.folder.path}"

    def plan_bytes(self) -> bytes:
        return self.folder.plan.read_bytes()

    def audit_bytes(self) -> bytes:
        return self.folder.audit.read_bytes()

    def pane_parts(self) -> list[bytes]:
        return [part.read_bytes() for part in self.folder.pane_parts()]


class ReplayUnreadable(Exception):
    """The recording has no plan or no log to replay by."""


# Sampled while a step waits (every few seconds): `n` would crawl through them; `.` steps
# through what the panes showed instead.
_NOT_EVENTS = {events.STEP_PROGRESS}


@dataclass
class ReplayedEvent:
    seq: int
    event: str
    step: str | None
    ts: datetime

    def describe(self) -> str:
        return f"#{self.seq} {self.event}" + (f" {self.step}" if self.step else "")


class Replay:
    """The window at a moment of it, moved on by the screen's clock, a step, or a jump.
    Not thread-safe: load it off the screen's thread, then use it from one thread."""

    def __init__(self, recording: SessionRecording) -> None:
        self.recording = recording
        self.speed = 1.0
        self.paused = False
        self.problem: str | None = None
        self._plan: Plan | None = None
        self._entries: list[AuditEntry] = []
        self._times: list[datetime] = []
        self._panes = PanePlayback([], [])
        self._run: tuple[int, RunState] | None = None
        self.at = datetime.fromtimestamp(0, UTC)
        self.start = self.end = self.at

    # --- what every screen's source says (SessionSource) ----------------------------------

    @property
    def location(self) -> Path:
        return self.recording.location

    @property
    def how_to_watch(self) -> str:
        return self.recording.how_to_watch

    def write_report(self, now: datetime) -> Path:
        return self.recording.write_report(now)

    def report(self, now: datetime) -> tuple[str, str]:
        return self.recording.report(now)

    # --- loading ------------------------------------------------------------------------

    def load(self) -> None:
        """Read the whole record (blocking: files); the replay starts at its first entry."""
        try:
            self._plan = load_plan_text(self.recording.plan_bytes().decode("utf-8-sig"),
                                        self.recording.location / "plan.toml")
            self._entries = _entries(self.recording.audit_bytes())
        except (OSError, PlanLoadError, UnicodeDecodeError, ValueError) as exc:
            raise ReplayUnreadable(f"cannot replay {self.recording.location}: {exc}") from exc
        if not self._entries:
            raise ReplayUnreadable(f"{self.recording.location}: the audit log is empty")
        self._times = [e.ts for e in self._entries]
        self._panes = read_recording(self.recording.pane_parts())
        self.start = self._entries[0].ts
        pane_end = self._panes.times[-1] if self._panes.times else 0.0
        self.end = max(self._entries[-1].ts, datetime.fromtimestamp(pane_end, UTC))
        self.at = self.start
        said = []
        if not self._panes.times:
            said.append("no panes were recorded in this session (panes.jsonl)")
        if self._panes.unreadable:
            said.append(f"{self._panes.unreadable} recorded pane line(s) unreadable")
        self.problem = "; ".join(said) or None

    # --- moving through the window -----------------------------------------------------

    def seek(self, when: datetime) -> None:
        self.at = min(max(when, self.start), self.end)

    def advance(self, wall_s: float) -> None:
        """The screen's clock ticked `wall_s`: the window moves on `speed` times that."""
        if not self.paused:
            self.seek(self.at + timedelta(seconds=wall_s * self.speed))

    @property
    def finished(self) -> bool:
        return self.at >= self.end

    def step(self) -> bool:
        """To the next recorded change of any pane; False when there is none."""
        found = self._panes.next_change_after(self.at.timestamp())
        if found is None:
            return False
        self.seek(datetime.fromtimestamp(found, UTC))
        return True

    def next_event(self) -> ReplayedEvent | None:
        """To the next entry of the log (sampled progress aside); None at the end."""
        index = bisect.bisect_right(self._times, self.at)
        entry = next((e for e in self._entries[index:] if e.event not in _NOT_EVENTS), None)
        if entry is None:
            return None
        self.seek(entry.ts)
        return _event(entry)

    def last_event(self) -> ReplayedEvent | None:
        """The last entry at or before the moment shown (sampled progress aside)."""
        index = bisect.bisect_right(self._times, self.at)
        entry = next((e for e in reversed(self._entries[:index])
                      if e.event not in _NOT_EVENTS), None)
        return _event(entry) if entry is not None else None

    # --- what the screen draws ---------------------------------------------------------

    def view(self) -> SessionView | None:
        if self._plan is None:
            return None
        count = bisect.bisect_right(self._times, self.at)
        entries = self._entries[:count]
        if self._run is None or self._run[0] != count:
            self._run = (count, derive(self._plan, entries))
        self._panes.play_to(self.at.timestamp())
        opened = next((e for e in entries if e.event == events.SESSION_OPENED), None)
        return SessionView(plan=self._plan, run=self._run[1], entries=entries,
                           panes=self._panes.views(),
                           driver=opened.actor.label() if opened else None,
                           problem=self.problem)


def _entries(data: bytes) -> list[AuditEntry]:
    """Every entry that parses (a torn last line does not stop a replay)."""
    found = []
    for line in data.split(b"\n"):
        if line.strip():
            try:
                found.append(AuditEntry.model_validate_json(line))
            except ValueError:
                continue
    return found


def _event(entry: AuditEntry) -> ReplayedEvent:
    return ReplayedEvent(entry.seq, entry.event, entry.step, entry.ts)


def parse_moment(text: str, start: datetime) -> datetime:
    """`--at`: an ISO time, or `HH:MM[:SS]` (UTC) on the window's day, the day after if
    that is before the window started (a window across midnight)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is not None and ("T" in text or " " in text or "-" in text):
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    parts = text.split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is neither HH:MM[:SS] nor an ISO time")
    hour, minute, second = (int(p) for p in [*parts, "0"][:3])
    moment = start.astimezone(UTC).replace(hour=hour, minute=minute, second=second,
                                           microsecond=0)
    return moment + timedelta(days=1) if moment < start - timedelta(hours=12) else moment
