"""What every kind module shares: the contexts handlers receive, what they return or raise,
and the shape of the tables each module exports.

It lives apart from `runner.probes` and `runner.actions` so that a kind module needs only
this (and the estate and the plan's models): the registries can then import every kind
module eagerly, without the import cycles the old lazy imports worked around.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cockpit.estate.handle import EstateHandle
from cockpit.plan import models as m

# --- conditions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    ok: bool
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    # Not there yet but on its way (an instance still starting, a restore still running):
    # a re-check waits for it, to the step's timeout, where a settled "no" answers at once.
    pending: bool = False


@dataclass
class ProbeContext:
    handle: EstateHandle
    # Outputs of actions, by step id (e.g. the Route 53 change ids an UPSERT returned).
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    step_id: str | None = None
    action: Any | None = None  # the step's `do`, for judging what it meant to change
    # Judges the plan's readiness check of that id (a `readiness` gate); None where there is
    # no plan to look it up in.
    readiness: Callable[[str], Verdict] | None = None
    # The session's id: what its backups' keys are named by (None outside a session).
    session_id: str | None = None
    # What each step of the run came to, by id: its status, or "marked done" for one that
    # succeeded on the engineer's word alone (None outside a run).
    step_outcomes: dict[str, str] | None = None


# --- actions -----------------------------------------------------------------------------------


class ManualNotConfirmed(RuntimeError):
    """The engineer did not confirm a manual action."""


class ActionFailed(RuntimeError):
    """An action that failed, with what it found: `evidence` goes into the failed step."""

    def __init__(self, message: str, evidence: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.evidence = evidence or {}


# Asked when a `manual` action runs: returns the engineer's note, or None to refuse.
ConfirmManual = Callable[[str], str | None]
# Told how a long action is getting on (a message, and its figures for the log).
Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class ActionContext:
    handle: EstateHandle
    confirm_manual: ConfirmManual
    progress: Progress | None = None
    progress_every_s: float = 5.0
    # The step's outputs from its last run: what an undo puts back (a record set replaced).
    outputs: dict[str, Any] = field(default_factory=dict)
    # Every step's recorded outputs, by step id: what a restore of earlier backups reads.
    earlier: dict[str, dict[str, Any]] = field(default_factory=dict)
    session_id: str | None = None  # names the session's backups in their keys
    time_scale: float = 1.0  # the estate's speed: a wait of N s takes N / time_scale
    step_id: str | None = None  # names the Agent jobs the step starts
    # Set when the step is to stop (the engineer's cancel, or the cockpit stopping), and
    # whether it is the cockpit stopping: work left to SQL Server then runs on.
    cancelled: threading.Event | None = None
    stopping: Callable[[], bool] = lambda: False


# --- the tables each kind module exports -------------------------------------------------------

# A handler takes one model type, named by its key in the table. A dict cannot tie each
# value's argument to its key, so the argument is Any here; the handlers themselves take
# their concrete model, and tests/unit/test_runner_kinds.py checks each model has one.
Probe = Callable[[Any, ProbeContext], Verdict]
ActionHandler = Callable[[Any, ActionContext], dict[str, Any]]
# Has an action taken effect? What the estate shows for it, judged when a step cut short by
# a dead driver is re-checked and has no `until` to wait for (the restored database ONLINE,
# the backup whole in S3, the record holding its new value). None: the estate cannot tell
# (a manual action): the engineer runs it again or marks it done.
Effect = Callable[[Any, ProbeContext], Verdict]

# The live panes (runner.panes.PANES, whose titles live there): a Literal, so a misspelt pane
# in a WATCHED_BY table fails mypy rather than quietly never speeding a pane up.
Pane = Literal["apps", "targets", "ag", "backup", "dns"]

Probes = dict[type[m.Condition], Probe]
Actions = dict[type[m.Action], ActionHandler]
Effects = dict[type[m.Action], Effect | None]
# The pane that shows a condition or an action moving: it polls faster while a step that
# waits on (or does) that kind runs. Kinds no pane shows are simply absent.
WatchedBy = dict[type[m.Condition] | type[m.Action], Pane]


class KindModule(Protocol):
    """What a module of cockpit.runner.kinds exports: its system's four tables."""

    __name__: str
    PROBES: Probes
    ACTIONS: Actions
    EFFECTS: Effects
    WATCHED_BY: WatchedBy
