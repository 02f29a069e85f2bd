"""The app servers as loopback HTTP servers: the datacentre pair and the EC2 pair.

Each answers `/health` with its version and whether it reaches its database, as the OMS
health endpoint does. An AWS server whose EC2 instance is not running does not answer.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import h11

from cockpit.sim.server_loop import ServerLoop

APP_VERSION = "4.12.3"
HANG_S = 30.0
RECEIVE_BYTES = 65536


@dataclass
class AppServerState:
    server: str
    site: str
    is_running: Callable[[], bool]
    is_down: Callable[[], bool]
    database: Callable[[], str]
    hangs: Callable[[], bool] = lambda: False

    def healthy(self) -> bool:
        """Whether its health endpoint would answer 200 now, as a load balancer's monitor
        finds it."""
        return self.is_running() and not self.is_down() and not self.hangs() \
            and self.database() == "ok"


class AppServer:
    """One app server on 127.0.0.1, on a port of its own, served by the sim's server loop
    (HTTP/1.1 with keep-alive, by h11)."""

    def __init__(self, state: AppServerState, loop: ServerLoop) -> None:
        self.state = state
        self._loop = loop
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}/health"

    def start(self) -> None:
        self._server = self._loop.run(self._listen())

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, sock=self._sock)

    def stop(self) -> None:
        """Stops listening; connections still open end with the loop."""
        if self._server is not None:
            self._loop.call(self._server.close)
        else:  # never served: only its socket to close
            self._sock.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # No Nagle to turn off: asyncio sets TCP_NODELAY on every TCP transport itself.
        conn = h11.Connection(h11.SERVER)
        try:
            while await self._one_exchange(conn, reader, writer):
                conn.start_next_cycle()
        except (h11.ProtocolError, ConnectionError):
            pass  # a client that sent nonsense or went away: its connection ends
        except asyncio.CancelledError:
            pass  # the sim stopping: ended quietly (asyncio logs a cancelled connection)
        finally:
            writer.close()

    async def _one_exchange(self, conn: h11.Connection, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> bool:
        """Answer one request; whether the connection stays open for another."""
        request = await _next_request(conn, reader)
        if request is None:
            return False
        if self.state.hangs():
            await asyncio.sleep(HANG_S)  # longer than any health check's timeout
        if not self.state.is_running():
            return False  # a stopped instance does not answer: the client sees a dropped line
        status, body = self._answer(request)
        payload = json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        response = h11.Response(status_code=status, headers=headers,
                                reason=HTTPStatus(status).phrase.encode())
        writer.write(b"".join(conn.send(event) or b"" for event in
                              (response, h11.Data(data=payload), h11.EndOfMessage())))
        await writer.drain()
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE

    def _answer(self, request: h11.Request) -> tuple[int, dict[str, Any]]:
        if request.method != b"GET":
            return 501, {"error": "unsupported method"}
        if request.target.split(b"?")[0] != b"/health":
            return 404, {"error": "not found"}
        if self.state.is_down():
            return 503, {"status": "failing", "server": self.state.server,
                         "version": APP_VERSION, "database": "unreachable"}
        database = self.state.database()
        status = 200 if database == "ok" else 503
        return status, {"status": "ok" if status == 200 else "failing",
                        "server": self.state.server, "version": APP_VERSION,
                        "database": database}


async def _next_request(conn: h11.Connection, reader: asyncio.StreamReader
                        ) -> h11.Request | None:
    """The next request, read to its end (a health check has no body); None when the
    client closed the connection."""
    request = None
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(RECEIVE_BYTES))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.EndOfMessage):
            return request
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None
