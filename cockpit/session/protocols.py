"""The boundary the screens stand on: what every screen reads, and what a driver commands.

The UI depends on these and on the view models they return, never on the runner, the
lock or the estate: a screen cannot tell how a session was opened, only whether it may
drive it (it was handed `DriverCommands`) or only watch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from cockpit.plan.models import Step
from cockpit.runner.panes import PaneView
from cockpit.runner.state import StepState
from cockpit.session.view import SessionView

# Asked when a manual step runs: (the step, its instruction) -> the engineer's note, or
# None when they did not confirm (the step is withdrawn and stays ready).
ManualPrompt = Callable[[Step, str], str | None]


class CommandRefused(Exception):
    """A command the session will not carry out now, with why, in the engineer's words."""


class SessionSource(Protocol):
    """What every screen reads: the driver's session and a watcher's reader alike."""

    @property
    def location(self) -> Path:
        """The session folder."""

    @property
    def how_to_watch(self) -> str:
        """A command another engineer can type to watch this session."""

    @property
    def problem(self) -> str | None:
        """What cannot be read or shown, and why; None when all is well."""

    def view(self) -> SessionView | None:
        """The session as it stands now (may read files: call it off the UI thread);
        None when there is nothing to draw, with `problem` saying why."""

    def write_report(self, now: datetime) -> Path:
        """Export the audit log as the change board's HTML record; returns where."""

    def report(self, now: datetime) -> tuple[str, str]:
        """The same record written nowhere: (a file name for it, the HTML)."""


class DriverCommands(Protocol):
    """What the driver does to steps. Each blocks until the record says it is done, and
    raises `CommandRefused` when it may not happen now."""

    def run(self, step_id: str) -> StepState: ...

    def override(self, step_id: str, reason: str) -> StepState: ...

    def undo(self, step_id: str) -> StepState: ...

    def skip(self, step_id: str, reason: str) -> None: ...

    def mark_done(self, step_id: str, reason: str) -> None: ...

    def recheck(self, step_id: str) -> StepState: ...

    def note(self, text: str) -> None: ...

    def refusal(self, step_id: str) -> str | None:
        """Why `run` would be refused now (said before anyone types an id), or None."""

    def roll_back(self) -> str:
        """Run the window's phase's rollback path; how it ended. A refusal (the point of
        no return passed) is recorded, then raised as `CommandRefused`."""

    def rollback_refusal(self) -> str | None:
        """Why `roll_back` would be refused now (said before anyone types), or None."""

    def rollback_path(self) -> tuple[str, list[Step]] | None:
        """The phase the rollback key would roll back, and its rollback steps."""

    def next_ready(self) -> str | None: ...

    def cancel(self) -> None:
        """Stop waiting: every running step ends as failed (cancelled), on the record."""

    def cancel_step(self, step_id: str) -> list[str]:
        """Stop waiting on one running step (the others go on); the steps cancelled."""

    def running(self) -> list[str]:
        """The steps running now, side by side, in plan order."""

    def answer_manual_with(self, prompt: ManualPrompt) -> None:
        """Who confirms manual steps from now on (the screen's modal, a terminal)."""

    def heartbeat(self) -> None:
        """Called from the driver's own loop: while it is, nobody takes the driver for
        hung (a stuck loop stops calling it)."""


# A pane's polling interval now, in seconds (None: paused), asked by the poller as it waits.
PaneCadence = Callable[[str], float | None]


class PanePoller(Protocol):
    def poll_pane(self, pane: str) -> PaneView:
        """One pane's fresh view, published for watchers (blocks: boto3, httpx, dns)."""

    def follow_panes(self, show: Callable[[PaneView], None], cadence: PaneCadence, *,
                     apart: bool = True) -> None:
        """Poll every pane on its own cadence from now on, off the caller's thread; each
        view goes to `show`, from the poller's thread. `apart`: in a process of its own
        where the estate can be reached from one."""

    def stop_following_panes(self) -> None:
        """No more views to `show`, and no more polling on a cadence (the screen has gone);
        returns at once."""

    def panes_to_watch(self) -> set[str]:
        """The panes the running step waits on: they poll faster."""


class Driving(SessionSource, DriverCommands, PanePoller, Protocol):
    """A session this process drives."""

    @property
    def warnings(self) -> list[str]: ...

    def view(self) -> SessionView:
        """The driver's own memory of the session: always there, and cheap."""


class DriverOpening(Protocol):
    """A driver's session still to open: the first frame shows while it opens."""

    def describe(self) -> str: ...

    def open(self) -> Driving:
        """Blocking (the estate, the lock, the first fsync): call it in a worker."""

    def cancel(self, *, hangup: bool) -> None:
        """The terminal is gone or the engineer quit: stop waiting, record why."""
