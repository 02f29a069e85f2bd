"""A session folder: the only place that knows the names of the files in it.

A run lives in one folder. `plan.toml` is the plan as the driver opened it (its sha256 is
in that opening's `session.opened`), so a watcher, `audit verify` and an export need the
folder and nothing else: not the driver's plan path, which another user or host cannot
read and which may have been edited since.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cockpit import locations

AUDIT = "audit.jsonl"
STATE = "state.json"
LOCK = "lock"
PLAN = "plan.toml"
MIRRORED = "mirror.json"  # how far the S3 mirror got (session/mirror.py)
PANES = "panes"  # panes.jsonl, the live part; panes.1.jsonl, panes.2.jsonl... closed ones


@dataclass(frozen=True)
class SessionFolder:
    path: Path

    @classmethod
    def new_for(cls, plan_path: Path) -> SessionFolder:
        """`$XDG_STATE_HOME/cockpit/sessions/<plan>-<id>` (~/.local/state when unset)."""
        from cockpit.runner.opening import new_session_id  # here: the writer's imports

        return cls(locations.sessions_dir() / f"{plan_path.stem}-{new_session_id()}")

    @classmethod
    def at_or_new(cls, path: Path | None, plan_path: Path) -> SessionFolder:
        return cls(path) if path is not None else cls.new_for(plan_path)

    @property
    def audit(self) -> Path:
        return self.path / AUDIT

    @property
    def state(self) -> Path:
        return self.path / STATE

    @property
    def lock(self) -> Path:
        return self.path / LOCK

    @property
    def plan(self) -> Path:
        return self.path / PLAN

    @property
    def mirrored(self) -> Path:
        return self.path / MIRRORED

    @property
    def panes(self) -> Path:
        """The live part of the panes' recording (replay)."""
        return self.path / f"{PANES}.jsonl"

    def pane_part(self, number: int) -> Path:
        """A closed part of the panes' recording: 1 is the oldest."""
        return self.path / f"{PANES}.{number}.jsonl"

    def pane_parts(self) -> list[Path]:
        """Every part of the recording there is, oldest first, the live part last."""
        closed: list[Path] = []
        while self.pane_part(len(closed) + 1).exists():
            closed.append(self.pane_part(len(closed) + 1))
        return [*closed, *([self.panes] if self.panes.exists() else [])]

    def holds_session(self) -> bool:
        return self.audit.exists()

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)

    def keep_plan(self, raw: bytes) -> None:
        """The plan's bytes as this opening parsed them, replaced atomically: a resumed
        session with an edited plan shows watchers the plan now being driven."""
        if self.plan.exists() and _sha256_of(self.plan) == hashlib.sha256(raw).hexdigest():
            return
        _write_private(self.plan, raw, atomically=True)

    def report(self, now: datetime) -> tuple[str, str]:
        """The change board's record as HTML, and the file name it goes by."""
        from cockpit.audit.export import export_log
        from cockpit.session.pane_story import pane_story  # it reads this folder

        name = f"report-{now.strftime('%Y%m%d-%H%M%S')}.html"
        return name, export_log(self.audit, "html",
                                pane_story(self.plan, self.audit, self.pane_parts()))

    def write_report(self, now: datetime) -> Path:
        """The change board's record as HTML beside the log; where a watcher may not write
        the driver's folder, in the current folder instead."""
        name, html = self.report(now)
        target = self.path / name
        try:
            _write_private(target, html.encode("utf-8"))
        except OSError:
            target = Path.cwd() / target.name
            _write_private(target, html.encode("utf-8"))
        return target

    def __str__(self) -> str:
        return str(self.path)


def _sha256_of(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _write_private(path: Path, data: bytes, *, atomically: bool = False) -> None:
    """Readable by its owner only, like the session; `atomically`: never half a file."""
    target = path.with_name(f".{path.name}.{os.getpid()}.tmp") if atomically else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    if atomically:
        os.replace(target, path)


class ReadsFolder:
    """What every session source says of its folder: where it is, how to watch it, and
    the report written from its log."""

    folder: SessionFolder

    @property
    def location(self) -> Path:
        return self.folder.path

    @property
    def how_to_watch(self) -> str:
        return f"cockpit watch {self.folder.path}"

    def write_report(self, now: datetime) -> Path:
        return self.folder.write_report(now)

    def report(self, now: datetime) -> tuple[str, str]:
        return self.folder.report(now)
