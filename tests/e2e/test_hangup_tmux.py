"""The SSH session ends under a driver: its tmux server is killed at a random moment, on a
busy machine, twenty times. Each time the cockpit must be gone within 10 s, and a session it
opened must end with `session.hangup` and `session.closed`, verify, and leave no lock holder;
the estate it served for the demo must end too.

A driver once lost its terminal this way and hung for 24 minutes, holding the lock, its
main thread inside Textual's shutdown writing to the terminal that was gone. The moments
are drawn by `random.Random(seed)`; the seed is printed, and `E2E_HANGUP_SEED=<seed>`
replays them.
"""

from __future__ import annotations

import os
import random
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.audit import log_entries
from support.processes import running
from support.waiting import eventually, eventually_timed
from test_ui_tmux import COCKPIT, TMUX, Tmux, apps_pane_live

from cockpit.cli import DEMO_PLAN
from cockpit.plan.loader import load_plan

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (CI installs it)")

ROUNDS = 20
LATEST_KILL_S = 10.0
GONE_WITHIN_S = 10.0
# Two processes that keep both CPUs of a small CI runner busy beside the cockpit; each ends
# by itself after a while, should this test die before it stops them.
BUSY = "import time\nend = time.monotonic() + 420\nwhile time.monotonic() < end:\n    pass\n"


@pytest.fixture
def busy_cpus() -> Iterator[None]:
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait(timeout=30)


@pytest.fixture
def tmux_servers(isolated_from_this_machine: None, tmp_path: Path) -> Iterator[
        Callable[[], Tmux]]:
    """A new private tmux server per round (each round kills its own); any left at the end
    is killed. The cockpits get a temporary folder of the test's own (TMPDIR)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TMUX", "TMUX_PANE", "NO_COLOR", "COLUMNS", "LINES")}
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    servers: list[Tmux] = []

    def new() -> Tmux:
        servers.append(Tmux(f"cockpit-hup-{uuid.uuid4().hex[:10]}", env))
        return servers[-1]

    try:
        yield new
    finally:
        for server in servers:
            server.kill()


def pid_in(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text else None


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def test_a_driver_whose_terminal_is_killed_always_ends(
    tmux_servers: Callable[[], Tmux], busy_cpus: None, tmp_path: Path,
) -> None:
    seed = int(os.environ.get("E2E_HANGUP_SEED") or random.SystemRandom().randrange(2**32))
    print(f"seed {seed} (replay: E2E_HANGUP_SEED={seed})")
    moments = random.Random(seed)
    started = time.monotonic()
    opened = 0
    served: list[int] = []  # the demo's estates, each in a process the cockpit started
    for round_ in range(ROUNDS):
        kill_after = moments.uniform(0.0, LATEST_KILL_S)
        folder = tmp_path / f"round-{round_}"
        folder.mkdir()
        session, pidfile = folder / "session", folder / "pid"
        # `exec`: the pane's shell becomes the cockpit, so its pid is the one written.
        command = (f"echo $$ > {shlex.quote(str(pidfile))}; exec {shlex.quote(str(COCKPIT))} "
                   f"demo --session {shlex.quote(str(session))}")
        tmux = tmux_servers()
        tmux("new-session", "-d", "-s", "cutover", "-x", "120", "-y", "40", command)
        start = time.monotonic()
        pid = eventually(lambda path=pidfile: pid_in(path), lambda p: p is not None,
                         within=10, what="the pane's pid")
        assert pid is not None
        # The stimulus, not a synchronisation: the SSH session ends at this random moment.
        time.sleep(max(0.0, start + kill_after - time.monotonic()))
        served += children(pid)
        tmux.kill()
        _, took = eventually_timed(lambda p=pid: running(p), lambda up: not up,
                                      within=GONE_WITHIN_S,
                                      what=f"round {round_} (seed {seed}): the cockpit (pid "
                                           f"{pid}) gone after its tmux was killed "
                                           f"{kill_after:.2f}s after start")
        entries = log_entries(session) if (session / "audit.jsonl").exists() else []
        said = f"round {round_}: killed at {kill_after:5.2f}s, gone {took:4.2f}s later"
        if not entries:
            print(f"{said}; no session opened")
            continue
        opened += 1
        events = [e.event for e in entries]
        print(f"{said}; log ends {events[-3:]}")
        assert events[-2:] == ["session.hangup", "session.closed"], (seed, round_, events)
        assert events.count("session.opened") == 1 and events.count("session.closed") == 1
        assert (session / "lock").read_text() == "", (seed, round_)
        verified = subprocess.run([str(COCKPIT), "audit", "verify", str(session / "audit.jsonl")],
                                  capture_output=True, text=True, timeout=60)
        assert verified.returncode == 0, (seed, round_, verified.stdout)
    # The cockpit tells its estate to stop and does not wait for it: each ends by itself.
    eventually(lambda: [p for p in served if running(p)], lambda left: not left,
               within=GONE_WITHIN_S, what=f"the {len(served)} served estates gone")
    print(f"{ROUNDS}/{ROUNDS} ended; {opened} had opened a session; "
          f"{time.monotonic() - started:.0f}s in all")


def test_a_demo_driver_killed_outright_takes_its_estate_with_it(
    tmux_servers: Callable[[], Tmux], tmp_path: Path,
) -> None:
    """SIGKILL (or a signal before the driver's handlers are set, which CI once drew in the
    test above) runs none of the driver's own stopping: the demo's estate, started in the
    driver's first second, must still end, not linger for a driver that will not come."""
    session, pidfile = tmp_path / "session", tmp_path / "pid"
    command = (f"echo $$ > {shlex.quote(str(pidfile))}; exec {shlex.quote(str(COCKPIT))} "
               f"demo --session {shlex.quote(str(session))}")
    tmux = tmux_servers()
    tmux("new-session", "-d", "-s", "cutover", "-x", "120", "-y", "40", command)
    pid = eventually(lambda: pid_in(pidfile), lambda p: p is not None, within=10,
                     what="the pane's pid")
    assert pid is not None
    # Once it serves: one still starting also ends when it finds nobody to say so to.
    eventually(lambda: (session / "sim.json").exists(), bool, within=60,
               what="the demo's estate serving (its endpoints file)")
    estate = children(pid)
    assert estate, "the demo's estate is not the driver's child"
    os.kill(pid, signal.SIGKILL)
    eventually(lambda: [p for p in estate if running(p)], lambda left: not left,
               within=GONE_WITHIN_S, what="the demo's estate gone after its driver was killed")


def test_sigterm_at_a_manual_prompt_ends_the_driver_and_gives_the_terminal_back(
    tmux_servers: Callable[[], Tmux], tmp_path: Path,
) -> None:
    """SIGTERM (a kill from another terminal) while the driver asks a manual step's
    question: the step ends on the record, the session is closed, the lock freed, the
    terminal restored, and the exit status is the shell's for SIGTERM (143)."""
    session = tmp_path / "session"
    servers = [s.id for s in load_plan(DEMO_PLAN).estate.app_servers]
    tmux = tmux_servers()
    command = (f"{shlex.quote(str(COCKPIT))} demo --session {shlex.quote(str(session))}; "
               "echo cockpit exited $?; sleep 60")
    tmux("new-session", "-d", "-s", "term", "-x", "120", "-y", "40", command)
    eventually(lambda: tmux.capture("term"), lambda s: apps_pane_live(s, servers), within=60,
               what="the driver's panes")
    tmux("send-keys", "-t", "term", "g")  # the demo opens on a manual step: g asks it
    eventually(lambda: tmux.capture("term"), lambda s: "MANUAL STEP" in s, within=10,
               what="the manual step's prompt after g")
    started = eventually(lambda: [e.step for e in log_entries(session)
                                  if e.event == "step.started"], bool, within=10,
                         what="the manual step started on the record")
    pane = tmux("display-message", "-p", "-t", "term", "#{pane_pid}").strip()
    driver = subprocess.run(["pgrep", "-P", pane], capture_output=True, text=True).stdout.split()
    assert len(driver) == 1, driver
    subprocess.run(["kill", "-TERM", driver[0]], check=True)

    screen = eventually(lambda: tmux.capture("term"), lambda s: "cockpit exited" in s,
                        within=GONE_WITHIN_S, what="the shell's prompt back after SIGTERM")
    assert "cockpit exited 143" in screen, screen
    assert "stopped by SIGTERM; the session is closed" in screen, screen
    assert "MANUAL STEP" not in screen, "the screen was not given back:\n" + screen
    events = [(e.event, e.step) for e in log_entries(session)]
    after = events[events.index(("step.started", started[0])) + 1:]
    # Withdrawn (the question given up: the step is ready again); or, when the screen is
    # already gone as its worker asks (NoActiveAppError), failed and marked interrupted.
    assert after in ([("step.withdrawn", started[0]), ("session.closed", None)],
                     [("step.failed", started[0]), ("session.interrupted", started[0]),
                      ("session.closed", None)]), events
    assert (session / "lock").read_text() == ""
    verified = subprocess.run([str(COCKPIT), "audit", "verify", str(session / "audit.jsonl")],
                              capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout
