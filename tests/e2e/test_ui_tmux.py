"""`cockpit demo` in a real terminal: tmux at 120x40, keys sent, the screen read back.

The driver runs in one tmux window and a watcher in a second, each a real `cockpit`
process on the same session folder, exactly as the README's demo has an engineer do it.
The tmux server has a socket of its own, and is killed however the test ends.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.audit import log_entries
from support.plans import PHASE_ONE
from support.waiting import eventually, eventually_timed

from cockpit.cli import DEMO_PLAN
from cockpit.plan.loader import load_plan

TMUX = shutil.which("tmux")
COCKPIT = Path(sys.executable).parent / "cockpit"

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (CI installs it)")


class Tmux:
    """One private tmux server (`tmux -L <socket>`), no user config."""

    def __init__(self, socket: str, env: dict[str, str]) -> None:
        self.socket, self.env = socket, env

    def __call__(self, *args: str) -> str:
        assert TMUX is not None
        done = subprocess.run([TMUX, "-L", self.socket, "-f", "/dev/null", *args],
                              env=self.env, capture_output=True, text=True, timeout=15)
        assert done.returncode == 0, f"tmux {' '.join(args)}: {done.stderr.strip()}"
        return done.stdout

    def capture(self, target: str) -> str:
        return self("capture-pane", "-p", "-t", target)

    def kill(self) -> None:
        """Stop the server and remove its socket file (tmux leaves it behind)."""
        assert TMUX is not None
        where = subprocess.run([TMUX, "-L", self.socket, "display-message", "-p",
                                "#{socket_path}"], env=self.env, capture_output=True,
                               text=True, timeout=15).stdout.strip()
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], env=self.env,
                       capture_output=True, timeout=15)
        if where:
            Path(where).unlink(missing_ok=True)


@pytest.fixture
def tmux(isolated_from_this_machine: None) -> Iterator[Tmux]:
    """The server and the cockpits it starts get this test's environment, isolated from the
    machine's (tests/conftest.py): the user's own key config must not change which key runs
    what. Not COLUMNS and LINES: the pane's size is the terminal's, and a cockpit believes
    them over it (pytest-xdist's workers have COLUMNS=80 and LINES=24)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TMUX", "TMUX_PANE", "NO_COLOR", "COLUMNS", "LINES")}
    server = Tmux(f"cockpit-test-{uuid.uuid4().hex[:10]}", env)
    try:
        yield server
    finally:
        server.kill()


def shown_ready(tmux: Tmux, step: str) -> None:
    """Wait until the runbook shows `step` as ready (its key and the critical path's mark,
    if any, between)."""
    row = re.compile(rf"\bready\s+(?:\S{{1,3}}\s+){{0,2}}{re.escape(step)}\b")
    eventually(lambda: tmux.capture("hup"), lambda screen: bool(row.search(screen)),
               within=30, what=f"{step} shown ready")


def apps_pane_live(screen: str, servers: list[str]) -> bool:
    """The App servers pane has a row for a server with an HTTP status, and an age."""
    rows = any(re.search(rf"\b{re.escape(s)}\b[^│\n]*\b\d{{3}}\b", screen) for s in servers)
    return "App servers" in screen and rows and " ago " in screen


def runbook_shows_done(screen: str, step: str) -> bool:
    return re.search(rf"\bdone\b[^│\n]*\b{re.escape(step)}\b", screen) is not None


def test_demo_in_tmux_driver_and_watcher(tmux: Tmux, tmp_path: Path) -> None:
    assert COCKPIT.exists(), f"no cockpit script next to {sys.executable}"
    session = tmp_path / "session"
    log = session / "audit.jsonl"
    servers = [s.id for s in load_plan(DEMO_PLAN).estate.app_servers]

    demo = f"{shlex.quote(str(COCKPIT))} demo --session {shlex.quote(str(session))}"
    tmux("new-session", "-d", "-s", "cutover", "-x", "120", "-y", "40", demo,
         ";", "set-option", "-t", "cutover", "remain-on-exit", "on")
    driver = "cutover:0"

    screen, took = eventually_timed(lambda: tmux.capture(driver),
                                    lambda s: apps_pane_live(s, servers), within=30,
                                    what="the driver's App servers pane with live data")
    for title in ("App servers", "ALB targets", "SQL availability group",
                  "Backup and restore", "DNS", "Audit log"):
        assert title in screen, f"{title!r} missing from the 120x40 screen:\n{screen}"
    # The header's hint is cut at 120 columns when the path is long: its start must show.
    assert " DRIVER " in screen and "watch from another terminal: cockpit watch " in screen
    print(f"live panes {took:.1f}s after tmux started the demo")
    # The demo's estate runs apart from the driver, in a `cockpit sim serve` of its own.
    sim_pid = json.loads((session / "sim.json").read_text(encoding="utf-8"))["pid"]
    assert b"serve" in Path(f"/proc/{sim_pid}/cmdline").read_bytes().split(b"\0")

    # The demo opens on a manual step (announce the window): g asks, a note and Enter do it.
    tmux("send-keys", "-t", driver, "g")
    eventually(lambda: tmux.capture(driver), lambda s: "MANUAL STEP" in s, within=10,
               what="the manual step's prompt after g")
    tmux("send-keys", "-t", driver, "-l", "bridge told at 01:00")
    tmux("send-keys", "-t", driver, "Enter")
    succeeded = eventually(lambda: [e for e in log_entries(session)
                                    if e.event == "step.succeeded"],
                           bool, within=30, what="a step.succeeded in the audit log after g")
    step = succeeded[0].step
    assert step is not None
    eventually(lambda: tmux.capture(driver), lambda s: runbook_shows_done(s, step), within=5,
               what=f"the driver's runbook shows {step} done")

    watch = f"{shlex.quote(str(COCKPIT))} watch {shlex.quote(str(session))}"
    tmux("new-window", "-t", "cutover", watch)
    watcher = "cutover:1"
    screen, took = eventually_timed(lambda: tmux.capture(watcher),
                                    lambda s: runbook_shows_done(s, step), within=10,
                                    what=f"the watcher shows {step} done")
    assert " WATCH " in screen and "read-only" in screen
    print(f"the watcher showed {step} done {took:.1f}s after it was started")

    before = log.read_bytes()
    for key in ("r", "g", "s", "n"):
        tmux("send-keys", "-t", watcher, key)
    # The keys reached it: the watcher still answers (its help opens and closes).
    tmux("send-keys", "-t", watcher, "?")
    eventually(lambda: tmux.capture(watcher), lambda s: "Keys (watch mode)" in s, within=5,
               what="the watcher's help screen")
    tmux("send-keys", "-t", watcher, "?")
    assert log.read_bytes() == before, "a key pressed in the watcher changed the audit log"

    tmux("send-keys", "-t", driver, "q")
    entries = eventually(lambda: log_entries(session),
                         lambda es: es[-1].event == "session.closed", within=30,
                         what="session.closed as the log's last entry after q")
    assert [e.event for e in entries].count("step.started") == 1
    # ... and is stopped with it: nothing of the demo is left running.
    eventually(lambda: Path(f"/proc/{sim_pid}").exists(), lambda alive: not alive, within=30,
               what="the demo's simulated estate stopped after q")
    assert not (session / "sim.json").exists()


def test_a_hang_up_mid_step_records_the_step_and_the_hangup(tmux: Tmux, tmp_path: Path) -> None:
    """SIGHUP while a step waits (the SSH line dropped): the step's end, its interruption
    (the next driver recovers it), the hang-up and the close are on the record, in that
    order, the lock is free, and the log verifies."""
    session = tmp_path / "session"
    command = (f"{shlex.quote(str(COCKPIT))} run {shlex.quote(str(PHASE_ONE))} --sim --speed 2 "
               f"--sim-fault alb-blocked=oms-app-1 --session {shlex.quote(str(session))}")
    tmux("new-session", "-d", "-s", "hup", "-x", "120", "-y", "40", f"{command}; sleep 60")
    eventually(lambda: tmux.capture("hup"), lambda s: apps_pane_live(s, ["oms-app-1"]),
               within=60, what="the driver's panes")
    tmux("send-keys", "-t", "hup", "g")  # the plan opens on a manual step: confirm it
    eventually(lambda: tmux.capture("hup"), lambda s: "MANUAL STEP" in s, within=10,
               what="the manual step's prompt after g")
    tmux("send-keys", "-t", "hup", "-l", "bridge told")
    tmux("send-keys", "-t", "hup", "Enter")
    eventually(lambda: [e.event for e in log_entries(session)],
               lambda ev: ev.count("step.succeeded") >= 1, within=30, what="the manual step done")
    steps = ["instances-running", "apps-healthy", "register-targets"]
    for done, step in enumerate(steps, start=2):  # each to its end, one by one
        # `g` once the screen shows the step ready: the log has the last one's end a moment
        # before the screen does, and a `g` in between is refused as busy.
        shown_ready(tmux, step)
        tmux("send-keys", "-t", "hup", "g")
        eventually(lambda: [e.event for e in log_entries(session)],
                   lambda ev, n=done: ev.count("step.succeeded") >= n, within=30,
                   what=f"step {done} done")
    shown_ready(tmux, "targets-healthy")
    tmux("send-keys", "-t", "hup", "g")  # the wait for healthy targets, which cannot succeed
    eventually(lambda: [(e.event, e.step) for e in log_entries(session)],
               lambda ev: ("step.started", "targets-healthy") in ev, within=30,
               what="targets-healthy started")
    pid = tmux("display-message", "-p", "-t", "hup", "#{pane_pid}").strip()
    driver = subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
    assert driver, "the cockpit process under the pane's shell"
    subprocess.run(["kill", "-HUP", *driver], check=True)
    events = eventually(lambda: [(e.event, e.step) for e in log_entries(session)],
                        lambda ev: bool(ev) and ev[-1][0] == "session.closed", within=30,
                        what="the session closed after the hang-up")
    tail = [event for event, _ in events[-4:]]
    assert tail == ["step.failed", "session.interrupted", "session.hangup",
                    "session.closed"], events[-5:]
    assert events[-4][1] == events[-3][1] == "targets-healthy"
    # The record is closed first, the lock released just after: wait for that, not a race.
    eventually(lambda: (session / "lock").read_text(), lambda text: text == "", within=10,
               what="the lock released after the session closed")
    verified = subprocess.run([str(COCKPIT), "audit", "verify", str(session / "audit.jsonl")],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout
