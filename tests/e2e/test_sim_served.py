"""A simulated estate served by `cockpit sim serve` in one process, and `cockpit rehearse
--sim-endpoints` in another rehearsing Phase Two on it end to end, over the SQL wire
(`cockpit.sim.sql_wire`) and moto's servers. Split from `tests/sim/test_sql_wire.py`: two
real processes, no sim in this one."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from pathlib import Path

from support.plans import ROOT

from cockpit.sim.serve import read_endpoints

PHASE_TWO = ROOT / "plans" / "oms-phase2-simple.toml"
COCKPIT = str(Path(sys.executable).parent / "cockpit")
ENDPOINTS = ["oms-db-dc", "oms-sql-1", "oms-sql-2", "oms-sql-3"]  # every [[estate.sql]]


def test_a_served_sim_rehearses_phase_two_from_another_process(tmp_path: Path) -> None:
    endpoints = tmp_path / "endpoints.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    stderr = (tmp_path / "serve.err").open("w")
    serving = subprocess.Popen(
        [COCKPIT, "sim", "serve", str(PHASE_TWO), "--endpoints", str(endpoints),
         "--speed", "50"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert serving.stdout is not None
        with selectors.DefaultSelector() as ready:  # a read with a deadline, not a sleep
            ready.register(serving.stdout, selectors.EVENT_READ)
            assert ready.select(timeout=60), "the sim did not say it was serving"
        said = serving.stdout.readline()
        assert said.startswith("simulated estate serving"), (
            said, (tmp_path / "serve.err").read_text())
        assert set(json.loads(endpoints.read_text())["sql_servers"]) == set(ENDPOINTS)
        assert set(read_endpoints(endpoints).sql_connect) == set(ENDPOINTS)

        done = subprocess.run(
            [COCKPIT, "rehearse", str(PHASE_TWO), "--manual-note", "rehearsal",
             "--sim-endpoints", str(endpoints),
             "--session", str(tmp_path / "session")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert "every step succeeded" in done.stdout
    finally:
        serving.terminate()
        code = serving.wait(timeout=30)
        stderr.close()
    assert code == 0 and not endpoints.exists()
