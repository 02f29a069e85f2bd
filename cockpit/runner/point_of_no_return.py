"""A phase's point of no return: declared by the plan, confirmed by the estate.

The plan names the step after which a rollback would split the brain (`start-apps`: the
stores' orders land on the new primary). When that step starts, the cockpit reads the new
primary's rows per table (the partition stats: metadata, no scan) and watches them; the
first production write (a table of the plan's database growing or shrinking) is the
moment: it is recorded with what changed, and from then on the undos of the phase's steps
up to the declared one are refused (the datacentre copy is stale: forward-fix only). A
phase with no recovered primary to watch passes its point of no return when the declared
step succeeds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit.estate import sql
from cockpit.estate.handle import EstateHandle
from cockpit.plan import models as m

_log = logging.getLogger(__name__)
WATCH_EVERY_S = 2.0  # how often the new primary's rows are read, before the sim's speed


@dataclass(frozen=True)
class Watch:
    """Where the first production write will show: the recovered primary's database."""

    endpoint: str
    database: str  # the database's name on the server
    tables: tuple[str, ...]  # the plan's tables (lower case); empty: every user table


def declared(plan: m.Plan, step_id: str) -> m.Phase | None:
    """The phase whose point of no return `step_id` is."""
    return next((p for p in plan.phases if p.point_of_no_return == step_id), None)


def watch_of(plan: m.Plan, phase: m.Phase) -> Watch | None:
    """The new primary of the phase: the endpoint its chain is recovered on."""
    for step in phase.steps:
        action = step.do
        endpoint = None
        if isinstance(action, m.SqlRecover):
            endpoint, database = action.endpoints[0], action.database
        elif isinstance(action, m.RestoreFromUrl) and action.recovery:
            endpoint, database = action.endpoint, action.database
        if endpoint is not None:
            db = next(d for d in plan.estate.databases if d.id == database)
            return Watch(endpoint, db.name, tuple(t.lower() for t in db.tables))
    return None


def undo_refused(plan: m.Plan, step_id: str, passed: dict[str, Any]) -> str | None:
    """Why the step's undo would split the brain, or None: a step of a phase past its point
    of no return, up to and including the declared step."""
    phase = plan.phase_of(step_id)
    entry = passed.get(phase.id)
    if entry is None or phase.point_of_no_return is None:
        return None
    ids = [s.id for s in phase.steps]
    if ids.index(step_id) > ids.index(phase.point_of_no_return):
        return None
    return (f"refused: the point of no return of {phase.id} passed at {entry.ts:%H:%M:%S}Z "
            f"({entry.detail.get('summary', 'declared step done')}); undoing {step_id} now "
            "would split the brain: forward-fix only")


def rows(handle: EstateHandle, watch: Watch) -> dict[str, int]:
    found = sql.partition_rows(handle, watch.endpoint, watch.database)
    return {t: n for t, n in found.items() if not watch.tables or t in watch.tables}


def changed(before: dict[str, int], now: dict[str, int]) -> dict[str, dict[str, int]]:
    return {t: {"before": before.get(t, 0), "now": n} for t, n in sorted(now.items())
            if n != before.get(t, 0)}


class FirstWriteWatcher:
    """Reads the new primary's rows until they change; tells `passed` once."""

    def __init__(self, handle: EstateHandle, watch: Watch, baseline: dict[str, int],
                 every_s: float, passed: Callable[[dict[str, Any]], None]) -> None:
        self.handle, self.watch, self.baseline = handle, watch, baseline
        self.every_s, self._passed = every_s, passed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="point-of-no-return")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                now = rows(self.handle, self.watch)
            except Exception:  # unreadable for a moment (a failover): look again
                _log.debug("point of no return: rows unreadable", exc_info=True)
                continue
            diff = changed(self.baseline, now)
            if diff:
                grown = ", ".join(f"{t} {d['before']} -> {d['now']}" for t, d in diff.items())
                self._passed({"summary": f"first production write on {self.watch.database} "
                                         f"at {self.watch.endpoint}: {grown}",
                              "endpoint": self.watch.endpoint,
                              "database": self.watch.database, "tables": diff})
                return
