"""The resolvers the plan names, on loopback (dnslib's records): one each, UDP and TCP.

Each answers from the published Route 53 zones and caches every answer for its TTL
(scaled by the sim's speed), so a switched name reaches users as it does in life: one
resolver after another, as their caches expire. As a recursive resolver does, an A query
for a name that is a CNAME gets the CNAME and then the target's addresses (RFC 1034
3.6.2): the target's own records when it is in the sim's zones, else the address the sim
gives the names it serves outside them (the ALB, the AG listener, the datacentre hosts),
each on a loopback address of its own; asked for one of those names itself (a client that
reaches the ALB by its own DNS name), it answers that address too. An alias record (an A
record switched to the ALB) answers as Route 53 answers it: the target's addresses under
the alias's own name, with the target's TTL. Other names outside the sim's zones: NXDOMAIN.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from dnslib import CNAME, QTYPE, RCODE, RR, A, DNSError, DNSRecord

from cockpit.sim.route53_changes import RecordData
from cockpit.sim.server_loop import ServerLoop

Lookup = Callable[[str, str], RecordData | None]
# The addresses of a name outside the sim's zones (None: the sim does not serve it).
Addresses = Callable[[str], list[str] | None]
CHASE_DEPTH = 8  # CNAMEs followed before giving up, as resolvers bound their chase
EXTERNAL_TTL = 60


@dataclass
class ResolverWeather:
    """A resolver's bad day: slow answers, no answers, SERVFAIL, or NXDOMAIN for all."""

    latency_s: float = 0.0
    failure: str | None = None  # "timeout", "servfail", "nxdomain"


@dataclass
class _Cached:
    data: RecordData | None
    fetched_at: float
    expires_at: float


class CachingResolver:
    """A recursive resolver's behaviour, reduced to what a cutover sees: a TTL cache."""

    def __init__(self, lookup: Lookup, holds: Callable[[str], bool], speed: float,
                 stale: Callable[[], bool], weather: ResolverWeather | None = None,
                 addresses: Addresses | None = None) -> None:
        self.weather = weather or ResolverWeather()
        self._addresses = addresses
        self._lookup = lookup
        self._holds = holds
        self._speed = speed
        self._stale = stale
        self._cache: dict[tuple[str, str], _Cached] = {}
        self._lock = threading.Lock()

    def answer(self, request: DNSRecord) -> DNSRecord:
        """The reply, at once (the latency is the server's to wait out); DNSError when
        the resolver does not answer at all."""
        if self.weather.failure == "timeout":
            raise DNSError("simulated: this resolver does not answer")  # no reply is sent
        reply = request.reply()
        if self.weather.failure in ("servfail", "nxdomain"):
            reply.header.rcode = RCODE.SERVFAIL if self.weather.failure == "servfail" else \
                RCODE.NXDOMAIN
            return reply
        name = str(request.q.qname).lower()
        rtype = QTYPE[request.q.qtype]
        if not self._holds(name):
            return self._outside_reply(reply, name, rtype)
        if rtype == "A":
            return self._address_reply(reply, name)
        entry = self._answer(name, rtype)
        if entry.data is None:
            if self._lookup(name, "CNAME") is None and self._lookup(name, "A") is None:
                reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rr in _rrs(name, rtype, entry, self._speed):
            reply.add_answer(rr)
        return reply

    def _outside_reply(self, reply: DNSRecord, name: str, rtype: str) -> DNSRecord:
        """A name outside the sim's zones: its addresses if the sim serves it (no other
        type of record: NODATA), else NXDOMAIN."""
        outside = self._addresses(name) if self._addresses else None
        if outside is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif rtype == "A":
            for address in outside:
                reply.add_answer(RR(name, QTYPE.A, rdata=A(address), ttl=EXTERNAL_TTL))
        return reply

    def _address_reply(self, reply: DNSRecord, name: str) -> DNSRecord:
        chain = self._chase(name, CHASE_DEPTH)
        if not chain and self._lookup(name, "CNAME") is None and self._lookup(name, "A") is None:
            reply.header.rcode = RCODE.NXDOMAIN
        for rr in chain:
            reply.add_answer(rr)
        return reply

    def _chase(self, name: str, depth: int) -> list[RR]:
        """The CNAMEs from `name` and the addresses they end at, each from this cache."""
        cname = self._answer(name, "CNAME")
        if cname.data is None:
            found = self._answer(name, "A")
            if found.data is None:
                return []
            if found.data.alias:
                return self._alias_rrs(name, found, depth)
            return _rrs(name, "A", found, self._speed)
        rrs = _rrs(name, "CNAME", cname, self._speed)
        target = cname.data.value.rstrip(".").lower() + "."
        if self._holds(target):
            return rrs + (self._chase(target, depth - 1) if depth > 0 else [])
        outside = self._addresses(target) if self._addresses else None
        return rrs + [RR(target, QTYPE.A, rdata=A(address), ttl=EXTERNAL_TTL)
                      for address in outside or []]

    def _alias_rrs(self, name: str, entry: _Cached, depth: int) -> list[RR]:
        """An alias answers as Route 53 answers it: the target's addresses under the
        alias's own name, no CNAME between."""
        assert entry.data is not None
        target = entry.data.value
        if self._holds(target):
            chased = self._chase(target, depth - 1) if depth > 0 else []
            addresses = [str(rr.rdata) for rr in chased if rr.rtype == QTYPE.A]
        else:
            addresses = (self._addresses(target) if self._addresses else None) or []
        ttl = _ttl_left(entry, self._speed)
        return [RR(name, QTYPE.A, rdata=A(address), ttl=ttl) for address in addresses]

    def _answer(self, name: str, rtype: str) -> _Cached:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get((name, rtype))
            if cached is not None and (now < cached.expires_at or self._stale()):
                return cached
            data = self._lookup(name, rtype)
            ttl = data.ttl if data else 30
            cached = _Cached(data, now, now + ttl / self._speed)
            self._cache[(name, rtype)] = cached
            return cached


def _ttl_left(entry: _Cached, speed: float) -> int:
    """What is left of a cached answer's TTL, in the estate's seconds."""
    assert entry.data is not None
    left = max(0.0, entry.expires_at - time.monotonic()) * speed
    return int(min(entry.data.ttl, round(left))) if left > 0 else entry.data.ttl


def _rrs(name: str, rtype: str, entry: _Cached, speed: float) -> list[RR]:
    assert entry.data is not None
    ttl = _ttl_left(entry, speed)
    if rtype == "CNAME":
        return [RR(name, QTYPE.CNAME, rdata=CNAME(entry.data.value), ttl=ttl)]
    return [RR(name, QTYPE.A, rdata=A(value), ttl=ttl) for value in entry.data.value.split(",")]


class ResolverServer:
    """One resolver on 127.0.0.1, UDP and TCP on one port (a client falls back to TCP for
    a truncated answer, and `dig +tcp` asks there), with one cache; served by the sim's
    server loop. As dnslib's own server: no reply to what does not parse, nor while the
    resolver is told not to answer; the whole reply, however long, over UDP too."""

    def __init__(self, resolver_id: str, resolver: CachingResolver, loop: ServerLoop) -> None:
        self.resolver_id, self.resolver = resolver_id, resolver
        self._loop = loop
        self._udp, self._tcp = _bind_both()
        self._transport: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._udp.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._loop.run(self._listen())

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self), sock=self._udp)
        self._server = await asyncio.start_server(self._serve_tcp, sock=self._tcp)

    def stop(self) -> None:
        """Each socket closed by what serves it, or directly if nothing came to (a start
        cut short)."""
        if self._transport is not None:
            self._loop.call(self._transport.close)
        else:
            self._udp.close()
        if self._server is not None:
            self._loop.call(self._server.close)
        else:
            self._tcp.close()

    def datagram(self, data: bytes, send: Callable[[bytes], None]) -> None:
        """On the loop: a question that came by UDP, answered when its latency is out."""
        self._loop.spawn(self._answer_to(data, send))

    async def _answer_to(self, data: bytes, send: Callable[[bytes], None]) -> None:
        reply = await self.reply_to(data)
        if reply is not None:
            send(reply)

    async def reply_to(self, data: bytes) -> bytes | None:
        try:
            request = DNSRecord.parse(data)
        except DNSError:
            return None
        if self.resolver.weather.latency_s:
            await asyncio.sleep(self.resolver.weather.latency_s)
        try:
            return bytes(self.resolver.answer(request).pack())
        except DNSError:
            return None

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        """Questions over TCP, each behind its length (RFC 1035 4.2.2), until the client
        closes."""
        try:
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                reply = await self.reply_to(await reader.readexactly(size))
                if reply is None:
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass  # the sim stopping: ended quietly (asyncio logs a cancelled connection)
        finally:
            writer.close()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: ResolverServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        transport = self._transport
        if transport is not None:
            self._server.datagram(data, lambda reply: transport.sendto(reply, addr))


def _bind_both(attempts: int = 10) -> tuple[socket.socket, socket.socket]:
    """A UDP port the kernel picks, then TCP on the same number (retried if taken)."""
    for _ in range(attempts):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            tcp.listen(64)
        except OSError:
            udp.close()
            tcp.close()
            continue
        return udp, tcp
    raise OSError("no loopback port free for a resolver on both UDP and TCP")
