"""The resolvers the plan names, as dnslib servers on loopback: one listener each.

Each answers from the published Route 53 zones and caches every answer for its TTL
(scaled by the sim's speed), so a switched name reaches users as it does in life: one
resolver after another, as their caches expire. Names outside the sim's zones: NXDOMAIN.
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
                 stale: Callable[[], bool], weather: ResolverWeather | None = None) -> None:
        self.weather = weather or ResolverWeather()
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
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        entry = self._answer(name, rtype)
        if entry.data is None:
            if self._lookup(name, "CNAME") is None and self._lookup(name, "A") is None:
                reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rr in _rrs(name, rtype, entry, self._speed):
            reply.add_answer(rr)
        return reply

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


def _rrs(name: str, rtype: str, entry: _Cached, speed: float) -> list[RR]:
    assert entry.data is not None
    left = max(0.0, entry.expires_at - time.monotonic()) * speed
    ttl = int(min(entry.data.ttl, round(left))) if left > 0 else entry.data.ttl
    if rtype == "CNAME":
        return [RR(name, QTYPE.CNAME, rdata=CNAME(entry.data.value), ttl=ttl)]
    return [RR(name, QTYPE.A, rdata=A(value), ttl=ttl) for value in entry.data.value.split(",")]


class ResolverServer:
    """One resolver: a dnslib UDP server on 127.0.0.1 with its own cache."""

    def __init__(self, resolver_id: str, resolver: CachingResolver) -> None:
        self.resolver_id = resolver_id
        self._server = DNSServer(resolver, address="127.0.0.1", port=0, logger=_Quiet())

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._server.start_thread()

    def stop(self) -> None:
        self._server.stop()
        self._server.server.server_close()


class _Quiet:
    """dnslib logs every query to stdout by default; the cockpit's screen is not for that."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None
