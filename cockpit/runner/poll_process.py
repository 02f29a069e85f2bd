"""The panes polled in a process of their own, so the screen's keys never wait for a poll.

In the driver's process the poller's threads (botocore's XML, h11, dnspython, the rows laid
out) took turns with the screen for one interpreter: with every pane polled each second a
key press waited 45-57 ms for its frame at p99, and 15 ms with the polling paused. Here a
child process runs the same `PanePoller`, on a read-only handle of its own (a poll only
reads), and each view it builds comes back over a socket, where the driver settles it as it
settled its own: recorded, published to `state.json`, shown. What the child needs of the
driver is sent when it changes: each pane's interval now, and the run state (the DNS pane
reads which switch has been made).

The child ends when its socket closes, so a driver killed outright leaves no poller
behind; it runs in a session of its own, so the terminal's Ctrl-C and hang-up reach only
the driver, which acts on them and then closes it. A child that dies is said in
`problem`, and the panes go on being polled in the driver's process.
"""

from __future__ import annotations

import pickle
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Hashable
from multiprocessing.connection import Connection
from typing import Any

from cockpit.estate.handle import Endpoints, EstateHandle
from cockpit.plan.models import Estate, Plan
from cockpit.runner.panes import PANES, PaneView
from cockpit.runner.poller import RECHECK_S, Cadence, PanePoller, interval_now
from cockpit.runner.state import RunState

CLOSE_WAIT_S = 5.0  # a child that does not end on its own by then is killed


def can_poll_apart(endpoints: Endpoints) -> bool:
    """A child can reach this estate only through what a socket carries: addresses and
    credentials, not the connections of a simulated estate living in this process."""
    try:
        pickle.dumps(endpoints)
    except Exception:  # any object of this process's own (a lock, a socket) refuses
        return False
    return True


class PollProcess:
    """A child process that polls the panes; `open` gives it the estate, `close` ends it
    (idempotent).

    The child imports and reads ahead first (1.5 s of CPU), then says it is `ready`; the
    screen's panes are polled in the driver's process until then. `open` gives it the
    estate: `on_view` settles each view in this process (from the reader's thread,
    quickly), `persist` writes what was settled once no more views wait to be read, and
    `in_process` makes the poller that takes over if the child dies."""

    def __init__(self) -> None:
        self.took_s: dict[str, float] = {}
        self.polled: dict[str, int] = dict.fromkeys(PANES, 0)
        self.write_problem: str | None = None
        self.problem: str | None = None  # why the child is gone, once it is
        self._fallback: PanePoller | None = None
        self._cadence: Cadence | None = None
        self._closed = threading.Event()
        self._send_lock = threading.Lock()
        ours, theirs = socket.socketpair()
        # A fresh interpreter (never a fork of this threaded one), in a session of its own
        # (the terminal's Ctrl-C and hang-up are the driver's to act on), its output
        # nowhere (the terminal is the screen's).
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(theirs.fileno())], pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        theirs.close()
        self._conn = Connection(ours.detach())  # the connection owns the descriptor now
        self.ready = threading.Event()
        self._when_ready: list[Callable[[], None]] = []
        self._reader = threading.Thread(target=self._read, name="pane-views", daemon=True)
        self._reader.start()

    def open(self, estate: Estate, endpoints: Endpoints, plan: Plan, *,
             run_state: Callable[[], RunState], run_mark: Callable[[], Hashable],
             on_view: Callable[[PaneView], PaneView], persist: Callable[[], None],
             in_process: Callable[[], PanePoller]) -> None:
        self._run_state, self._run_mark = run_state, run_mark
        self._on_view, self._persist, self._in_process = on_view, persist, in_process
        self._send(("open", estate, endpoints, plan, run_state()))

    def when_ready(self, then: Callable[[], None]) -> None:
        """`then()` once the child is ready (at once if it is; from the reader's thread if
        not); never if it dies first."""
        with self._send_lock:
            if not self.ready.is_set():
                self._when_ready.append(then)
                return
        then()

    @property
    def pid(self) -> int:
        return self._process.pid

    def follow(self, cadence: Cadence) -> None:
        """From now on the child polls every pane on `cadence`, asked here every RECHECK_S
        and sent when it changes."""
        self._cadence = cadence
        if self._fallback is not None:
            self._fallback.follow(cadence)
            return
        threading.Thread(target=self._tell, args=(cadence,), name="pane-cadence",
                         daemon=True).start()
        self._send(("follow",))

    def unfollow(self) -> None:
        self._cadence = None
        if self._fallback is not None:
            self._fallback.unfollow()
        else:
            self._send(("unfollow",))

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._send(("close",))
        try:
            self._process.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(CLOSE_WAIT_S)
        self._conn.close()
        self._reader.join(CLOSE_WAIT_S)
        if self._fallback is not None:
            self._fallback.close()

    # --- this process's side --------------------------------------------------------------

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            try:
                self._conn.send(message)
            except (OSError, ValueError):  # the child is gone: `_read` takes it from there
                pass

    def _tell(self, cadence: Cadence) -> None:
        """While `cadence` is followed: every pane's interval and the run state, sent when
        they change (the screen's cadence is asked here, never from the child)."""
        intervals: dict[str, float | None] | None = None
        mark: Hashable = object()
        while self._cadence is cadence and not self._closed.is_set():
            try:
                now_mark = self._run_mark()
                if now_mark != mark:
                    self._send(("run", self._run_state()))
                    mark = now_mark
            except Exception:  # asked again in RECHECK_S; the DNS pane's last run stands
                pass
            now = {pane: interval_now(cadence, pane) for pane in PANES}
            if now != intervals:
                intervals = now
                self._send(("cadence", now))
            if self._closed.wait(RECHECK_S):
                return

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "view":
                self._settle(message[1], message[2])
            elif message[0] == "ready":
                self._now_ready()
        if not self._closed.is_set():
            self._take_over()

    def _now_ready(self) -> None:
        with self._send_lock:
            self.ready.set()
            waiting, self._when_ready = self._when_ready, []
        for then in waiting:
            then()

    def _settle(self, view: PaneView, took_s: float | None) -> None:
        if took_s is not None:
            self.took_s[view.pane] = took_s
        self.polled[view.pane] = self.polled.get(view.pane, 0) + 1
        try:
            self._on_view(view)
            if self._conn.poll():  # more views waiting: one write covers them all
                return
        except Exception:  # one view's fault, or the socket closed meanwhile (the next read
            return  # ends): as in a poll in this process, never the end of the panes
        try:
            self._persist()
        except OSError as exc:
            self.write_problem = f"{type(exc).__name__}: {exc}"
        else:
            self.write_problem = None

    def _take_over(self) -> None:
        """The child died: say so, and poll from this process from now on."""
        try:
            code: int | None = self._process.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            code = None
        self.problem = (f"the panes' poller process ended (exit code {code}); "
                        "the panes are polled in the driver's process")
        self._fallback = self._in_process()
        if self._cadence is not None:
            self._fallback.follow(self._cadence)


# --- the child -----------------------------------------------------------------------------


def serve_polls(conn: Connection) -> None:
    """The child's life: ready itself, then poll as the driver says until the socket closes
    or says close."""
    _read_ahead()
    conn.send(("ready",))
    try:
        message = conn.recv()
    except (EOFError, OSError):
        return  # the driver went before it opened an estate
    if message[0] != "open":
        return
    estate, endpoints, plan, run = message[1:]
    told: dict[str, Any] = {"cadence": {}, "run": run}
    handle = EstateHandle(estate, endpoints, read_only=True)
    sending = threading.Lock()
    poller: PanePoller | None = None

    def send_view(view: PaneView) -> PaneView:
        took = poller.took_s.get(view.pane) if poller is not None else None
        with sending:
            conn.send(("view", view, took))
        return view

    poller = PanePoller(handle, plan, lambda: told["run"], send_view, persist=lambda: None)
    try:
        _obey(conn, poller, told)
    finally:
        poller.close()
        handle.close()


def _read_ahead() -> None:
    """What the first poll would read, read before the child says it is ready: the AWS
    service models, and httpx's transport."""
    from cockpit.estate import http, service_models

    service_models.read_ahead()
    http.read_ahead()


def _obey(conn: Connection, poller: PanePoller, told: dict[str, Any]) -> None:
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the driver is gone
        kind = message[0]
        if kind == "close":
            return
        if kind == "follow":
            poller.follow(lambda pane: told["cadence"].get(pane))
        elif kind == "unfollow":
            poller.unfollow()
        elif kind in ("cadence", "run"):
            told[kind] = message[1]


if __name__ == "__main__":
    serve_polls(Connection(int(sys.argv[1])))
