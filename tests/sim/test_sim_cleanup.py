"""The simulated SQL Servers' temporary folder: removed at stop, and swept at the next
start when its process was killed before it could remove it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
