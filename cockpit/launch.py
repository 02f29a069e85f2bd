"""Opening an estate for a command: the simulated one on loopback, or the real one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.estate.handle import Endpoints, EstateHandle
from cockpit.plan.models import Plan


class SimUnavailable(RuntimeError):
    """The `sim` extra (moto, dnslib) is not installed."""


@dataclass
class OpenEstate:
    handle: EstateHandle
    time_scale: float
    sim: Any | None  # cockpit.sim.estate.SimEstate, when simulated


@contextmanager
def open_estate(
    plan: Plan, *, sim: bool, speed: float = 1.0, faults: Sequence[str] = (),
    read_only: bool = False, sim_endpoints: Path | None = None,
) -> Iterator[OpenEstate]:
    """Yield a handle on the plan's estate; with `sim`, start the simulated one first.

    With `sim_endpoints`, reach a sim served by another process (`cockpit sim serve`).
    """
    if sim_endpoints is not None:
        from cockpit.sim.serve import read_endpoints, served_speed

        handle = EstateHandle(plan.estate, read_endpoints(sim_endpoints), read_only=read_only)
        try:
            yield OpenEstate(handle, served_speed(sim_endpoints), None)
        finally:
            handle.close()
        return
    if not sim:
        handle = EstateHandle(plan.estate, Endpoints(), read_only=read_only)
        try:
            yield OpenEstate(handle, 1.0, None)
        finally:
            handle.close()
        return
    sim_estate = start_sim(plan, speed, faults)
    handle = EstateHandle(plan.estate, sim_estate.endpoints(), read_only=read_only)
    try:
        yield OpenEstate(handle, speed, sim_estate)
    finally:
        handle.close()
        sim_estate.stop()


def start_sim(plan: Plan, speed: float, faults: Sequence[str]) -> Any:
    try:
        from cockpit.sim.estate import SimEstate
        from cockpit.sim.faults import parse_fault
    except ImportError as exc:
        raise SimUnavailable(
            f"the simulated estate needs the sim extra ({exc.name} is missing): "
            "pip install 'cutover-cockpit[sim]'"
        ) from exc
    parsed = [parse_fault(text, plan.estate) for text in faults]
    sim_estate = SimEstate(plan.estate, speed=speed, faults=parsed)
    sim_estate.start()
    return sim_estate
