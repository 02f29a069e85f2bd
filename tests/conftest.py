"""Shared helpers for the integration tests of the estate adapters, the sim and the runner.

Heavy imports (moto, boto3) happen inside the helpers, so collecting the other test files
does not pay for them. Only one `SimEstate` can run in a process at a time (moto's backends
are global): `running_sim` stops its sim before it returns, and module-scoped sims are used
only by modules whose tests do not change the estate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from cockpit.audit.entry import Actor, AuditEntry
    from cockpit.estate.handle import EstateHandle
    from cockpit.plan.models import Plan
    from cockpit.session.driver import DriverSession
    from cockpit.sim.estate import SimEstate

ROOT = Path(__file__).resolve().parent.parent
PHASE_ONE = ROOT / "plans" / "oms-phase1-app-servers.toml"
DB_PASSWORD = "s3cr3t-Pa55"
# What an unattended rehearsal confirms the plans' manual steps with.
MANUAL_NOTE = "rehearsal: the manual step was confirmed by the test run"

T = TypeVar("T")


# --- waiting for the sim to move ----------------------------------------------------------


def eventually(
    observe: Callable[[], T],
    until: Callable[[T], bool] = bool,
    *,
    timeout: float = 10.0,
    every: float = 0.05,
    what: str = "condition",
) -> T:
    """Re-observe every `every` s until `until(value)` holds; fail loudly with the last value.

    The only waiting the tests do: bounded, and on timeout the assertion says what it saw.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = observe()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not hold within {timeout:g}s; last saw: {value!r}")
        time.sleep(every)  # the poll interval of this bounded helper, not a synchronisation


# --- plans --------------------------------------------------------------------------------


def load(path: Path) -> Plan:
    from cockpit.plan.loader import load_plan

    return load_plan(path)


def estate_toml() -> str:
    """The phase-one plan's header and estate section, to build small plans on."""
    text = PHASE_ONE.read_text(encoding="utf-8")
    head, sep, _ = text.partition("\n[[phases]]")
    assert sep, "the phase-one plan has no [[phases]]"
    return head + "\n"


def write_plan(folder: Path, phases_toml: str, *, name: str = "small-plan.toml",
               estate: str | None = None) -> tuple[Path, Plan]:
    """A plan file in `folder`: the phase-one estate (or `estate`) and the given phases."""
    path = folder / name
    path.write_text((estate if estate is not None else estate_toml()) + phases_toml,
                    encoding="utf-8")
    return path, load(path)


@pytest.fixture(scope="session")
def phase_one() -> Plan:
    return load(PHASE_ONE)


# --- the simulated estate -----------------------------------------------------------------


@contextmanager
def running_sim(
    plan: Plan, *, speed: float = 50.0, faults: Sequence[str] = ()
) -> Iterator[tuple[SimEstate, EstateHandle]]:
    """A started sim built from `plan`'s estate and a read-write handle on it; both stopped."""
    from cockpit.estate.handle import EstateHandle
    from cockpit.sim.estate import SimEstate
    from cockpit.sim.faults import parse_fault

    parsed = [parse_fault(text, plan.estate) for text in faults]
    with SimEstate(plan.estate, speed=speed, faults=parsed) as sim:
        handle = EstateHandle(plan.estate, sim.endpoints(), read_only=False)
        try:
            yield sim, handle
        finally:
            handle.close()


def target_states(handle: EstateHandle, group: str = "oms-web") -> dict[str, str]:
    """server -> state, as `elb.target_health` reports the group (fails on a probe error)."""
    from cockpit.estate import elb

    snap = elb.target_health(handle, group)
    assert snap.error is None, snap.error
    return {t.server: t.state for t in snap.targets}


Answers = dict[tuple[str, str], tuple[str | None, int | None]]


def answers(handle: EstateHandle, records: list[str],
            resolvers: list[str] | None = None) -> Answers:
    """(resolver, record) -> (value, ttl), failing on any resolver error."""
    from cockpit.estate import dns

    snap = dns.resolve(handle, records, resolvers)
    errors = [(a.resolver, a.record, a.error) for a in snap.answers if a.error]
    assert not errors, errors
    return {(a.resolver, a.record): (a.value, a.ttl) for a in snap.answers}


# --- the audit log ------------------------------------------------------------------------


def me() -> Actor:
    """Who the session files should name: this login on this host."""
    from cockpit.audit.entry import Actor

    return Actor.current()


def log_entries(folder: Path) -> list[AuditEntry]:
    from cockpit.audit.verify import read_entries

    return read_entries(folder / "audit.jsonl").entries


def raw_lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "audit.jsonl").read_bytes().splitlines()]


def events_of(folder: Path, step: str | None = None) -> list[str]:
    """The events in the log, in order (only those of `step` when given)."""
    return [e.event for e in log_entries(folder) if step is None or e.step == step]


def started_steps(folder: Path) -> list[str]:
    return [e.step or "" for e in log_entries(folder) if e.event == "step.started"]


# --- a driver's session on an estate the test owns ------------------------------------------


def driver_session(plan_path: Path, handle: EstateHandle, folder: Path, *,
                   time_scale: float = 1.0, take_over: bool = False,
                   confirm_manual: Callable[[str], str | None] | None = None) -> DriverSession:
    """Opened as `cockpit run` opens one (lock, plan copy, `session.opened`), through the
    session layer; the estate stays the test's."""
    from cockpit.plan.loader import load_plan_file
    from cockpit.runner.runner import Pacing
    from cockpit.session.driver import start_driver_session
    from cockpit.session.folder import SessionFolder

    def ask(step: object, instruction: str) -> str | None:
        return confirm_manual(instruction) if confirm_manual else None

    return start_driver_session(load_plan_file(plan_path), SessionFolder(folder), handle,
                                pacing=Pacing(time_scale), take_over=take_over, ask_manual=ask)
