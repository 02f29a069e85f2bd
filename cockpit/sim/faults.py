"""Faults the simulated estate can be told to suffer, from `--sim-fault NAME=ARG`."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.plan.models import Estate

# name -> (what ARG names, what the fault does). `cockpit rehearse --help` prints this.
FAULTS: dict[str, tuple[str, str]] = {
    "app-down": ("app server id", "its health endpoint answers 503: the ALB marks it unhealthy"),
    "alb-blocked": ("app server id", "the ALB's health checks of it time out (a security "
                    "group that does not let the ALB in) while it answers the cockpit"),
    "resolver-stale": ("resolver id", "it keeps serving the answer it first cached"),
}


class FaultError(ValueError):
    """A `--sim-fault` that names an unknown fault or a resource the plan lacks."""


@dataclass(frozen=True)
class Fault:
    name: str
    arg: str

    def __str__(self) -> str:
        return f"{self.name}={self.arg}"


def parse_fault(text: str, estate: Estate) -> Fault:
    name, sep, arg = text.partition("=")
    if not sep or not arg:
        raise FaultError(f"{text!r}: write NAME=ARG, e.g. app-down=oms-app-1")
    if name not in FAULTS:
        raise FaultError(f"unknown fault {name!r} (known: {', '.join(sorted(FAULTS))})")
    known = _ids_for(name, estate)
    if known is not None and arg not in known:
        raise FaultError(f"{text}: {FAULTS[name][0]} {arg!r} not in the plan ({', '.join(known)})")
    return Fault(name, arg)


def _ids_for(name: str, estate: Estate) -> list[str] | None:
    if name in ("app-down", "alb-blocked"):
        return [s.id for s in estate.app_servers]
    if name == "resolver-stale":
        return [r.id for r in estate.resolvers]
    return None


def describe_faults() -> str:
    width = max(len(n) for n in FAULTS) + len("=<server id>")
    lines = []
    for name, (arg, effect) in FAULTS.items():
        lines.append(f"{name}=<{arg}>".ljust(width + 8) + effect)
    return "\n".join(lines)


@dataclass(frozen=True)
class FaultSet:
    faults: tuple[Fault, ...] = ()

    def has(self, name: str, arg: str) -> bool:
        return any(f.name == name and f.arg == arg for f in self.faults)

    def args(self, name: str) -> list[str]:
        return [f.arg for f in self.faults if f.name == name]
