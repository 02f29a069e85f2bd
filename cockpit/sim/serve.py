"""`cockpit sim serve`: the simulated estate in a process of its own.

In life the estate outlives the driver: a cockpit that crashes and is reopened finds the
targets it registered still registered. Served this way the sim does the same: it writes
where it answers (an endpoints file, 0600) and runs until stopped; `cockpit run` and
`cockpit rehearse` reach it with `--sim-endpoints FILE`.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from cockpit.estate.handle import Endpoints
from cockpit.plan.models import Plan

SERIALISED = ("aws_endpoint_url", "aws_credentials", "health_urls", "resolvers",
              "sql_servers", "sql_disk_root")
ADDRESSES = ("resolvers", "sql_servers")  # id -> (host, port): JSON writes them as lists


def write_endpoints(endpoints: Endpoints, path: Path, extra: dict[str, Any]) -> None:
    # Field by field: `asdict` would deep-copy the in-process SQL connection factories.
    data: dict[str, Any] = {name: getattr(endpoints, name) for name in SERIALISED}
    data.update(extra)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=1)
    os.replace(tmp, path)


def read_endpoints(path: Path) -> Endpoints:
    """The endpoints a served sim wrote; raises ValueError naming what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the sim's endpoints: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: cannot read the sim's endpoints: not a JSON object")
    known = {f.name for f in fields(Endpoints)}
    kwargs = {k: v for k, v in data.items() if k in known and k in SERIALISED}
    for name in ADDRESSES:
        try:
            kwargs[name] = {str(k): (str(v[0]), int(v[1]))
                            for k, v in (kwargs.get(name) or {}).items()}
        except (AttributeError, TypeError, ValueError, IndexError, KeyError):
            raise ValueError(f"{path}: {name} must map ids to [host, port], not "
                             f"{kwargs.get(name)!r}") from None
    return Endpoints(**kwargs)


def served_speed(path: Path) -> float:
    try:
        return float(json.loads(path.read_text(encoding="utf-8")).get("speed", 1.0))
    except (OSError, ValueError, TypeError):
        return 1.0


def serve(plan: Plan, endpoints_file: Path, *, speed: float, faults: Sequence[str],
          ready: Callable[[str], None]) -> None:
    """Start the sim, publish its endpoints, and block until SIGTERM or SIGINT."""
    from cockpit.launch import start_sim

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sim = start_sim(plan, speed, faults)
    try:
        write_endpoints(sim.endpoints(), endpoints_file, {"pid": os.getpid(), "speed": speed})
        ready(f"simulated estate serving: AWS at {sim.aws_endpoint}; endpoints in "
              f"{endpoints_file}; stop with Ctrl-C")
        stop.wait()
    finally:
        sim.stop()
        endpoints_file.unlink(missing_ok=True)
