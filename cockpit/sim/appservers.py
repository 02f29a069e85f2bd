"""The app servers as loopback HTTP servers: the datacentre pair and the EC2 pair.

Each answers `/health` with its version and whether it reaches its database, as the OMS
health endpoint does. An AWS server whose EC2 instance is not running does not answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

APP_VERSION = "4.12.3"
HANG_S = 30.0


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


class _HealthHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without it, keep-alive responses wait ~40 ms for a delayed ACK (Nagle).
    disable_nagle_algorithm = True
    state: AppServerState

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.state.hangs():
            time.sleep(HANG_S)  # longer than any health check's timeout
        if not self.state.is_running():
            self.close_connection = True
            return  # a stopped instance does not answer: the client sees a dropped line
        if self.path.split("?")[0] != "/health":
            self._send(404, {"error": "not found"})
        elif self.state.is_down():
            self._send(503, {"status": "failing", "server": self.state.server,
                             "version": APP_VERSION, "database": "unreachable"})
        else:
            database = self.state.database()
            status = 200 if database == "ok" else 503
            self._send(status, {"status": "ok" if status == 200 else "failing",
                                "server": self.state.server, "version": APP_VERSION,
                                "database": database})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the cockpit's screen is not a web server's log."""


class AppServer:
    """One app server on 127.0.0.1, on a port of its own."""

    def __init__(self, state: AppServerState) -> None:
        handler = type("Handler", (_HealthHandler,), {"state": state})
        self.state = state
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"sim-app-{state.server}")

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}/health"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # shutdown() waits for serve_forever to see it: on a server a start cut short
        # never got to serve, it would wait forever.
        if self._thread.ident is not None:
            self._httpd.shutdown()
        self._httpd.server_close()
