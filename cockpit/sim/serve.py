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
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any

from cockpit.estate.handle import Endpoints
from cockpit.plan.models import Plan
from cockpit.sim.sql_wire_client import WireConnection

SERIALISED = ("aws_endpoint_url", "aws_credentials", "health_urls", "resolvers",
              "http_listeners", "sql_disk_root", "label", "credentials_are_secret")
LINGER_CHECK_S = 1.0
# id (or `address:port`) -> (host, port): JSON writes them as lists
ADDRESSES = ("resolvers", "http_listeners", "sql_servers")


def write_endpoints(endpoints: Endpoints, path: Path, extra: dict[str, Any]) -> None:
    """`extra` carries what is not an endpoint field: the SQL servers' addresses, the pid
    and the speed."""
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
    addresses = {name: _addresses(path, name, data.get(name)) for name in ADDRESSES}
    kwargs["resolvers"] = addresses["resolvers"]
    kwargs["http_listeners"] = addresses["http_listeners"]
    # Each SQL connection is a new TCP session to the served sim, as a new ODBC one would be.
    kwargs["sql_connect"] = {eid: partial(WireConnection, host, port)
                             for eid, (host, port) in addresses["sql_servers"].items()}
    return Endpoints(**kwargs)


def _addresses(path: Path, name: str, value: Any) -> dict[str, tuple[str, int]]:
    try:
        return {str(k): (str(v[0]), int(v[1])) for k, v in (value or {}).items()}
    except (AttributeError, TypeError, ValueError, IndexError, KeyError):
        raise ValueError(f"{path}: {name} must map ids to [host, port], not "
                         f"{value!r}") from None


def served_speed(path: Path) -> float:
    try:
        return float(json.loads(path.read_text(encoding="utf-8")).get("speed", 1.0))
    except (OSError, ValueError, TypeError):
        return 1.0


def served_plan(path: Path) -> str | None:
    """The sha256 of the plan the served sim was built from (None: it did not say)."""
    try:
        said = json.loads(path.read_text(encoding="utf-8")).get("plan_sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return str(said) if said else None


class _StartCancelled(BaseException):
    """A stop while the estate was starting: a driver that went before it answered (the
    hundred-times estate takes minutes to seed) does not wait for it to finish. Not an
    Exception: raised wherever the start is, no `except Exception` on the way swallows it."""


def serve(plan: Plan, endpoints_file: Path, *, speed: float, faults: Sequence[str],
          ready: Callable[[str], None], plan_sha256: str = "",
          driven: Callable[[], bool] | None = None, linger_s: float = 0.0,
          profile: dict[str, float] | None = None) -> None:
    """Start the sim, publish its endpoints, and block until SIGTERM, SIGINT or SIGHUP;
    with `driven`, also once it has said no for `linger_s` seconds on end (the session
    the sim was started for has had no driver that long), or as soon as its endpoints file
    is gone (the session folder removed: nobody can come back to it)."""
    # Here, not above: a driver reads the endpoints file through this module, and loads
    # none of the simulator for it.
    from cockpit.sim.estate import start_sim

    stop, starting = threading.Event(), threading.Event()

    def stopping(*_: object) -> None:
        stop.set()
        if starting.is_set():  # the start is cut short (the estate half built is stopped)
            starting.clear()
            raise _StartCancelled

    for signalled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signalled, stopping)
    starting.set()
    try:
        sim = start_sim(plan, speed, faults, profile)
        starting.clear()
    except _StartCancelled:
        return
    try:
        write_endpoints(sim.endpoints(), endpoints_file, {
            "pid": os.getpid(), "speed": speed, "sql_servers": sim.sql_servers(),
            "plan_sha256": plan_sha256})
        ready(f"simulated estate serving: AWS at {sim.aws_endpoint}; endpoints in "
              f"{endpoints_file}; stop with Ctrl-C")
        _wait_for_stop(stop, driven, linger_s, endpoints_file)
    finally:
        sim.stop()
        endpoints_file.unlink(missing_ok=True)


def _wait_for_stop(stop: threading.Event, driven: Callable[[], bool] | None,
                   linger_s: float, endpoints_file: Path) -> None:
    if driven is None:
        stop.wait()
        return
    # Asked every second: a driver that comes back within the linger keeps the estate.
    undriven_since = time.monotonic()
    while not stop.wait(LINGER_CHECK_S):
        if not endpoints_file.exists():
            return
        if driven():
            undriven_since = time.monotonic()
        elif time.monotonic() - undriven_since >= linger_s:
            return
