"""Which estate a command drives, apart from `estate.py`: the CLI decides it and starts the
demo's estate from it before anything heavy is imported (`estate.py` imports the plan's
models and the settings, a quarter of a second the estate need not wait for)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cockpit.session.served_sim import SimRequest


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
    # `run --sim` and `rehearse --sim`: the simulated estate outlives the driver, served for
    # its session (`served_sim.py`); the driver fills in `served_for` when it opens.
    lasting: bool = False
    # The demo: the simulated estate in a process of its own, started before the screen's
    # imports so that it starts on the other core while they run, and stopped with the
    # driver. It also keeps the simulator's threads off the screen's interpreter.
    apart: bool = False
    served_for: SimRequest | None = None

    @property
    def simulated(self) -> bool:
        return self.sim or self.endpoints_file is not None

    def describe(self, plan_file: Path) -> str:
        return "the simulated estate" if self.simulated else f"the estate of {plan_file}"
