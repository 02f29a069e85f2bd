"""A headless rehearsal told to stop (SIGTERM, SIGHUP, SIGINT) ends on the record: the
running step cancelled and its end written, marked interrupted, `session.hangup` after a
SIGHUP, `session.closed`, the lock released, a non-zero status; the session's simulated
estate stays up with what was done to it, and `--interrupted resume` then finishes the
window on it, after which the estate is stopped (its folders removed).

Real `cockpit` processes (a signal to this test's own process would stop pytest), each with
a temporary folder of its own (TMPDIR), so the simulator's folders can be looked for.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import processes
from support.audit import log_entries
from support.plans import PLANS
from support.waiting import eventually

from cockpit.runner.lock import is_held, read_holder
from cockpit.session.served_sim import ENDPOINTS, ServedSim

PHASE_TWO = PLANS / "oms-phase2-simple.toml"
COCKPIT = str(Path(sys.executable).parent / "cockpit")
SIM_FOLDERS = "cockpit-sim-sql-*"
STEP = "drain-apps"  # waits (for the targets to drain): a step mid-way, several seconds long


def _signals_as_from_a_terminal() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def said(self) -> str:
        return self.out.read_text() + self.err.read_text()


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> dict[str, str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def started(tmp_path: Path, tmpdir_env: dict[str, str]) -> Iterator[list[Run]]:
    """The rehearsals a test starts; any still running at its end is killed."""
    runs: list[Run] = []
    yield runs
    for run in runs:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(timeout=30)


def rehearse(tmp_path: Path, env: dict[str, str], runs: list[Run], name: str,
             *options: str) -> Run:
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [COCKPIT, "rehearse", str(PHASE_TWO), "--sim", "--speed", "20",
             "--manual-note", "x", "--session", str(tmp_path / "session"), *options],
            stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,  # a signal to this test's group does not reach it
            # As from a terminal: a runner started in the background (`cmd &`) passes
            # SIGINT on ignored, and the cockpit rightly keeps an ignored signal ignored.
            preexec_fn=_signals_as_from_a_terminal)
    run = Run(process, out, err)
    runs.append(run)
    return run


def open_steps(session: Path) -> list[str]:
    """The steps started in the log that have no end yet."""
    running: list[str] = []
    for entry in log_entries(session) if (session / "audit.jsonl").exists() else []:
        if entry.event == "step.started" and entry.step:
            running.append(entry.step)
        elif entry.event in ("step.succeeded", "step.failed", "step.withdrawn",
                             "step.skipped", "session.interrupted") and entry.step in running:
            running.remove(entry.step)
    return running


def sim_folders(env: dict[str, str]) -> list[str]:
    return sorted(p.name for p in Path(env["TMPDIR"]).glob(SIM_FOLDERS))


def served_pid(session: Path) -> int | None:
    """The pid of the session's simulated estate, while it runs."""
    served = ServedSim.found_at((session / ENDPOINTS).absolute())
    return served.pid if served is not None else None


def succeeded(session: Path) -> list[str]:
    if not (session / "audit.jsonl").exists():
        return []
    return [e.step or "" for e in log_entries(session) if e.event == "step.succeeded"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=lambda s: signal.Signals(s).name)
def test_a_signal_mid_step_closes_the_session_and_resume_finishes(
    tmp_path: Path, tmpdir_env: dict[str, str], started: list[Run], signum: int,
) -> None:
    session = tmp_path / "session"
    run = rehearse(tmp_path, tmpdir_env, started, "stopped")
    eventually(lambda: (open_steps(session), run.process.poll()),
               lambda seen: STEP in seen[0] or seen[1] is not None, within=90,
               what=f"{STEP} started, without an end yet")
    assert run.process.poll() is None, run.said()
    run.process.send_signal(signum)
    code = run.process.wait(timeout=60)  # a running step gets 30 s to end: it needs less

    name = signal.Signals(signum).name
    said = run.said()
    assert code == 128 + signum, said
    assert f"stopped by {name}" in said and "Traceback" not in said, said
    events = [(e.event, e.step) for e in log_entries(session)]
    hangup = [("session.hangup", None)] if signum == signal.SIGHUP else []
    assert events[-3 - len(hangup):] == [
        ("step.failed", STEP), ("session.interrupted", STEP), *hangup,
        ("session.closed", None)], events[-6:]
    failed = log_entries(session)[-2 - len(hangup) - 1]
    assert failed.detail["reason"].startswith("cancelled while waiting"), failed.detail
    assert log_entries(session)[-2 - len(hangup)].detail["stopped_by"] == name
    assert open_steps(session) == []
    assert (session / "lock").read_text() == "" and not is_held(session / "lock")
    estate = served_pid(session)
    assert estate is not None, "the session's simulated estate went with its driver"
    assert "stays up for this session" in said, said
    verified = subprocess.run([COCKPIT, "audit", "verify", str(session / "audit.jsonl")],
                              capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout

    resumed = rehearse(tmp_path, tmpdir_env, started, "resumed", "--interrupted", "resume")
    assert resumed.process.wait(timeout=180) == 0, resumed.said()
    assert f"(pid {estate}, kept from the session's last driver)" in resumed.said()
    assert "every step succeeded" in resumed.said()
    assert log_entries(session)[-1].event == "session.closed"
    assert (session / "lock").read_text() == ""
    # the plan done, its estate is stopped and its folders removed
    assert served_pid(session) is None and not (session / ENDPOINTS).exists()
    assert sim_folders(tmpdir_env) == [], "the simulator's folders were left behind"


def test_a_stop_after_the_backup_resumes_on_the_estate_the_backup_left(
    tmp_path: Path, tmpdir_env: dict[str, str], started: list[Run],
) -> None:
    """What a later step checks (the backup's object in S3, the source fenced) was done by
    the driver that was stopped: the resumed one must find it done, not start afresh."""
    session = tmp_path / "session"
    run = rehearse(tmp_path, tmpdir_env, started, "stopped")
    eventually(lambda: (succeeded(session), run.process.poll()),
               lambda seen: "backup" in seen[0] or seen[1] is not None, within=120,
               what="the backup succeeded")
    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(timeout=60) == 128 + signal.SIGTERM, run.said()
    assert log_entries(session)[-1].event == "session.closed"
    before = succeeded(session)

    resumed = rehearse(tmp_path, tmpdir_env, started, "resumed", "--interrupted", "resume")
    assert resumed.process.wait(timeout=180) == 0, resumed.said()
    assert "every step succeeded" in resumed.said()
    opened = max(e.seq for e in log_entries(session) if e.event == "session.opened")
    again = [e.step for e in log_entries(session)
             if e.seq > opened and e.event == "step.started"]
    assert not set(before) & set(again), f"done before the stop, run again: {again}"
    assert "backup-verified" in before + again


def test_a_signal_while_the_estate_opens_stops_the_simulator(
    tmp_path: Path, tmpdir_env: dict[str, str], started: list[Run],
) -> None:
    """SIGTERM before the session is open: the simulator that was starting is stopped and
    its folder removed; a session, if one was opened by then, is closed."""
    session = tmp_path / "session"
    run = rehearse(tmp_path, tmpdir_env, started, "opening")
    eventually(lambda: (sim_folders(tmpdir_env), run.process.poll()),
               lambda seen: seen[0] or seen[1] is not None, within=60,
               what="the simulator's folder (the estate opening)")
    assert run.process.poll() is None, run.said()
    run.process.send_signal(signal.SIGTERM)
    code = run.process.wait(timeout=60)

    assert code == 128 + signal.SIGTERM, run.said()
    assert "Traceback" not in run.said(), run.said()
    assert sim_folders(tmpdir_env) == []
    if (session / "audit.jsonl").exists() and log_entries(session):
        assert log_entries(session)[-1].event == "session.closed"
    assert not (session / "lock").exists() or (session / "lock").read_text() == ""


def test_sim_serve_stops_on_a_hangup(tmp_path: Path, tmpdir_env: dict[str, str]) -> None:
    """`cockpit sim serve` in a terminal that goes: it stops as on SIGTERM, and cleans up."""
    endpoints = tmp_path / "endpoints.json"
    serving = subprocess.Popen(
        [COCKPIT, "sim", "serve", str(PHASE_TWO), "--endpoints", str(endpoints),
         "--speed", "20"], env=tmpdir_env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        eventually(lambda: (endpoints.exists(), serving.poll()),
                   lambda seen: seen[0] or seen[1] is not None, within=60,
                   what="the sim serving (its endpoints file)")
        assert serving.poll() is None
        serving.send_signal(signal.SIGHUP)
        code = serving.wait(timeout=30)
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait(timeout=30)
    assert code == 0
    assert not endpoints.exists()
    assert sim_folders(tmpdir_env) == []


def test_a_hung_rehearsal_is_named_then_stopped_by_a_take_over_that_finishes_the_window(
    tmp_path: Path, tmpdir_env: dict[str, str], started: list[Run],
) -> None:
    # Suspended mid-step (SIGSTOP): it holds the lock and answers nothing, as a hung driver.
    env = {**tmpdir_env, "COCKPIT_RUNNER__HEARTBEAT_EVERY_S": "0.2",
           "COCKPIT_RUNNER__HUNG_AFTER_S": "1"}
    session = tmp_path / "session"
    hung = rehearse(tmp_path, env, started, "hung")
    eventually(lambda: (open_steps(session), hung.process.poll()),
               lambda seen: STEP in seen[0] or seen[1] is not None, within=90,
               what=f"{STEP} started, without an end yet")
    hung.process.send_signal(signal.SIGSTOP)
    eventually(lambda: read_holder(session / "lock"),
               lambda holder: holder is not None and holder.is_hung(1.0), within=30,
               what="the suspended driver's heartbeat a second old")

    refused = rehearse(tmp_path, env, started, "refused")
    assert refused.process.wait(timeout=120) == 2, refused.said()
    assert f"pid {hung.process.pid}" in refused.said() and "hung" in refused.said()
    assert hung.process.poll() is None

    taking = rehearse(tmp_path, env, started, "taking", "--take-over",
                      "--interrupted", "resume")
    assert hung.process.wait(timeout=60) == 128 + signal.SIGTERM, hung.said()
    assert taking.process.wait(timeout=180) == 0, taking.said()
    assert "was hung" in taking.said() and "every step succeeded" in taking.said()
    entries = log_entries(session)
    taken = [e for e in entries if e.event == "lock.taken_over"]
    assert len(taken) == 1 and taken[0].detail["hung"]["signals"] == ["SIGTERM"]
    stopped = [e.event for e in entries if e.seq < taken[0].seq]
    # the hung driver, let run again by SIGTERM (+SIGCONT), closed its own record first
    assert stopped[-4:] == ["step.failed", "session.interrupted", "session.closed",
                            "session.opened"], stopped[-6:]
    assert entries[-1].event == "session.closed"
    assert (session / "lock").read_text() == ""


@contextmanager
def served_for_session(session: Path, env: dict[str, str],
                       linger_s: float) -> Iterator[subprocess.Popen[bytes]]:
    """`cockpit sim serve` for a session folder, as a `--sim` driver starts it; killed at
    the end if it is still running."""
    serving = subprocess.Popen(
        [COCKPIT, "sim", "serve", str(PHASE_TWO), "--endpoints", str(session / ENDPOINTS),
         "--speed", "20", "--session", str(session), "--linger", f"{linger_s:g}"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True)
    try:
        yield serving
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait(timeout=30)


def test_a_session_estate_with_no_driver_stops_itself_after_its_linger(
    tmp_path: Path, tmpdir_env: dict[str, str],
) -> None:
    """Served for a session nobody reopens, the estate does not run on for ever."""
    session = tmp_path / "session"
    session.mkdir()
    with served_for_session(session, tmpdir_env, linger_s=2) as serving:
        code = serving.wait(timeout=90)  # start-up, then 2 s with no driver
    assert code == 0
    assert not (session / ENDPOINTS).exists()
    assert sim_folders(tmpdir_env) == []


def test_a_session_estate_whose_folder_is_removed_stops_at_once(
    tmp_path: Path, tmpdir_env: dict[str, str],
) -> None:
    """Nobody can come back to a session whose folder is gone: its estate does not linger."""
    session = tmp_path / "session"
    session.mkdir()
    with served_for_session(session, tmpdir_env, linger_s=600) as serving:
        eventually(lambda: ((session / ENDPOINTS).exists(), serving.poll()),
                   lambda seen: seen[0] or seen[1] is not None, within=60,
                   what="the sim serving (its endpoints file)")
        shutil.rmtree(session)
        code = serving.wait(timeout=60)  # far less than the linger
    assert code == 0
    assert sim_folders(tmpdir_env) == []


# A driver in miniature: it starts the estate as the demo's driver does, tied to itself,
# says the estate's pid, and waits to be killed.
TIED_DRIVER = """
import os, subprocess, sys
estate = subprocess.Popen([sys.argv[1], "sim", "serve", sys.argv[2], "--endpoints", sys.argv[3],
                           "--speed", "20", "--driver-pid", str(os.getpid())],
                          stdout=subprocess.DEVNULL, stderr=open(sys.argv[4], "wb"),
                          stdin=subprocess.DEVNULL, start_new_session=True)
print(estate.pid, flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("when", ["starting", "serving"])
def test_an_estate_tied_to_its_driver_stops_once_that_driver_is_killed_outright(
    when: str, tmp_path: Path, tmpdir_env: dict[str, str],
) -> None:
    """`sim serve --driver-pid` (the demo's estate): a driver killed with SIGKILL, or
    before its own signal handlers were set, stops nothing itself; the estate sees it
    gone and stops, whether it was still starting or already serving."""
    endpoints, errors = tmp_path / "endpoints.json", tmp_path / "sim.err"
    driver = subprocess.Popen([sys.executable, "-c", TIED_DRIVER, COCKPIT, str(PHASE_TWO),
                               str(endpoints), str(errors)], env=tmpdir_env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert driver.stdout is not None
    estate = int(driver.stdout.readline())
    try:
        if when == "serving":
            eventually(lambda: (endpoints.exists(), processes.running(estate)),
                       lambda seen: seen[0] or not seen[1], within=60,
                       what="the tied estate serving (its endpoints file)")
            assert endpoints.exists(), errors.read_text()
        driver.kill()
        driver.wait(timeout=30)
        eventually(lambda: processes.running(estate), lambda up: not up, within=30,
                   what=f"the estate ({when} when its driver was killed) gone")
    finally:
        if processes.running(estate):
            os.kill(estate, signal.SIGKILL)
    assert errors.read_text() == ""  # stopped, not refused (an option it did not know)
    assert not endpoints.exists()
    assert sim_folders(tmpdir_env) == []
