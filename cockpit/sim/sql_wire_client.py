"""The client side of the simulated SQL Server over loopback TCP: what a driver in
another process needs to reach a served sim (`sql_wire.py` is the server), and nothing of
the simulator itself, so such a driver loads none of it.

In-process, the sim hands the adapter `SimConnection`s, which cannot cross a process. So
each SQL endpoint of the sim is also served on a TCP port of its own (127.0.0.1, an
ephemeral port: `SqlWireServer`), and a `WireConnection` is the adapter's DB-API
connection to it, with the surface a `SimConnection` offers.

The protocol is frames: a 4-byte big-endian length, then a UTF-8 JSON object.

- On accept the server opens a session (one `SimConnection` per TCP connection, so `USE`
  and session ids behave as in-process) and says `{"hello": "cockpit-sim-sql",
  "version": 1, "server": NAME, "session_id": N, "longest_statement_s": S}`.
- The client sends `{"op": "run", "statement": TEXT, "params": [VALUE...], "timeout": S}`
  (S: the connection's query timeout, 0 for none) and waits,
  for as long as the statement runs (a BACKUP blocks its client as on a real server). The
  answer is `{"rows": [[VALUE...]...], "description": [[...]...] or null}`, or
  `{"error": {"kind": CLASS, "sqlstate": S, "messages": [[NUMBER, LEVEL, STATE, TEXT]...]}}`
  from which the client raises the same `SimSqlError` (number, messages, sqlstate, text).
- `{"op": "close"}`, or closing the socket, ends the session.

A VALUE is JSON's own (null, true, numbers, text) or tagged: `{"$": "datetime", "v":
ISO}`, and likewise date, time, bytes (base64), Decimal (text), UUID and the floats JSON
cannot write; so each comes back with its type.

A session whose client goes away while a statement runs is killed, as SQL Server kills
the session of a broken connection: a BACKUP stops at its next tick, its multipart upload
left behind. A statement that raises `LinkFailure` (the fault `sql-drop-at`) makes the
server drop the connection unanswered. The client turns a connection that cannot be made
or that breaks into SQL Server's communication link failure (SQLSTATE 08S01), in the
words the in-process sim uses; a server that accepts and then never answers times out
(HYT00) after twice its longest statement and a margin, never hangs the client for good.
"""

from __future__ import annotations

import base64
import json
import math
import socket
import struct
import threading
import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from cockpit.sim.sql_cursor import SimCursor
from cockpit.sim.sql_errors import (
    DROPPED,
    REFUSED,
    TIMED_OUT,
    LinkFailure,
    SimSqlError,
    connection_closed,
    link_failure,
    rebuild,
)

PROTOCOL = "cockpit-sim-sql"
VERSION = 1
HOST = "127.0.0.1"
FRAME_LIMIT = 64 * 1024 * 1024
LOGIN_TIMEOUT_S = 10.0
READ_MARGIN_S = 60.0
_HEADER = struct.Struct(">I")

Rows = list[tuple[Any, ...]]


# --- frames ------------------------------------------------------------------------------------


def send_frame(sock: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(body) > FRAME_LIMIT:
        raise ValueError(f"frame of {len(body)} bytes is over the limit of {FRAME_LIMIT}")
    sock.sendall(_HEADER.pack(len(body)) + body)


def recv_frame(sock: socket.socket) -> dict[str, Any] | None:
    """The next frame; None when the peer closed the connection between frames. A
    connection that ends inside a frame raises ConnectionResetError; garbage, ValueError."""
    head = _recv_exactly(sock, _HEADER.size, eof_ok=True)
    if head is None:
        return None
    (length,) = _HEADER.unpack(head)
    if length > FRAME_LIMIT:
        raise ValueError(f"frame of {length} bytes is over the limit of {FRAME_LIMIT}")
    body = _recv_exactly(sock, length, eof_ok=False) or b""
    message = json.loads(body.decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("a frame holds a JSON object")
    return message


def _recv_exactly(sock: socket.socket, size: int, *, eof_ok: bool) -> bytes | None:
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = sock.recv(min(size - got, 1 << 20))
        if not chunk:
            if eof_ok and got == 0:
                return None
            raise ConnectionResetError("the connection ended inside a frame")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# --- values ------------------------------------------------------------------------------------


def encode(value: Any) -> Any:
    """A value as JSON writes it, tagged when JSON has no type of its own for it."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
    if isinstance(value, datetime):  # before date: a datetime is a date
        return {"$": "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {"$": "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {"$": "time", "v": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Decimal):
        return {"$": "decimal", "v": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$": "uuid", "v": str(value)}
    raise TypeError(f"a {type(value).__name__} cannot cross the wire")


_DECODERS: dict[str, Callable[[str], Any]] = {
    "float": float, "datetime": datetime.fromisoformat, "date": date.fromisoformat,
    "time": time.fromisoformat, "bytes": base64.b64decode, "decimal": Decimal,
    "uuid": uuid.UUID,
}


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        return _DECODERS[str(value["$"])](str(value["v"]))
    return value


# A description's type_code is a Python type (pyodbc's are): sent by name.
_TYPES: dict[str, type] = {t.__name__: t for t in (
    int, float, str, bytes, bool, datetime, date, time, Decimal, uuid.UUID)}


def encode_description(description: Any) -> Any:
    if description is None:
        return None
    return [[column[0], getattr(column[1], "__name__", None),
             *(encode(item) for item in column[2:])] for column in description]


def decode_description(description: Any) -> Any:
    if description is None:
        return None
    return tuple((column[0], _TYPES.get(column[1]) if column[1] else None,
                  *(decode(item) for item in column[2:])) for column in description)


def encode_error(error: SimSqlError) -> dict[str, Any]:
    return {"kind": type(error).__name__, "sqlstate": error.args[0],
            "messages": [list(message) for message in error.messages]}


def decode_error(error: dict[str, Any]) -> SimSqlError:
    messages = [(int(n), int(level), int(state), str(text))
                for n, level, state, text in error["messages"]]
    return rebuild(messages, str(error["sqlstate"]), str(error.get("kind", "")))


# --- the client --------------------------------------------------------------------------------


class WireConnection:
    """What `SimConnection` offers the adapter, to a `SqlWireServer` in another process."""

    def __init__(self, host: str, port: int, *, login_timeout: float = LOGIN_TIMEOUT_S,
                 read_timeout: float | None = None) -> None:
        self.autocommit = True
        self.timeout = 0
        self._where = f"{host}:{port}"
        self._lock = threading.Lock()
        self._closed = False
        self._sock = self._login(host, port, login_timeout)
        try:
            hello = self._hello()
        except BaseException:
            self._sock.close()
            raise
        self.server_name = str(hello.get("server", ""))
        self.session_id = int(hello.get("session_id", 0))
        longest = float(hello.get("longest_statement_s", 0.0))
        self.read_timeout = read_timeout if read_timeout is not None else \
            2 * longest + READ_MARGIN_S
        self._sock.settimeout(self.read_timeout)

    def _login(self, host: str, port: int, timeout: float) -> socket.socket:
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except ConnectionRefusedError:
            raise link_failure(REFUSED, "No connection could be made because the target "
                                        f"machine actively refused it ({self._where})") from None
        except TimeoutError:
            raise self._timed_out() from None
        except OSError as exc:
            raise link_failure(DROPPED, f"{exc.strerror or exc} ({self._where})") from None
        with suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _hello(self) -> dict[str, Any]:
        try:
            hello = recv_frame(self._sock)
        except TimeoutError:
            raise self._timed_out() from None
        except (OSError, ValueError) as exc:
            raise link_failure(DROPPED, f"{exc} ({self._where})") from None
        if hello is None:
            raise link_failure()
        if hello.get("hello") != PROTOCOL or hello.get("version") != VERSION:
            raise SimSqlError(0, f"{self._where} is not a simulated SQL Server of protocol "
                                 f"{PROTOCOL} {VERSION}", level=20, sqlstate="08001")
        return hello

    def _timed_out(self) -> LinkFailure:
        return link_failure(TIMED_OUT, "A connection attempt failed because the connected "
                                       "party did not properly respond after a period of time "
                                       f"({self._where})")

    # --- DB-API ----------------------------------------------------------------------------

    def cursor(self) -> WireCursor:
        self._check_open()
        return WireCursor(self)

    def execute(self, statement: str, *params: Any) -> WireCursor:
        return self.cursor().execute(statement, *params)

    def commit(self) -> None:
        """Autocommit: nothing is pending."""

    def rollback(self) -> None:
        """Autocommit: nothing is pending."""

    def close(self) -> None:
        """Close; a statement in flight on another thread ends with a link failure."""
        if self._closed:
            return
        self._closed = True
        if self._lock.acquire(blocking=False):  # nothing in flight: say goodbye, then go
            try:
                with suppress(OSError, ValueError):
                    send_frame(self._sock, {"op": "close"})
                self._sock.close()
            finally:
                self._lock.release()
        else:
            with suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    # --- what a cursor asks of its connection --------------------------------------------

    def run(self, statement: str, params: list[Any]) -> tuple[Rows, Any]:
        """Rows and a description, as `SimConnection.run` answers them, from the server."""
        request = {"op": "run", "statement": statement, "timeout": self.timeout,
                   "params": [encode(value) for value in params]}
        with self._lock:
            self._check_open()
            try:
                send_frame(self._sock, request)
                answer = recv_frame(self._sock)
            except TimeoutError:
                self._abandon()
                raise SimSqlError(0, "Query timeout expired", level=20,
                                  sqlstate="HYT00") from None
            except (OSError, ValueError):
                self._abandon()
                raise link_failure() from None
            if answer is None:
                self._abandon()
                raise link_failure()
        if "error" in answer:
            raise decode_error(answer["error"])
        rows = [tuple(decode(value) for value in row) for row in answer["rows"]]
        return rows, decode_description(answer["description"])

    def _abandon(self) -> None:
        """The link is gone (or its state unknown): the connection with it."""
        self._closed = True
        self._sock.close()

    def _check_open(self) -> None:
        if self._closed:
            raise connection_closed()


class WireCursor(SimCursor):
    """pyodbc's Cursor, as far as the adapter goes, over a `WireConnection`."""

    def __init__(self, connection: WireConnection) -> None:
        super().__init__(connection)

    def execute(self, statement: str, *params: Any) -> WireCursor:
        super().execute(statement, *params)
        return self
