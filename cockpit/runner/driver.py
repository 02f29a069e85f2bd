"""The driver's side of the screen: probes for the panes and the runner's commands.

Everything here blocks (boto3, httpx, dnspython, fsync): the screen calls it from worker
threads only. Each pane poll is published to `state.json` before the screen hears of it,
so watchers see what the driver sees.
"""

from __future__ import annotations

import threading
from pathlib import Path

from cockpit.estate.handle import EstateHandle
from cockpit.runner.panes import PANES, WATCHED_BY, PaneView, probe_pane
from cockpit.runner.runner import Runner
from cockpit.runner.state import RunState
from cockpit.runner.view import SessionView


class DriverSource:
    mode = "driver"

    def __init__(self, runner: Runner, handle: EstateHandle, *, how_to_watch: str = "") -> None:
        self.runner = runner
        self.handle = handle
        self.how_to_watch = how_to_watch
        self._panes: dict[str, PaneView] = {}
        self._lock = threading.Lock()

    @property
    def folder(self) -> Path:
        return self.runner.folder

    @property
    def plan_name(self) -> str:
        return self.runner.plan.plan.name

    def view(self) -> SessionView:
        with self._lock:
            panes = dict(self._panes)
        holder = self.runner.driver_label()
        return SessionView(plan=self.runner.plan, run=self.runner.state(),
                           entries=self.runner.entries, panes=panes, driver=holder)

    def poll_pane(self, pane: str) -> PaneView:
        view = probe_pane(pane, self.handle, self.runner.plan, self.runner.state())
        with self._lock:
            view = _keep_last_good(self._panes.get(pane), view)
            self._panes[pane] = view
        self.runner.publisher.set_pane(pane, view.model_dump(mode="json"))
        self.runner.publisher.publish()
        return view

    def watched_now(self, run: RunState) -> set[str]:
        """Panes that the running step's gates or `until` read: they poll faster."""
        running = run.running()
        if running is None:
            return set()
        step = self.runner.plan.step(running.step_id)
        kinds = {c.kind for c in [*step.gates, *step.until, *([step.do] if step.do else [])]}
        return {pane for pane in PANES if WATCHED_BY[pane] & kinds}


def _keep_last_good(previous: PaneView | None, fresh: PaneView) -> PaneView:
    """A poll that failed outright keeps the last rows it had, with their own (ageing)
    time and the new error: the pane shows what was last seen, marked stale, and why."""
    if not fresh.error or fresh.rows or previous is None or not previous.rows:
        return fresh
    return previous.model_copy(update={"error": fresh.error})
