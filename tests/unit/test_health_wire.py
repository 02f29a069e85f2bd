"""The app servers' health checks on kept connections read as httpx reads them: the same
status, body, version, database and error for every kind of answer a health endpoint
gives, one connection kept per server, and whatever the kept connection cannot read
asked again through httpx, so the pane's words are httpx's."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from cockpit.estate import http
from cockpit.estate.health_wire import ASK_AGAIN, HealthWire
from cockpit.estate.snapshots import AppHealth

HEALTHY = b'{"status": "ok", "version": "2.4.1", "database": "online"}'


def _answer(status: str, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _chunked(body: bytes) -> bytes:
    half = len(body) // 2
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                    for part in (body[:half], body[half:])) + b"0\r\n\r\n"


ANSWERS = {
    "/healthy": _answer("200 OK", HEALTHY, "Content-Type: application/json"),
    "/degraded": _answer("503 Service Unavailable", b'{"status": "degraded"}'),
    "/chunked": _answer("200 OK", _chunked(HEALTHY), "Transfer-Encoding: chunked"),
    "/latin": _answer("200 OK", "état: prêt".encode("latin-1"),
                      "Content-Type: text/plain; charset=ISO-8859-1"),
    "/closing": _answer("200 OK", HEALTHY, "Connection: close"),
    "/gzip": _answer("200 OK", gzip.compress(HEALTHY), "Content-Encoding: gzip"),
    "/redirect": _answer("302 Found", b"", "Location: /healthy"),
}


class Endpoint:
    """A health endpoint on loopback: each path answers as ANSWERS says; `/until-close`
    answers with a body ended by closing, `/hangs` never answers, `/hangup` closes
    without a word. Counts the connections it accepted."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self.ended = 0
        self._one_ended = asyncio.Event()
        self._open: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._open.append(writer)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                path = head.split(b" ", 2)[1].decode()
                if path == "/hangs":
                    await asyncio.sleep(30)
                if path == "/hangup":
                    break
                if path == "/until-close":
                    writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + HEALTHY)
                    break
                writer.write(ANSWERS[path])
                await writer.drain()
                if path == "/closing":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.ended += 1
            self._one_ended.set()

    async def until_all_ended(self) -> None:
        """Back once every connection it accepted has been closed."""
        while self.ended < self.connections:
            self._one_ended.clear()
            await self._one_ended.wait()

    async def drop_kept(self) -> None:
        """Close every connection from the server's side, as an idle timeout would; back
        once each is closed (the client's end has its end of file by then: same loop)."""
        for writer in self._open:
            writer.close()
        for writer in self._open:
            await writer.wait_closed()


@asynccontextmanager
async def endpoint() -> AsyncIterator[tuple[Endpoint, str]]:
    served = Endpoint()
    server = await asyncio.start_server(served.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield served, f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await served.drop_kept()


def _reading(result: AppHealth) -> tuple[object, ...]:
    return result.status, result.body, result.version, result.database, result.error


async def _check(client: httpx.AsyncClient, url: str, wire: HealthWire | None) -> AppHealth:
    base = AppHealth(server="oms-app-1", site="aws", url=url)
    return await http.check_one_async(client, base, asyncio.Semaphore(4), wire)


def _client(read_s: float = 3.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(read_s, connect=2.0),
                             follow_redirects=False, trust_env=False)


def test_every_kind_of_answer_reads_as_httpx_reads_it() -> None:
    paths = [*ANSWERS, "/until-close", "/hangup"]

    async def both() -> tuple[list[AppHealth], list[AppHealth]]:
        async with endpoint() as (_, base), _client() as client:
            wire = http.health_wire()
            kept = [await _check(client, base + path, wire) for path in paths]
            wire.close()
            alone = [await _check(client, base + path, None) for path in paths]
        return kept, alone

    kept, alone = asyncio.run(both())
    assert [_reading(r) for r in kept] == [_reading(r) for r in alone]
    readings = dict(zip(paths, kept, strict=True))
    assert _reading(readings["/healthy"]) == (200, HEALTHY.decode(), "2.4.1", "online", None)
    assert readings["/degraded"].error == "HTTP 503"
    assert readings["/latin"].body == "état: prêt"
    assert readings["/gzip"].version == "2.4.1"  # unpacked by httpx, asked again
    assert readings["/hangup"].error == ("RemoteProtocolError: Server disconnected without "
                                         "sending a response.")
    assert all(r.latency_ms is not None for r in kept if r.status is not None)


def test_a_refused_connection_is_said_in_httpxs_words() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed once out of this block: nothing listens

    async def both() -> tuple[AppHealth, AppHealth]:
        url = f"http://127.0.0.1:{port}/healthy"
        async with _client() as client:
            wire = http.health_wire()
            return await _check(client, url, wire), await _check(client, url, None)

    kept, alone = asyncio.run(both())
    assert kept.error == alone.error == "ConnectError: All connection attempts failed"


def test_no_answer_by_the_deadline_is_a_read_timeout_as_httpx_says_it() -> None:
    async def both() -> tuple[AppHealth, AppHealth, float]:
        async with endpoint() as (_, base), _client(read_s=0.3) as client:
            wire = HealthWire(2.0, 0.3, http.tls_context)
            loop = asyncio.get_running_loop()
            began = loop.time()
            kept = await _check(client, base + "/hangs", wire)
            took = loop.time() - began
            return kept, await _check(client, base + "/hangs", None), took

    kept, alone, took = asyncio.run(both())
    assert kept.error == alone.error == "ReadTimeout"
    assert took < 1.0  # its own deadline, not asked again through httpx after it


def test_one_connection_is_kept_per_server_and_opened_again_once_dropped() -> None:
    async def checks() -> tuple[list[AppHealth], int, int, int]:
        async with endpoint() as (served, base), _client() as client:
            asked_httpx: list[httpx.Request] = []

            async def seen(request: httpx.Request) -> None:
                asked_httpx.append(request)

            client.event_hooks["request"] = [seen]
            wire = http.health_wire()
            results = [await _check(client, base + "/healthy", wire) for _ in range(3)]
            on_one = served.connections
            await served.drop_kept()
            results.append(await _check(client, base + "/healthy", wire))
            results.append(await _check(client, base + "/closing", wire))
            results.append(await _check(client, base + "/healthy", wire))
            wire.close()
            return results, on_one, served.connections, len(asked_httpx)

    results, on_one, connections, through_httpx = asyncio.run(checks())
    assert all(r.error is None and r.status == 200 for r in results), results
    assert (on_one, through_httpx) == (1, 0), (on_one, through_httpx, connections)
    assert connections == 3  # opened again after the drop, and after `Connection: close`
    assert through_httpx == 0


def test_what_is_not_plain_http_is_asked_again() -> None:
    async def ask(url: str) -> object:
        return await http.health_wire().get(url)

    for url in ("ftp://127.0.0.1/health", "http://user:pw@127.0.0.1/health", "http://[::1"):
        assert asyncio.run(ask(url)) is ASK_AGAIN


def test_checks_of_one_server_at_once_are_all_answered_and_every_connection_closed() -> None:
    async def checks() -> tuple[list[AppHealth], int]:
        async with endpoint() as (served, base), _client() as client:
            wire = http.health_wire()
            results = await asyncio.gather(*(_check(client, base + "/healthy", wire)
                                             for _ in range(3)))
            results.append(await _check(client, base + "/healthy", wire))
            wire.close()
            await asyncio.wait_for(served.until_all_ended(), 5)
            return list(results), served.connections

    results, connections = asyncio.run(checks())
    assert [r.status for r in results] == [200] * 4, results
    assert connections >= 2  # each opened its own; none is left open by the wire
