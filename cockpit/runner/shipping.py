"""Log shipping that goes on after its step, for as long as the session runs up to the window.

A `sql.ship_logs` step with `keep_shipping` ends after its rounds; from then on the session
ships a log backup every `every` in the background, restored on every replica, so the
replicas stay minutes behind the source through the days before the window and the tail
the window must carry stays small. Each round is recorded on that step (a `step.progress`
whose outputs hold every backup shipped so far: what the chain gate and the tail's restore
read). Shipping stops, its round in flight finished first, when the window reaches the
chain (a step that judges or fences it starts), or the session closes; a driver that
reopens the session starts it again from what the log recorded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from cockpit.plan import models as m
from cockpit.plan.models import Step
from cockpit.runner.kinds.base import ActionContext, ActionFailed
from cockpit.runner.kinds.sql_chain import ship_round

_log = logging.getLogger(__name__)
STOP_WAIT_S = 600.0  # a round in flight is a log backup and its restores: minutes at most

Record = Callable[[str, dict[str, Any]], None]


def keeps_shipping(step: Step) -> bool:
    return isinstance(step.do, m.ShipLogs) and step.do.keep_shipping


def ends_shipping(step: Step) -> bool:
    """A step that judges the chain or fences it: the replicas must hold still for it."""
    if isinstance(step.do, m.SqlBackup) and step.do.tail:
        return True
    return any(isinstance(c, m.ChainContinuous) for c in [*step.gates, *step.until])


class LogShipper:
    """The background rounds of one `sql.ship_logs` step."""

    def __init__(self, step: Step, ctx: ActionContext, outputs: dict[str, Any],
                 record: Record) -> None:
        assert isinstance(step.do, m.ShipLogs)
        self.step, self.action, self.ctx = step, step.do, ctx
        self.shipped: list[dict[str, Any]] = list(outputs.get("backups", []))
        self.failures: list[dict[str, Any]] = list(outputs.get("restore_failures", []))
        self._record = record
        self._stop = threading.Event()  # no round after the one in flight
        self._abandon = threading.Event()  # not even that one: the cockpit is going
        ctx.cancelled = self._abandon
        ctx.stopping = lambda: True  # a job in flight is left to run: nothing is lost
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"log-shipping-{step.id}")

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, finish: bool = True, wait_s: float = STOP_WAIT_S) -> None:
        """No more rounds; the one in flight finished and recorded first, or (`finish`
        False: the cockpit is stopping) left to its Agent jobs, for the next driver."""
        self._stop.set()
        if not finish:
            self._abandon.set()
        if self._thread.is_alive():
            self._thread.join(timeout=wait_s)

    def _loop(self) -> None:
        every = self.action.every / self.ctx.time_scale
        while not self._stop.wait(every):
            try:
                record = ship_round(self.action, self.ctx, self.shipped, self.failures)
            except ActionFailed as exc:
                if self._abandon.is_set():
                    return  # the job goes on; the next driver adopts what it wrote
                self._record(f"log shipping round failed (retried in {self.action.every:g} s):"
                             f" {exc}", {"background": True, "error": str(exc)})
                continue
            except Exception:  # a bug must not end shipping silently, nor the driver
                _log.exception("log shipping round failed")
                continue
            self._record(f"log {len(self.shipped)} shipped in the background, up to LSN "
                         f"{record['last_lsn']}",
                         {"background": True, "last_lsn": record["last_lsn"],
                          "outputs": {"backups": self.shipped,
                                      "restore_failures": self.failures}})
