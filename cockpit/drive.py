"""`cockpit run`, `cockpit demo`, `cockpit watch`: open the session, then the screen.

The screen gets a source (the driver's runner and estate, or a watcher's session reader)
and nothing else: it never reaches the outside world itself.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cockpit.launch import SimUnavailable, open_estate
from cockpit.plan.loader import PlanLoadError, load_plan
from cockpit.plan.models import Plan
from cockpit.runner.lock import LockHeld, StaleLock
from cockpit.sessions import default_session_dir

if TYPE_CHECKING:
    from textual.app import App

    from cockpit.runner.driver import DriverSource
    from cockpit.runner.runner import Runner

DEMO_PLAN = Path(__file__).parent / "demo" / "oms-demo.toml"
DEMO_SPEED = 4.0


def drive(plan_file: Path, *, sim: bool, session_dir: Path | None, speed: float,
          faults: Sequence[str] = (), take_over: bool = False,
          sim_endpoints: Path | None = None) -> int:
    try:
        plan = load_plan(plan_file)
    except PlanLoadError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        return 2
    folder = session_dir or default_session_dir(plan_file)
    warn_if_not_multiplexed()
    opening = DriverOpening(plan_file, plan, folder, sim=sim, speed=speed, faults=faults,
                            take_over=take_over, sim_endpoints=sim_endpoints)
    from cockpit.ui.app import make_app

    app = make_app(opening)
    _on_hangup(app, opening)
    try:
        app.run()
    finally:
        opening.close()
    if opening.error is not None:
        click.echo(f"cockpit: {opening.error}", err=True)
        return 2
    click.echo(f"session: {folder}\naudit log: {folder / 'audit.jsonl'}")
    return 0


class DriverOpening:
    """Opens the estate and the session off the UI thread, so the first frame comes at once
    (boto3, moto and the session's first fsync load behind it); closes both at the end."""

    mode = "driver"

    def __init__(self, plan_file: Path, plan: Plan, folder: Path, *, sim: bool, speed: float,
                 faults: Sequence[str], take_over: bool,
                 sim_endpoints: Path | None = None) -> None:
        self.plan_file, self.plan, self.folder = plan_file, plan, folder
        self.sim_endpoints = sim_endpoints
        self.sim, self.speed, self.faults, self.take_over = sim, speed, faults, take_over
        self.runner: Runner | None = None
        self.error: str | None = None
        self.hung_up = False
        self._stack = ExitStack()

    def describe(self) -> str:
        where = ("the simulated estate" if self.sim or self.sim_endpoints
                 else f"the estate of {self.plan_file}")
        return f"opening {where} and session {self.folder} ..."

    def open(self) -> DriverSource:
        """Blocking: run it in a worker thread."""
        from cockpit.runner.driver import DriverSource
        from cockpit.runner.runner import Runner

        try:
            estate = self._stack.enter_context(
                open_estate(self.plan, sim=self.sim, speed=self.speed, faults=self.faults,
                            sim_endpoints=self.sim_endpoints))
            self.runner = Runner(self.plan, self.plan_file, estate.handle, self.folder,
                                 time_scale=estate.time_scale, take_over=self.take_over)
        except (SimUnavailable, LockHeld, StaleLock, ValueError, OSError) as exc:
            self.error = str(exc)
            raise
        return DriverSource(self.runner, estate.handle,
                            how_to_watch=f"cockpit watch {self.folder}")

    def cancel(self, *, hangup: bool) -> None:
        self.hung_up = self.hung_up or hangup
        if self.runner is not None:
            self.runner.cancel()

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close(hangup=self.hung_up)
        self._stack.close()


def _on_hangup(app: App[None], opening: DriverOpening) -> None:
    """SIGHUP (the SSH line dropped) or SIGTERM: stop waiting, record it, restore the tty."""

    def handler(signum: int, frame: object) -> None:
        opening.cancel(hangup=signum == signal.SIGHUP)
        app.exit()

    signal.signal(signal.SIGHUP, handler)
    signal.signal(signal.SIGTERM, handler)


def warn_if_not_multiplexed() -> None:
    if os.environ.get("TMUX") or os.environ.get("STY") or not sys.stdin.isatty():
        return
    click.echo("warning: not inside tmux or screen. If this SSH connection drops, the cockpit "
               "stops waiting (the running step is recorded as cancelled) and the window "
               "loses its driver until you reconnect and reopen the session. Run it inside "
               "`tmux new -s cutover` and re-attach with `tmux attach -t cutover`.", err=True)


def watch(folder: Path) -> int:
    from cockpit.runner.view import SessionReader
    from cockpit.ui.app import make_app

    if not (folder / "audit.jsonl").exists():
        click.echo(f"cockpit: {folder} holds no session (no audit.jsonl)", err=True)
        return 2
    make_app(SessionReader(folder)).run()
    return 0


def demo(session_dir: Path | None) -> int:
    return drive(DEMO_PLAN, sim=True, session_dir=session_dir, speed=DEMO_SPEED)
