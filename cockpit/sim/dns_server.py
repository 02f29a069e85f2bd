"""The resolvers the plan names, as dnslib servers on loopback: one each, UDP and TCP.

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

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dnslib import CNAME, QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSError, DNSServer

from cockpit.sim.route53_changes import RecordData

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


class CachingResolver(BaseResolver):  # type: ignore[misc]
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

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        if self.weather.latency_s:
            time.sleep(self.weather.latency_s)
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
    """One resolver: dnslib servers on 127.0.0.1, UDP and TCP on one port (a client falls
    back to TCP for a truncated answer, and `dig +tcp` asks there), with one cache."""

    def __init__(self, resolver_id: str, resolver: CachingResolver) -> None:
        self.resolver_id = resolver_id
        self._servers = _bind_both(resolver)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._servers[0].server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        for server in self._servers:
            server.start_thread()

    def stop(self) -> None:
        for server in self._servers:
            if getattr(server, "thread", None) is not None:  # never started: nothing waits
                server.stop()
            server.server.server_close()


def _bind_both(resolver: CachingResolver, attempts: int = 10) -> list[DNSServer]:
    """A UDP port the kernel picks, then TCP on the same number (retried if taken)."""
    for _ in range(attempts):
        udp = DNSServer(resolver, address="127.0.0.1", port=0, logger=_Quiet())
        port = udp.server.server_address[1]
        try:
            tcp = DNSServer(resolver, address="127.0.0.1", port=port, tcp=True,
                            logger=_Quiet())
        except OSError:
            udp.server.server_close()
            continue
        return [udp, tcp]
    raise OSError("no loopback port free for a resolver on both UDP and TCP")


class _Quiet:
    """dnslib logs every query to stdout by default; the cockpit's screen is not for that."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None
