"""The sim's leftovers: the simulated SQL Servers' temporary folder, removed at stop and
swept at the next start when its process was killed before it could remove it; and the
loopback servers of a start cut short, which must stop without waiting on themselves."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from cockpit.sim.appservers import AppServer, AppServerState
from cockpit.sim.dns_server import CachingResolver, ResolverServer
from cockpit.sim.load_balancers import Listener
from cockpit.sim.server_loop import ServerLoop
from cockpit.sim.sql_estate import FOLDER_PREFIX, sweep_stale_folders


def a_dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_the_folder_of_a_killed_sim_is_swept_and_a_live_ones_is_kept(tmp_path: Path) -> None:
    dead = tmp_path / f"{FOLDER_PREFIX}{a_dead_pid()}-abc123"
    alive = tmp_path / f"{FOLDER_PREFIX}{os.getpid()}-def456"
    unrelated = tmp_path / "someone-elses-folder"
    for folder in (dead, alive, unrelated):
        (folder / "disks").mkdir(parents=True)
    assert sweep_stale_folders(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and unrelated.exists()


def never_started() -> list[Any]:
    """One of each loopback server the sim builds, built and not started: what a SIGTERM
    while `cockpit sim serve` starts leaves for the stop."""
    loop = ServerLoop()
    app = AppServer(AppServerState("oms-app-1", "aws", is_running=lambda: True,
                                   is_down=lambda: False, database=lambda: "ok"), loop)
    listener = Listener("oms-alb", "127.0.0.1", 80, list, timeout_s=1.0)
    resolver = ResolverServer("vpc-resolver", CachingResolver(
        lambda name, rtype: None, lambda name: False, speed=1.0, stale=lambda: False), loop)
    return [app, listener, resolver]


@pytest.mark.parametrize("index", range(3), ids=["app", "listener", "resolver"])
def test_a_server_never_started_stops_at_once(index: int) -> None:
    server = never_started()[index]
    stopping = threading.Thread(target=server.stop, daemon=True)
    stopping.start()
    stopping.join(timeout=10)  # a bound, not a wait for something: it returns at once
    assert not stopping.is_alive(), f"{type(server).__name__}.stop() waits for a server " \
        "that never served"
