"""The simulated SQL Server over loopback TCP, for a driver in another process: the
server. The protocol, and the client a driver uses, are in `sql_wire_client.py`.

In-process, the sim hands the adapter `SimConnection`s, which cannot cross a process. So
each SQL endpoint of the sim is also served on a TCP port of its own (127.0.0.1, an
ephemeral port: `SqlWireServer`), and a `WireConnection` is the adapter's DB-API
connection to it, with the surface a `SimConnection` offers.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from cockpit.sim.sql_errors import (
    LinkFailure,
    SimSqlError,
    link_failure,
    shutting_down,
)
from cockpit.sim.sql_wire_client import (
    HOST,
    PROTOCOL,
    VERSION,
    decode,
    encode,
    encode_description,
    encode_error,
    recv_frame,
    send_frame,
)
from cockpit.sim.sqlserver import SimConnection, SimSqlServer

_log = logging.getLogger(__name__)


# --- the server --------------------------------------------------------------------------------


class SqlWireServer:
    """One simulated SQL Server on 127.0.0.1, an ephemeral port; a session per connection."""

    def __init__(self, server: SimSqlServer, *, longest_statement_s: float) -> None:
        self.server = server
        self.longest_statement_s = longest_statement_s
        self._listener = socket.create_server((HOST, 0), backlog=64)
        self.address: tuple[str, int] = (HOST, int(self._listener.getsockname()[1]))
        self._stopping = threading.Event()
        self._sessions: set[_WireSession] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True,
                                        name=f"sql-wire-{server.name}")

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop listening; end every session: a running statement ends with the server's
        shutdown error (answered, if it ends within `grace_s`), then the connection goes."""
        self._stopping.set()
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        with suppress(OSError), socket.create_connection(self.address, timeout=1):
            pass  # and anywhere else
        self._thread.join(timeout=grace_s)
        self._listener.close()
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.conn.kill(shutting_down())
        for session in sessions:
            session.idle.wait(grace_s)
        for session in sessions:
            session.hang_up()
        for session in sessions:
            session.join(grace_s)

    @property
    def sessions(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            if self._stopping.is_set():
                sock.close()
                return
            try:
                conn = self.server.connect()
            except Exception:  # the server cannot open a session: this client is refused
                _log.exception("simulated SQL Server: cannot open a session")
                sock.close()
                continue
            session = _WireSession(sock, conn, self.longest_statement_s, self._ended)
            with self._lock:
                self._sessions.add(session)
            session.start()

    def _ended(self, session: _WireSession) -> None:
        with self._lock:
            self._sessions.discard(session)


class _WireSession:
    """One TCP connection, one `SimConnection`. A reader thread takes requests (and sees the
    client go, even mid-statement); an executor thread runs them in order and answers."""

    def __init__(self, sock: socket.socket, conn: SimConnection, longest_statement_s: float,
                 ended: Callable[[_WireSession], None]) -> None:
        self.sock = sock
        self.conn = conn
        self.longest_statement_s = longest_statement_s
        self.idle = threading.Event()
        self.idle.set()
        self._ended = ended
        self._requests: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        name = f"sql-wire-{conn.server.name}-{conn.session_id}"
        self._reader = threading.Thread(target=self._read, daemon=True, name=name)
        self._executor = threading.Thread(target=self._execute, daemon=True, name=f"{name}-x")

    def start(self) -> None:
        self._reader.start()

    def join(self, timeout: float) -> None:
        self._reader.join(timeout)

    def hang_up(self) -> None:
        with suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def _read(self) -> None:
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            send_frame(self.sock, {
                "hello": PROTOCOL, "version": VERSION, "server": self.conn.server.name,
                "session_id": self.conn.session_id,
                "longest_statement_s": self.longest_statement_s})
            self._executor.start()
            while True:
                request = recv_frame(self.sock)
                if request is None or request.get("op") == "close":
                    break
                self.idle.clear()
                self._requests.put(request)
        except (OSError, ValueError):
            pass  # a connection that broke, or spoke nonsense: the session ends either way
        finally:
            # The client is gone: a statement it left running dies with its session.
            self.conn.kill(link_failure())
            self._requests.put(None)
            if self._executor.is_alive():
                self._executor.join()
            self.conn.close()
            self.sock.close()
            self.idle.set()
            self._ended(self)

    def _execute(self) -> None:
        while (request := self._requests.get()) is not None:
            answer = self._answer(request)
            try:
                if answer is None:  # the session was dropped: no answer, the link goes
                    break
                send_frame(self.sock, answer)
            except (OSError, ValueError):
                break
            finally:
                if self._requests.empty():
                    self.idle.set()
        else:
            return
        self.hang_up()  # wakes the reader, which ends the session

    def _answer(self, request: dict[str, Any]) -> dict[str, Any] | None:
        try:
            if request.get("op") != "run":
                raise SimSqlError(0, f"unknown request {request.get('op')!r}",
                                  sqlstate="08P01")
            params = [decode(value) for value in request.get("params") or []]
            self.conn.timeout = int(request.get("timeout") or 0)  # the client's, per statement
            rows, description = self.conn.run(str(request["statement"]), params)
            return {"rows": [[encode(value) for value in row] for row in rows],
                    "description": encode_description(description)}
        except LinkFailure:
            return None
        except SimSqlError as exc:
            return {"error": encode_error(exc)}
        except Exception as exc:  # a fault of the sim itself: said, and the session lives
            _log.exception("simulated SQL Server: a statement failed unexpectedly")
            return {"error": encode_error(SimSqlError(
                0, f"{type(exc).__name__}: {exc}", level=20, sqlstate="HY000"))}
