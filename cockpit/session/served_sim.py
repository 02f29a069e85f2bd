"""The simulated estate of a rehearsal, kept up between the drivers of its session.

A real estate outlives the driver: a cockpit killed during the backup is reopened on an
estate where the backup is in S3, the source fenced and the targets registered. So a
`--sim` session runs its estate as `cockpit sim serve` in a process of its own (its own
process group, so a signal to the driver's group, from `timeout` or a closing terminal,
does not reach it), with its endpoints in the session folder (`sim.json`, 0600). The next
driver of the session finds it there and drives the same estate. It is stopped when the
plan is done; otherwise it stops itself after `[sim] linger_s` without a driver.

This module starts and stops that process; it does not import the simulator.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.session.estate_choice import EstateChoice

ENDPOINTS = "sim.json"
ERRORS = "sim.err"
# The demo's estate starts in seconds; the hundred-times estate (600 app servers, 40
# target groups, 300 names) in about two minutes on a loaded 2-core machine, most of it
# seeding moto one call a resource. A driver told to stop meanwhile stops it (`stop`).
READY_WAIT_S = 600.0
STOP_WAIT_S = 30.0
DRIVER_CHECK_S = 0.25
# A demo's estate, apart from its driver, waits this long for the driver to take the
# session's lock (seconds after the estate answers); it also stops as soon as the driver
# that started it has ended, however it ended (`--driver-pid`).
APART_LINGER_S = 60.0


class ServedSimFailed(RuntimeError):
    """The session's simulated estate could not be started."""


def request_for(choice: EstateChoice, plan_file: Path, session_dir: Path,
                linger_s: float) -> SimRequest | None:
    """What the driver asks of its session's served sim, if its choice serves one: the
    estate of `run --sim` and `rehearse --sim` outlives the driver (it lingers `linger_s`
    once no driver holds the session); the demo's runs apart from the driver only, and is
    stopped with it, and ends by itself once that driver has ended, even killed outright."""
    if not choice.sim or choice.endpoints_file is not None:
        return None
    if choice.lasting:
        return SimRequest(plan_file, session_dir, choice.speed, choice.faults, linger_s)
    if choice.apart:
        return SimRequest(plan_file, session_dir, choice.speed, choice.faults, APART_LINGER_S,
                          tied=True)
    return None


@dataclass(frozen=True)
class SimRequest:
    """What the driver asks of its session's simulated estate."""

    plan_file: Path
    session_dir: Path
    speed: float
    faults: tuple[str, ...]
    linger_s: float
    tied: bool = False  # it ends once this driver process has ended


@dataclass
class ServedSim:
    pid: int
    endpoints: Path
    reused: bool  # another driver of this session started it
    speed: float
    process: subprocess.Popen[bytes] | None = None
    made_folder: bool = False  # the session folder was made for it: gone with it if empty
    _ready: bool = False
    _waited_for: bool = True  # stop() waits until it is gone (not after let_go)
    _keep_errors: bool = True  # what it said is kept (not after discard)

    @classmethod
    def found_at(cls, endpoints: Path) -> ServedSim | None:
        """The served sim whose endpoints file this is, if it still runs."""
        try:
            data = json.loads(endpoints.read_text(encoding="utf-8"))
            pid, speed = int(data["pid"]), float(data.get("speed", 1.0))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        if not _is_served_sim(pid, endpoints):
            return None
        return cls(pid, endpoints, reused=True, speed=speed)

    def wait_ready(self) -> None:
        """Until a sim this driver started answers (once its endpoints file is written);
        one that cannot start is stopped, and ServedSimFailed says why."""
        if self.process is None or self._ready:
            return
        try:
            _wait_ready(self.process, self.endpoints.with_name(ERRORS))
        except BaseException:
            self.stop()  # cut short while starting (a stop, or it failed): nothing used it
            raise
        self._ready = True

    def describe(self) -> str:
        how = "kept from the session's last driver" if self.reused else "served for this session"
        return f"simulated estate up (pid {self.pid}, {how})"

    def let_go(self) -> None:
        """From now on `stop` only tells the sim to stop: the driver is stopping by a
        signal (its SSH session gone, a kill), and its own end must not wait the seconds
        the sim takes to stop its servers. The sim ends by itself; were it stuck, it
        still stops once it has had no driver for its linger."""
        self._waited_for = False

    def stop(self) -> None:
        """SIGTERM (the sim stops its servers and removes its folders), then SIGKILL."""
        if not self._alive():
            self._forget()
            return
        with suppress(ProcessLookupError):  # it ended on its own meanwhile
            os.kill(self.pid, signal.SIGTERM)
        if not self._waited_for:
            return  # its folders are its own to remove as it ends
        if not self._wait_gone(STOP_WAIT_S):
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._wait_gone(STOP_WAIT_S)
        self._forget()

    def discard(self) -> None:
        """Stop a sim started for nothing (its plan did not load in the driver): what it
        said about it is the driver's to say, so neither its errors nor a folder made for
        it are kept."""
        self._keep_errors = False
        self.stop()

    def _forget(self) -> None:
        self.endpoints.unlink(missing_ok=True)
        errors = self.endpoints.with_name(ERRORS)
        with suppress(OSError):
            # kept only when it says something, and it is not the driver's to say
            if not self._keep_errors or errors.stat().st_size == 0:
                errors.unlink()
        if self.made_folder:
            with suppress(OSError):  # not empty: a session was opened in it, and stays
                self.endpoints.parent.rmdir()

    def _alive(self) -> bool:
        if self.process is not None:  # our child: a zombie has no cmdline left to check
            return self.process.poll() is None
        return _is_served_sim(self.pid, self.endpoints)

    def _wait_gone(self, wait_s: float) -> bool:
        if self.process is not None:  # our child: reap it
            try:
                self.process.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                return False
            return True
        return _wait_exit(self.pid, wait_s)


def start_for_session(request: SimRequest) -> ServedSim:
    """The session's served sim: the one its folder names if still up, else a new one
    that is starting (`wait_ready` waits until it answers). Started before the screen's
    imports, it starts on the other core while they run."""
    # Absolute: a driver reopening from another folder must name the same file.
    endpoints = (request.session_dir / ENDPOINTS).absolute()
    running = ServedSim.found_at(endpoints)
    if running is not None:
        return running
    endpoints.unlink(missing_ok=True)  # left by a sim that died: nothing answers there
    return _start(request, endpoints)


def _start(request: SimRequest, endpoints: Path) -> ServedSim:
    made_folder = not request.session_dir.exists()
    request.session_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    command = [sys.executable, "-m", "cockpit", "sim", "serve", str(request.plan_file.absolute()),
               "--endpoints", str(endpoints), "--speed", f"{request.speed:g}",
               "--session", str(request.session_dir), "--linger", f"{request.linger_s:g}"]
    for fault in request.faults:
        command += ["--sim-fault", fault]
    if request.tied:  # a driver killed before its signal handlers are set stops nothing
        command += ["--driver-pid", str(os.getpid())]
    errors = request.session_dir / ERRORS
    fd = os.open(errors, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=stderr, start_new_session=True)
    return ServedSim(process.pid, endpoints, reused=False, speed=request.speed,
                     process=process, made_folder=made_folder)


def stop_when_orphaned(driver_pid: int) -> None:
    """In `sim serve --driver-pid`: SIGTERM to itself once its parent is no longer
    `driver_pid`, the driver having ended and this process been handed to init (a parent
    never becomes that pid again, so a pid reused since cannot fool this). A driver killed
    before its own signal handlers are set, or outright, stops nothing itself. Before the
    sim sets its handlers the signal ends the process; after, it cuts the start short or
    stops the estate, as a stop from the driver would."""

    def watch() -> None:
        while os.getppid() == driver_pid:
            time.sleep(DRIVER_CHECK_S)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="sim-driver-watch", daemon=True).start()


def _wait_ready(process: subprocess.Popen[bytes], errors: Path) -> None:
    """The served sim says one line once its endpoints file is written."""
    assert process.stdout is not None
    with process.stdout as said:
        readable, _, _ = select.select([said], [], [], READY_WAIT_S)
        line = said.readline() if readable else b""
    if line:
        return
    code = process.poll()
    why = _last_lines(errors) or (f"it exited with status {code}" if code is not None
                                  else f"it did not answer within {READY_WAIT_S:.0f} s")
    raise ServedSimFailed(f"the simulated estate did not start: {why}")


def _last_lines(path: Path, count: int = 3) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " / ".join(lines[-count:])


def _is_served_sim(pid: int, endpoints: Path) -> bool:
    """The pid is a live `sim serve` writing this endpoints file: a pid reused since by
    another process is never signalled."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in argv and os.fsencode(str(endpoints)) in argv


def _wait_exit(pid: int, wait_s: float) -> bool:
    """Wait for a process that is not our child to end (a pidfd becomes readable)."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return True  # already gone
    try:
        readable, _, _ = select.select([fd], [], [], wait_s)
        return bool(readable)
    finally:
        os.close(fd)
