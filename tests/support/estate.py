"""The simulated estate, what the tests read off it, and a driver's session on it; the
keys plan's estate and runner for the UI's key flows.

Heavy imports (moto, boto3) happen inside the helpers, so collecting the other test files
does not pay for them. Only one `SimEstate` can run in a process at a time (moto's backends
are global): `running_sim` stops its sim before it returns, and module-scoped sims are used
only by modules whose tests do not change the estate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from support.plans import DATA, load

if TYPE_CHECKING:
    from cockpit.estate.handle import EstateHandle
    from cockpit.plan.models import Plan
    from cockpit.runner.runner import Runner
    from cockpit.session.driver import DriverSession
    from cockpit.sim.estate import SimEstate
    from cockpit.sim.faults import FaultSet
    from cockpit.sim.sql_estate import SimSqlEstate


@contextmanager
def running_sim(
    plan: Plan, *, speed: float = 50.0, faults: Sequence[str] = ()
) -> Iterator[tuple[SimEstate, EstateHandle]]:
    """A started sim built from `plan`'s estate and a read-write handle on it; both stopped."""
    from cockpit.estate.handle import EstateHandle
    from cockpit.sim.estate import SimEstate
    from cockpit.sim.faults import parse_fault
    from cockpit.sim.plan_data import sentinel_tables

    parsed = [parse_fault(text, plan.estate) for text in faults]
    with SimEstate(plan.estate, speed=speed, faults=parsed,
                   sentinels=sentinel_tables(plan)) as sim:
        handle = EstateHandle(plan.estate, sim.endpoints(), read_only=False)
        try:
            yield sim, handle
        finally:
            handle.close()


def sql_side(plan: Plan, *, speed: float, faults: FaultSet | None = None) -> SimSqlEstate:
    """The simulated SQL servers alone (no AWS, no apps connected), started; the caller
    stops them."""
    from cockpit.sim.faults import FaultSet
    from cockpit.sim.sql_estate import AppView, SimSqlEstate

    estate = SimSqlEstate(plan.estate, speed=speed, faults=faults or FaultSet(), s3=None,
                          s3_host="-", apps=AppView(running_apps=lambda: [],
                                                    resolve=lambda name: None))
    estate.start()
    return estate


def own_s3_client(handle: EstateHandle, key: str = "WATCHERKEY") -> Any:
    """An S3 client of a watcher's (or a replaying host's) own: other keys than the
    driver's, the simulated estate's endpoint."""
    import boto3

    return boto3.client("s3", endpoint_url=handle.endpoints.aws_endpoint_url,
                        region_name=handle.estate.region, aws_access_key_id=key,
                        aws_secret_access_key=key.lower())


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


# --- the keys plan's estate and a runner on it, for the UI's key flows -----------------------

KEYS_PLAN = DATA / "ui" / "keys-plan.toml"
# The sim and the runner both run 50 times faster than life: a 30 s timeout is 0.6 s.
SPEED = 50.0
# In the keys plan, `gated-on-app-1`'s gate reads oms-app-1, which this fault holds down.
KEYS_FAULTS = ("app-down=oms-app-1",)


@contextmanager
def keys_estate() -> Iterator[tuple[Plan, EstateHandle]]:
    """The keys plan's simulated estate (oms-app-1 held down) and a handle on it.

    Only one sim may run per process: callers hold this for a module at most.
    """
    plan = load(KEYS_PLAN)
    with running_sim(plan, speed=SPEED, faults=KEYS_FAULTS) as (_sim, handle):
        yield plan, handle


_SESSIONS: dict[int, DriverSession] = {}


def open_runner(plan: Plan, handle: EstateHandle, folder: Path) -> Runner:
    """A driver's runner on a fresh session folder, opened through the session layer as
    `cockpit run --sim` opens one."""
    session = driver_session(KEYS_PLAN, handle, folder, time_scale=SPEED)
    _SESSIONS[id(session.runner)] = session
    return session.runner


def close_runner(runner: Runner) -> None:
    """Close the session `open_runner` opened, as the cockpit closes it once its app has
    ended: the pane poller stopped with it, then the runner."""
    _SESSIONS.pop(id(runner)).close(wait_s=10)


def driver_source(runner: Runner, handle: EstateHandle) -> DriverSession:
    """The driver's session that `open_runner` opened: what the driver's screen is given."""
    return _SESSIONS[id(runner)]
