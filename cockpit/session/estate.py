"""Opening the estate a session drives: the real one, or the simulated one on loopback.

The only module outside `cockpit/sim/` that imports the simulator: everything below it
(runner, estate adapters) sees an `EstateHandle` and cannot tell a rehearsal estate from
a real one, and the simulator stays an extra that a jump host need not install.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.estate.handle import Endpoints, EstateHandle
from cockpit.plan.models import Plan
from cockpit.runner.lock import lock_holder_pids, read_holder
from cockpit.session.estate_choice import EstateChoice
from cockpit.session.folder import LOCK
from cockpit.session.served_sim import ServedSim, start_for_session
from cockpit.settings import AwsSettings

if TYPE_CHECKING:
    from cockpit.sim.estate import SimEstate


class SimUnavailable(RuntimeError):
    """The `sim` extra (moto, dnslib) is not installed."""


@dataclass
class OpenEstate:
    handle: EstateHandle
    time_scale: float
    sim: SimEstate | None  # the in-process simulator, when there is one
    served: ServedSim | None = None  # the session's simulated estate, in its own process
    # Whether the served estate stays up after this driver: a session's estate does (a
    # next driver resumes on it) until its plan is done; one started for nothing does not.
    keep_served: bool = False

    @property
    def where(self) -> str:
        """One line for the engineer: where the simulated estate answers, if it is one."""
        if self.served is not None:
            return f"{self.served.describe()}: AWS at {self.handle.endpoints.aws_endpoint_url}"
        if self.sim is None:
            return ""
        return f"simulated estate up: AWS at {self.sim.aws_endpoint}"

    def parting(self, linger_s: float) -> str:
        """What the engineer is told of the served estate once the driver has closed."""
        if self.served is None or not self.keep_served:
            return ""
        return (f"the simulated estate stays up for this session (pid {self.served.pid}): "
                f"reopen the session to go on where it is; it stops itself after "
                f"{linger_s:g} s without a driver")


@contextmanager
def open_estate(plan: Plan, choice: EstateChoice, *, aws: AwsSettings | None = None,
                read_only: bool = False, early: ServedSim | None = None
                ) -> Iterator[OpenEstate]:
    """Yield a handle on the plan's estate; with `choice.sim`, start the simulated one (or
    reach the one served for the session). `early` is the session's served sim if it was
    started before (`start_for_session`): it is this estate's from here."""
    served = _served(plan, choice, early)
    if served is not None:
        choice = replace(choice, endpoints_file=served.endpoints)
    sim = _start_sim(plan, choice) if choice.sim and choice.endpoints_file is None else None
    try:
        endpoints, scale = _endpoints(choice, sim)
        handle = EstateHandle(plan.estate, _with_aws(endpoints, aws), read_only=read_only)
    except BaseException:
        _stop(sim, served, keep_served=served is not None and served.reused)
        raise
    opened = OpenEstate(handle, scale, sim, served, keep_served=bool(served and served.reused))
    try:
        yield opened
    finally:
        handle.close()
        _stop(sim, served, keep_served=opened.keep_served)


def _served(plan: Plan, choice: EstateChoice, early: ServedSim | None) -> ServedSim | None:
    if not (choice.sim and choice.served_for is not None and choice.endpoints_file is None):
        return None
    try:
        _check_faults(plan, choice.faults)
    except BaseException:
        if early is not None and not early.reused:
            early.stop()
        raise
    served = early if early is not None else start_for_session(choice.served_for)
    if not served.reused:  # it starts on the other core: ready what the first poll needs
        _read_ahead()
    served.wait_ready()
    return served


def _read_ahead() -> None:
    from cockpit.estate import http, service_models

    service_models.read_ahead()
    http.read_ahead()


def _check_faults(plan: Plan, faults: tuple[str, ...]) -> None:
    """Said here, at once, rather than by a served process that could not start."""
    if not faults:
        return
    with _needs_sim():
        from cockpit.sim.faults import parse_fault
    for fault in faults:
        parse_fault(fault, plan.estate)


def _stop(sim: SimEstate | None, served: ServedSim | None, *, keep_served: bool) -> None:
    if sim is not None:
        sim.stop()
    if served is not None and not keep_served:
        served.stop()


def _endpoints(choice: EstateChoice, sim: SimEstate | None) -> tuple[Endpoints, float]:
    if choice.endpoints_file is not None:
        with _needs_sim():
            from cockpit.sim.serve import read_endpoints, served_plan, served_speed
        _same_plan(choice, served_plan(choice.endpoints_file))
        return read_endpoints(choice.endpoints_file), served_speed(choice.endpoints_file)
    if sim is not None:
        return sim.endpoints(), choice.speed
    return Endpoints(), 1.0


def _same_plan(choice: EstateChoice, served: str | None) -> None:
    """A served estate is built from a plan's estate section: driving another plan
    against it would find instances, groups and names that are not the plan's."""
    if served and choice.plan_sha256 and served != choice.plan_sha256:
        raise ValueError(
            f"{choice.endpoints_file}: the simulated estate serves the plan with sha256 "
            f"{served[:12]}, not the one opened here ({choice.plan_sha256[:12]}): serve "
            "this plan (`cockpit sim serve PLAN`) or open the plan it serves")


def _with_aws(endpoints: Endpoints, aws: AwsSettings | None) -> Endpoints:
    if aws is None:
        return endpoints
    return replace(endpoints, connect_timeout=aws.connect_timeout_s,
                   read_timeout=aws.read_timeout_s, max_attempts=aws.max_attempts)


def _start_sim(plan: Plan, choice: EstateChoice) -> SimEstate:
    with _needs_sim():
        from cockpit.sim.estate import start_sim
    return start_sim(plan, choice.speed, choice.faults)


def serve_sim(plan: Plan, endpoints_file: Path, *, speed: float, faults: tuple[str, ...],
              ready: Callable[[str], None], plan_sha256: str = "",
              session_dir: Path | None = None, linger_s: float = 0.0,
              profile: dict[str, float] | None = None) -> None:
    """`cockpit sim serve`: the simulated estate in this process until SIGTERM, SIGINT
    or SIGHUP; its endpoints file names the plan it was built from. Served for a session,
    it also stops once no driver has held that session for `linger_s` seconds."""
    with _needs_sim():
        from cockpit.sim.serve import serve
    driven = None if session_dir is None else _driven(session_dir / LOCK)
    serve(plan, endpoints_file, speed=speed, faults=faults, ready=ready,
          plan_sha256=plan_sha256, driven=driven, linger_s=linger_s, profile=profile)


def _driven(lock: Path) -> Callable[[], bool]:
    """Whether a driver holds the session: read from the kernel's lock table, never by
    trying the lock (a try, however brief, could refuse a driver opening just then)."""

    def held() -> bool:
        pids = lock_holder_pids(lock)  # None: no lock file yet, or no lock table to read
        if pids is None:
            return read_holder(lock) is not None  # who the file names: cleared at a close
        return bool(pids)

    return held


def describe_faults() -> str:
    """The simulator's faults, one per line, for `--help`; a hint without the extra."""
    try:
        with _needs_sim():
            from cockpit.sim.faults import describe_faults as faults_listed
    except SimUnavailable:
        return "(install the sim extra to list the faults)"
    return faults_listed()


@contextmanager
def _needs_sim() -> Iterator[None]:
    """The simulator is imported only when it is needed (inside the functions above):
    `cockpit --help`, a watcher and a real window must not pay for moto, and must work
    where the extra is not installed."""
    try:
        yield
    except ImportError as exc:
        if exc.name and exc.name.startswith("cockpit"):
            raise
        raise SimUnavailable(
            f"the simulated estate needs the sim extra ({exc.name} is missing): "
            "pip install 'cutover-cockpit[sim]'") from exc
