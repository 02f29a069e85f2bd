"""The app servers' health checks on one kept connection a server, read by h11 alone.

Through httpx's client a health check cost the poller about 1.2 ms of CPU (the client,
httpcore's connection pool, anyio), where the app servers' pane asks 60 of them a poll at
10x and 600 at 100x, on the interpreter the screen shares. Here each server has one
connection kept open, on an asyncio protocol: the request's bytes are made once, each
answer is read by h11 (the HTTP/1.1 engine httpx itself uses) as it arrives, with no task
or pool in between: about 0.2 ms a check.

Only answers read whole come back this way, and a check that has none by its deadline
comes back in httpx's words for it (`ReadTimeout`, `ConnectTimeout`). Anything else (a
refused or reset connection, a server that closes without answering, a reply h11 refuses,
a compressed body) comes back as `ASK_AGAIN`, for the caller to ask through httpx, so
what the pane says of it is what httpx says.
"""

from __future__ import annotations

import asyncio
import codecs
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

import h11

USER_AGENT = "cutover-cockpit"


class NoAnswer(Enum):
    ASK_AGAIN = "ask again through httpx"
    STALE = "closed before a word of the answer: ask on a new connection"  # never returned


ASK_AGAIN, _STALE = NoAnswer.ASK_AGAIN, NoAnswer.STALE


@dataclass(frozen=True)
class Answer:
    """What a health endpoint said: its status, its body as text, and how long it took."""

    status: int
    text: str
    latency_ms: float


@dataclass(frozen=True)
class Failed:
    """No answer by the deadline, in httpx's words for it (its exception's name)."""

    error: str


Reply = Answer | Failed | NoAnswer


class HealthWire:
    """One kept connection per server (scheme, host, port); made and used on one loop."""

    def __init__(self, connect_s: float, answer_s: float,
                 tls: Callable[[], ssl.SSLContext]) -> None:
        self._connect_s, self._answer_s, self._tls = connect_s, answer_s, tls
        self._lines: dict[tuple[str, str, int], _Line] = {}
        self._replaced: list[_Line] = []  # still answering a check when replaced

    async def get(self, url: str) -> Reply:
        """GET `url` on the server's kept connection (opened if none is)."""
        target = _Target.of(url)
        if target is None:
            return ASK_AGAIN
        started = time.perf_counter()
        line = self._lines.get(target.origin)
        if line is not None and line.busy:  # another check of it is under way: not ours
            return ASK_AGAIN
        if line is not None and line.reusable():
            reply = await line.ask(target, started, self._answer_s)
            if reply is not _STALE:
                return reply
            # Closed by the server as it idled (its keep-alive timeout), before a word of
            # the answer: a new connection is asked, as any client would.
        if line is not None:
            line.close()
        opened = await self._open(target)
        if not isinstance(opened, _Line):
            return opened
        replaced = self._lines.get(target.origin)
        if replaced is not None and replaced is not line:  # opened meanwhile by another check
            self._let_go(replaced)
        self._lines[target.origin] = opened
        reply = await opened.ask(target, started, self._answer_s)
        return ASK_AGAIN if reply is _STALE else reply

    def _let_go(self, line: _Line) -> None:
        """Close a connection no longer kept, once its check (if any) has its answer."""
        for done in [kept for kept in self._replaced if not kept.busy]:
            done.close()
        self._replaced = [kept for kept in self._replaced if kept.busy]
        if line.busy:
            self._replaced.append(line)
        else:
            line.close()

    def close(self) -> None:
        lines, self._lines = [*self._lines.values(), *self._replaced], {}
        self._replaced = []
        for line in lines:
            line.close()

    async def _open(self, target: _Target) -> _Line | Failed | NoAnswer:
        loop = asyncio.get_running_loop()
        tls = self._tls() if target.scheme == "https" else None
        try:
            _, line = await asyncio.wait_for(loop.create_connection(
                _Line, target.host, target.port, ssl=tls,
                server_hostname=target.host if tls else None), self._connect_s)
        except TimeoutError:
            return Failed("ConnectTimeout")
        except (OSError, ssl.SSLError, ValueError):
            return ASK_AGAIN  # refused, unreachable, a certificate refused: httpx's words
        return line


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    netloc: str
    path: str

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    @classmethod
    def of(cls, url: str) -> _Target | None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
            return None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = 443 if parts.scheme == "https" else 80
        return cls(parts.scheme, parts.hostname, port or default, parts.netloc, path)


class _Line(asyncio.Protocol):
    """One connection to one server, one request on it at a time."""

    def __init__(self) -> None:
        self.http = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self._waiter: asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]] | None = None
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._lost = False

    def reusable(self) -> bool:
        return not self._lost and self.http.our_state is h11.IDLE and \
            self.http.their_state is h11.IDLE

    async def ask(self, target: _Target, started: float, answer_s: float) -> Reply:
        """The answer, or _STALE when the connection closed before any of it came."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self.busy, self._waiter = True, loop.create_future()
        self._status, self._headers, self._body = 0, [], []
        try:
            request = self.http.send(h11.Request(
                method="GET", target=target.path,
                headers=[("Host", target.netloc), ("Accept", "*/*"),
                         ("User-Agent", USER_AGENT)]))
            self.transport.write((request or b"") + (self.http.send(h11.EndOfMessage()) or b""))
            status, headers, body = await asyncio.wait_for(self._waiter, answer_s)
        except TimeoutError:
            self.close()  # the answer may still come: not on a connection used again
            return Failed("ReadTimeout")
        except (h11.ProtocolError, ConnectionError, OSError) as exc:
            self.close()
            closed = isinstance(exc, OSError)  # ConnectionError among them
            return _STALE if closed and not self._status else ASK_AGAIN
        finally:
            self.busy, self._waiter = False, None
        if self.http.our_state is h11.DONE and self.http.their_state is h11.DONE:
            self.http.start_next_cycle()  # kept for the next poll
        else:
            self.close()  # the server said it closes (`Connection: close`)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        text = _text(headers, body)
        return ASK_AGAIN if text is None else Answer(status, text, latency_ms)

    def close(self) -> None:
        self._lost = True
        if self.transport is not None:
            self.transport.close()

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._read(data)

    def eof_received(self) -> bool:
        self._read(b"")  # a body that runs to the end of the connection ends here
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._fail(ConnectionError("the server closed the connection"))

    def _read(self, data: bytes) -> None:
        try:
            self.http.receive_data(data)
            while (event := self.http.next_event()) is not h11.NEED_DATA:
                if not self._take(event):
                    return
        except h11.RemoteProtocolError as exc:
            # The end of the connection before an answer began is a closed connection.
            self._fail(ConnectionError("closed before answering") if not data and
                       not self._status else exc)

    def _take(self, event: object) -> bool:
        """One event of the answer; False once nothing more is to be read now."""
        if isinstance(event, h11.Response):
            self._status, self._headers = event.status_code, list(event.headers)
        elif isinstance(event, h11.Data):
            self._body.append(event.data)
        elif isinstance(event, h11.EndOfMessage):
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result((self._status, self._headers, b"".join(self._body)))
            return False
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            self._fail(ConnectionError("the server closed the connection"))
            return False
        return True  # an informational response (1xx): the answer follows

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)


def _text(headers: list[tuple[bytes, bytes]], body: bytes) -> str | None:
    """The body as httpx's `response.text` reads it (the charset the answer names, else
    UTF-8, undecodable bytes replaced); None for a compressed body (httpx unpacks it)."""
    charset = "utf-8"
    for name, value in headers:
        if name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            return None
        if name == b"content-type":
            charset = _charset(value) or charset
    return body.decode(charset, errors="replace")


def _charset(content_type: bytes) -> str | None:
    for param in content_type.decode("latin-1").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip('"')
            try:
                return codecs.lookup(name).name
            except LookupError:
                return None
    return None
