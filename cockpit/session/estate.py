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
from cockpit.settings import AwsSettings

if TYPE_CHECKING:
    from cockpit.sim.estate import SimEstate


class SimUnavailable(RuntimeError):
    """The `sim` extra (moto, dnslib) is not installed."""


@dataclass(frozen=True)
class EstateChoice:
    """Which estate a command drives: `sim` starts one in this process, `endpoints_file`
    reaches one that `cockpit sim serve` serves, neither is the real estate."""

    sim: bool = False
    speed: float = 1.0
    faults: tuple[str, ...] = ()
    endpoints_file: Path | None = None
    # The plan the driver opened: a served sim built from another plan is refused.
    plan_sha256: str | None = None

    @property
    def simulated(self) -> bool:
        return self.sim or self.endpoints_file is not None

    def describe(self, plan_file: Path) -> str:
        return "the simulated estate" if self.simulated else f"the estate of {plan_file}"


@dataclass
class OpenEstate:
    handle: EstateHandle
    time_scale: float
    sim: SimEstate | None  # the in-process simulator, when there is one

    @property
    def where(self) -> str:
        """One line for the engineer: where the simulated estate answers, if it is one."""
        if self.sim is None:
            return ""
        return f"simulated estate up: AWS at {self.sim.aws_endpoint}"


@contextmanager
def open_estate(plan: Plan, choice: EstateChoice, *, aws: AwsSettings | None = None,
                read_only: bool = False) -> Iterator[OpenEstate]:
    """Yield a handle on the plan's estate; with `choice.sim`, start the simulated one."""
    sim = _start_sim(plan, choice) if choice.sim and choice.endpoints_file is None else None
    try:
        endpoints, scale = _endpoints(choice, sim)
        handle = EstateHandle(plan.estate, _with_aws(endpoints, aws), read_only=read_only)
    except BaseException:
        if sim is not None:
            sim.stop()
        raise
    try:
        yield OpenEstate(handle, scale, sim)
    finally:
        handle.close()
        if sim is not None:
            sim.stop()


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
              ready: Callable[[str], None], plan_sha256: str = "") -> None:
    """`cockpit sim serve`: the simulated estate in this process until SIGTERM, SIGINT
    or SIGHUP; its endpoints file names the plan it was built from."""
    with _needs_sim():
        from cockpit.sim.serve import serve
    serve(plan, endpoints_file, speed=speed, faults=faults, ready=ready,
          plan_sha256=plan_sha256)


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
