"""Ending a process that holds a session when it is told to stop or loses its terminal.

A driver holds a session folder's lock, writes its audit log and may run the simulated
estate in-process. Whatever stops it (SIGTERM, SIGINT, SIGHUP when the SSH line drops, a
terminal that is simply gone), the session ends on the record without waiting on the
terminal: the running step cancelled and its end written, `session.hangup` after a
hang-up, `session.closed`, the lock released, the estate stopped; the screen, which may be
stuck on a terminal that is gone, is given a few seconds after that, and no more:

- a signal is a byte on a pipe: written by Python's C-level handler itself (the pipe is
  the wakeup fd), in whichever thread the kernel picked, so it arrives even while the main
  thread is stuck inside Textual on a terminal that is gone (how a driver once hung for 24
  minutes), or idle in a select() that the signal did not interrupt; the Python-level
  handler writes it too, and takes no lock and waits on nothing;
- the `cockpit-stop` thread reads the pipe, cancels the running step, asks the screen to
  end (without waiting for it: a step's worker waiting on a question gives up then), and
  closes the session (`DriverOpening.close`, serialised with the step's appends and with
  the screen's own close);
- a watchdog ends the process with `os._exit(EXIT_STUCK)` when it has not ended
  `SCREEN_BOUND_S` after the session closed (or `CLOSE_BOUND_S` after the stop began, if
  closing itself never finishes: the kernel then frees the lock, and the next opening
  finds the step interrupted, as after any crash).
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
# Not a signal: the terminal went without one (poll says it hung up, or a write to it failed).
TERMINAL_LOST = 0xFF
_WAKE = 0  # written at uninstall: the stop thread returns

EXIT_STUCK = 3  # the session was closed on the record, but the process would not end by itself
SCREEN_BOUND_S = 3.0  # after the session closed: what the screen gets to restore the terminal
CLOSE_BOUND_S = 45.0  # a running step gets 30 s to end (Runner.close), then the estate stops


@dataclass(frozen=True)
class StopReason:
    """What stopped the process: a signal's number, or TERMINAL_LOST."""

    code: int

    @property
    def hangup(self) -> bool:
        return self.code in (signal.SIGHUP, TERMINAL_LOST)

    @property
    def name(self) -> str:
        if self.code == TERMINAL_LOST:
            return "terminal lost"
        return signal.Signals(self.code).name

    @property
    def exit_code(self) -> int:
        """128 + the signal, as a shell reports a process a signal ended."""
        return 128 + (signal.SIGHUP if self.code == TERMINAL_LOST else self.code)


class Stopped(Exception):
    """Raised in the main thread, between steps, once a stop has begun."""

    def __init__(self, reason: StopReason) -> None:
        super().__init__(f"stopped by {reason.name}")
        self.reason = reason


class Stoppable(Protocol):
    """A session being opened or driven (`DriverOpening`): what a stop needs of it."""

    def cancel(self, *, hangup: bool, stopped_by: str | None = None) -> None:
        """Stop waiting: the running step ends (cancelled), on the record."""

    def close(self) -> None:
        """Close what was opened, on the record; blocks (bounded). A second caller waits
        for the first to finish."""


class Stop:
    """The signals that stop a process holding a session, and the thread that stops it.

    `then` runs on the stop thread once the step is cancelled, before the session closes:
    it must not block (ask the screen to exit; do not wait for it). `in_handler` runs
    inside the signal handler, in the main thread: only what cannot block belongs there.
    """

    def __init__(self, target: Stoppable, *, then: Callable[[], None] | None = None,
                 in_handler: Callable[[int], None] | None = None,
                 screen_bound_s: float = SCREEN_BOUND_S, close_bound_s: float = CLOSE_BOUND_S,
                 hard_exit: Callable[[int], Any] = os._exit) -> None:
        self._target, self._then, self._in_handler = target, then, in_handler
        self._screen_bound_s, self._close_bound_s = screen_bound_s, close_bound_s
        self._hard_exit = hard_exit
        self.reason: StopReason | None = None
        self.error: BaseException | None = None  # what closing raised, if it did
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._previous: dict[int, Any] = {}
        self._previous_wakeup: int | None = None
        self._interruptible = False
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cockpit-stop", daemon=True)

    # --- the signal side: nothing here takes a lock or waits ------------------------------

    def notify(self, code: int) -> None:
        """Ask for a stop, from a signal handler or any thread."""
        with suppress(OSError):  # a full pipe: the stop thread has been asked already
            os.write(self._write_fd, bytes([code]))

    def terminal_lost(self) -> None:
        self.notify(TERMINAL_LOST)

    def _handle(self, signum: int, frame: object) -> None:
        self.notify(signum)
        if self._in_handler is not None:
            self._in_handler(signum)
        if self._interruptible:  # a prompt waiting on the terminal gives up
            raise KeyboardInterrupt

    # --- installing (main thread only) ------------------------------------------------------

    def install(self) -> None:
        """The handlers and the wakeup fd (only the main thread may set them), and the stop
        thread."""
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                if signal.getsignal(signum) == signal.SIG_IGN:
                    continue  # ignored when we started (nohup, a background job): it stays so
                self._previous[signum] = signal.signal(signum, self._handle)
            self._previous_wakeup = signal.set_wakeup_fd(self._write_fd,
                                                         warn_on_full_buffer=False)
        self._thread.start()

    def uninstall(self) -> None:
        """Put the previous handlers back. A stop under way goes on: its watchdog too."""
        if self._previous_wakeup is not None:
            signal.set_wakeup_fd(self._previous_wakeup)
            self._previous_wakeup = None
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        self.notify(_WAKE)

    def __enter__(self) -> Stop:
        self.install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """While inside, a stop signal also raises KeyboardInterrupt in the main thread: a
        prompt blocked on the terminal gives up rather than holding the step open."""
        self._interruptible = True
        try:
            if self.reason is not None:
                raise KeyboardInterrupt
            yield
        finally:
            self._interruptible = False

    def checked(self, report: Callable[[T], None]) -> Callable[[T], None]:
        """`report`, then Stopped once a stop has begun: a loop of steps calls this between
        steps, so no step starts after the stop. A report that fails because the terminal
        went with the stop does not hide the stop."""

        def call(value: T) -> None:
            try:
                report(value)
            except OSError:
                if self.reason is None:
                    raise
            if self.reason is not None:
                raise Stopped(self.reason)

        return call

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self._closed.wait(timeout)

    # --- the stop thread --------------------------------------------------------------------

    def _run(self) -> None:
        code = self._read()
        while code not in (None, _WAKE, TERMINAL_LOST, *STOP_SIGNALS):
            code = self._read()  # another handled signal (SIGWINCH, SIGCONT): not a stop
        if code is None or code == _WAKE:
            return  # the pipe stays open: a late notify must not write into a reused fd
        reason = self.reason = StopReason(code)
        threading.Thread(target=self._watch, name="cockpit-watchdog", daemon=True).start()
        try:
            for then in (lambda: self._target.cancel(hangup=reason.hangup,
                                                     stopped_by=reason.name),
                         self._then, self._target.close):
                if then is None:
                    continue
                try:
                    then()
                except Exception as exc:  # kept for the CLI to say; the next one still runs
                    self.error = self.error or exc
        finally:
            self._closed.set()

    def _read(self) -> int | None:
        while True:
            try:
                data = os.read(self._read_fd, 1)
            except InterruptedError:
                continue
            except OSError:
                return None
            return data[0] if data else None

    def _watch(self) -> None:
        """The bound on the whole stop: the session closed within CLOSE_BOUND_S, then the
        process gone within SCREEN_BOUND_S, or it is ended here."""
        self._closed.wait(self._close_bound_s)
        if not self._closed.is_set():
            self._hard_exit(EXIT_STUCK)
            return
        threading.Event().wait(self._screen_bound_s)  # the process normally ends before this
        self._hard_exit(EXIT_STUCK)


class TerminalWatch:
    """Notices a terminal that is gone although no SIGHUP came (the process is not in the
    terminal's session, a SIGHUP was lost): poll says hang-up or error on its descriptors.
    Polled with no events asked for, so it never takes input from the screen."""

    LOST = select.POLLHUP | select.POLLERR

    def __init__(self, lost: Callable[[], None], *, every_s: float = 0.5) -> None:
        self._lost, self._every_ms = lost, int(every_s * 1000)
        self._done = threading.Event()
        self._fds = sorted({fd for fd in _std_fds() if _is_terminal(fd)})
        self._thread = threading.Thread(target=self._run, name="cockpit-terminal", daemon=True)

    def start(self) -> None:
        if self._fds:
            self._thread.start()

    def stop(self) -> None:
        self._done.set()

    def __enter__(self) -> TerminalWatch:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        poller = select.poll()
        for fd in self._fds:
            poller.register(fd, 0)
        while not self._done.is_set():
            try:
                ready = poller.poll(self._every_ms)
            except InterruptedError:
                continue
            if any(events & self.LOST for _, events in ready):
                if not self._done.is_set():
                    self._lost()
                return
            if any(events & select.POLLNVAL for _, events in ready):
                return  # a descriptor was closed under us: nothing left to watch


def _std_fds() -> list[int]:
    fds = []
    for stream in (sys.__stdin__, sys.__stdout__, sys.__stderr__):
        with suppress(AttributeError, ValueError, OSError):
            if stream is not None:
                fds.append(stream.fileno())
    return fds


def _is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
