"""The load balancers' HTTP side: each listener answers on its load balancer's loopback
address and hands every request to one of its targets, as an ALB does.

A listener forwards the request (path, Host, method) to the next of the targets it may use
now, round-robin, and returns that target's status and body. Which targets those are is not
this module's say: for an ALB, the sim's own health checker's (`GroupHealth.routable`); for
the datacentre's load balancer, its app servers' health. With none, the ALB answers for
itself, with the page a real ALB sends (503 Service Temporarily Unavailable); a target it
cannot reach is a 504, one that drops the line a 502. With `alb-5xx=<percent>` that share
of the requests fails at the ALB (502), evenly spread, as its CloudWatch count says.

Real listener ports (80, 81...) need root: each listener binds a port the kernel picks on
its load balancer's own loopback address (127.0.1.n; 127.0.0.1 where the system routes no
other loopback address to itself, as macOS does not), and the estate's endpoints say where
a URL's address and port really answer.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from cockpit.estate.tls import tls_context

# The pages an ALB answers with when it has no target to give a request to, or the target
# failed it: status line, title and body as AWS sends them.
PAGES = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}
ALB_SERVER = "awselb/2.0"
# What a listener passes on from the target's answer (hop-by-hop headers are its own).
RELAYED = ("content-type", "cache-control", "location", "set-cookie")


@dataclass(frozen=True)
class Target:
    """A target a listener may hand a request to; `address` None: it cannot reach it."""

    name: str
    address: tuple[str, int] | None


# The targets a request may go to now, in a stable order (round-robin walks it).
Pool = Callable[[], list[Target]]


class FailShare:
    """Every request of a share fails, spread evenly: request n fails when n x percent
    crosses another hundred (5%: the 20th, the 40th...)."""

    def __init__(self, percent: float) -> None:
        self.percent = percent
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def fails_now(self) -> bool:
        if self.percent <= 0:
            return False
        with self._lock:
            n = next(self._count)
        return int(n * self.percent / 100) > int((n - 1) * self.percent / 100)


class Listener:
    """One listener: an HTTP server on `address` (a port the kernel picks) standing for
    `port` there, forwarding to `pool`'s targets; `timeout_s` is how long it waits for one."""

    def __init__(self, name: str, address: str, port: int, pool: Pool, *,
                 timeout_s: float, fail: FailShare | None = None,
                 server_header: str = ALB_SERVER) -> None:
        self.name, self.address, self.port, self.pool = name, address, port, pool
        self.fail = fail or FailShare(0.0)
        self.server_header = server_header
        # The process's one TLS context: each client would load the CA bundle again (50 ms
        # of the estate's start a listener), though a target is reached over plain HTTP.
        self.client = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
                                   trust_env=False, follow_redirects=False,
                                   verify=tls_context())
        self._turn = itertools.count()
        self._lock = threading.Lock()
        handler = type("Handler", (_ListenerHandler,), {"listener": self})
        try:
            self._httpd = ThreadingHTTPServer((address, 0), handler)
        except OSError:  # no such address here: the endpoints map it to 127.0.0.1
            self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"sim-listener-{name}-{port}")

    @property
    def bound(self) -> tuple[str, int]:
        """Where it really listens."""
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def stands_for(self) -> str:
        """The address and port a URL names to reach it (`127.0.1.1:80`)."""
        return f"{self.address}:{self.port}"

    def next_target(self) -> Target | None:
        targets = self.pool()
        if not targets:
            return None
        with self._lock:
            turn = next(self._turn)
        return targets[turn % len(targets)]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # shutdown() waits for serve_forever to see it: on a server a start cut short
        # never got to serve, it would wait forever.
        if self._thread.ident is not None:
            self._httpd.shutdown()
        self._httpd.server_close()
        self.client.close()


class _ListenerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else keep-alive answers wait on a delayed ACK
    listener: Listener

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._forward()

    def do_HEAD(self) -> None:  # noqa: N802
        self._forward()

    def _forward(self) -> None:
        if self.listener.fail.fails_now():
            self._page(502)
            return
        target = self.listener.next_target()
        if target is None:
            self._page(503)
        elif target.address is None:
            self._page(504)  # its security group lets nothing in: the connection times out
        else:
            self._relay(target.address)

    def _relay(self, address: tuple[str, int]) -> None:
        host, port = address
        headers = {"Host": self.headers.get("Host", ""),
                   "X-Forwarded-For": self.client_address[0],
                   "X-Forwarded-Proto": "http", "X-Forwarded-Port": str(self.listener.port)}
        try:
            answer = self.listener.client.request(self.command, f"http://{host}:{port}{self.path}",
                                                  headers=headers)
        except httpx.TimeoutException:
            self._page(504)
            return
        except httpx.HTTPError:  # refused, or the line dropped without an answer
            self._page(502)
            return
        kept = {k: v for k, v in answer.headers.items() if k.lower() in RELAYED}
        self._send(answer.status_code, answer.reason_phrase, kept, answer.content)

    def _page(self, status: int) -> None:
        title = f"{status} {PAGES[status]}"
        page = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
                f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n").encode()
        self._send(status, PAGES[status], {"Content-Type": "text/html"}, page)

    def _send(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status, reason)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def version_string(self) -> str:
        return self.listener.server_header

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the cockpit's screen is not a web server's log."""
