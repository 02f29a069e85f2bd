"""DNS as the users see it: each named resolver asked directly, its answer and TTL."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import DnsSnapshot, ResolverAnswer
from cockpit.plan.models import DnsRecord

TIMEOUT_S = 2.0


def resolve(
    handle: EstateHandle, records: list[str], resolvers: list[str] | None = None
) -> DnsSnapshot:
    """Ask every resolver (all the plan names, if none given) for every record, at once."""
    resolver_ids = resolvers or [r.id for r in handle.estate.resolvers]
    questions = [(r, rec) for r in resolver_ids for rec in records]
    if not questions:
        return DnsSnapshot()
    # Every question in flight at once: a resolver answers in one round trip, not six.
    with ThreadPoolExecutor(max_workers=min(96, len(questions))) as pool:
        answers = list(pool.map(lambda q: ask(handle, q[0], q[1]), questions))
    return DnsSnapshot(answers=answers)


def ask(handle: EstateHandle, resolver_id: str, record_id: str) -> ResolverAnswer:
    rec = _record(handle, record_id)
    base = ResolverAnswer(resolver=resolver_id, record=record_id, name=rec.name)
    try:
        stub = _stub(handle, resolver_id)
    except (OSError, ValueError) as exc:
        return base.model_copy(update={"error": f"resolver address: {exc}"})
    try:
        answer = stub.resolve(rec.name, rec.type, raise_on_no_answer=False, search=False)
    except (dns.exception.DNSException, OSError) as exc:
        return _failed(base, exc)
    return _answered(base, answer)


async def resolve_async(
    handle: EstateHandle, records: list[str], resolvers: list[str] | None = None
) -> DnsSnapshot:
    """Every resolver asked for every record, all in flight at once on dnspython's async
    resolver: the wait is one round trip, and no thread waits for any answer."""
    resolver_ids = resolvers or [r.id for r in handle.estate.resolvers]
    stubs = {r: _async_stub_or_error(handle, r) for r in resolver_ids}
    by_id = {r.id: r for r in handle.estate.records}
    answers = await asyncio.gather(*(
        ask_async(stubs[r], r, by_id[rec]) for r in resolver_ids for rec in records))
    return DnsSnapshot(answers=list(answers))


async def ask_async(stub: dns.asyncresolver.Resolver | str, resolver_id: str,
                    rec: DnsRecord) -> ResolverAnswer:
    """One question; `stub` is the error text when the resolver's address is unusable."""
    base = ResolverAnswer(resolver=resolver_id, record=rec.id, name=rec.name)
    if isinstance(stub, str):
        return base.model_copy(update={"error": stub})
    try:
        answer = await stub.resolve(rec.name, rec.type, raise_on_no_answer=False, search=False)
    except (dns.exception.DNSException, OSError) as exc:
        return _failed(base, exc)
    return _answered(base, answer)


def _record(handle: EstateHandle, record_id: str) -> DnsRecord:
    return next(r for r in handle.estate.records if r.id == record_id)


def _failed(base: ResolverAnswer, exc: BaseException) -> ResolverAnswer:
    if isinstance(exc, dns.resolver.NXDOMAIN):
        error = "NXDOMAIN"
    elif isinstance(exc, dns.resolver.NoNameservers):
        error = _servfail(exc)
    elif isinstance(exc, dns.exception.Timeout):
        error = f"timeout after {TIMEOUT_S:g}s"
    else:
        error = f"{type(exc).__name__}: {exc}"
    return base.model_copy(update={"error": error})


def _answered(base: ResolverAnswer, answer: dns.resolver.Answer) -> ResolverAnswer:
    if answer.rrset is None:
        return base.model_copy(update={"error": "no answer (NODATA)"})
    values = sorted(r.to_text() for r in answer.rrset)
    return base.model_copy(update={"value": ",".join(values), "ttl": answer.rrset.ttl})


def _async_stub_or_error(handle: EstateHandle,
                         resolver_id: str) -> dns.asyncresolver.Resolver | str:
    try:
        return _configure(dns.asyncresolver.Resolver(configure=False), handle, resolver_id)
    except (OSError, ValueError) as exc:
        return f"resolver address: {exc}"


def _stub(handle: EstateHandle, resolver_id: str) -> dns.resolver.Resolver:
    """A resolver that asks exactly one server, with no cache of its own."""
    return _configure(dns.resolver.Resolver(configure=False), handle, resolver_id)


_Stub = TypeVar("_Stub", bound=dns.resolver.BaseResolver)


def _configure(stub: _Stub, handle: EstateHandle, resolver_id: str) -> _Stub:
    host, port = handle.resolver_address(resolver_id)
    stub.nameservers = [_address_of(host)]
    stub.port = port
    stub.cache = None
    stub.timeout = TIMEOUT_S
    stub.lifetime = TIMEOUT_S
    return stub


def _address_of(host: str) -> str:
    """dnspython wants an IP: a resolver written by name is looked up once, here."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        return str(socket.getaddrinfo(host, 53, proto=socket.IPPROTO_UDP)[0][4][0])


def _servfail(exc: dns.resolver.NoNameservers) -> str:
    text = str(exc)
    return "SERVFAIL" if "SERVFAIL" in text else f"no nameserver answered: {text}"
