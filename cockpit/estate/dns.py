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
import dns.rrset

from cockpit.estate import dns_socket
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import DnsSnapshot, ResolverAnswer
from cockpit.plan.models import DnsRecord

TIMEOUT_S = 2.0
TIMED_OUT = f"timeout after {TIMEOUT_S:g}s"


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
    rrset, error = _query(handle, resolver_id, rec.name, rec.type)
    return _answer(base, rrset, error)


async def resolve_async(handle: EstateHandle, records: list[str], resolvers: list[str] | None,
                        gate: asyncio.Semaphore) -> DnsSnapshot:
    """Every resolver asked for every record: each resolver's questions on one socket
    (`dns_socket`), no thread waiting for any answer, as many in flight at once as `gate`
    lets through: a question's time limit then runs while its resolver has it, not while
    it queues in this process (1,500 questions sent at once, at 100x, timed out here before
    they were read). What that path hands back is asked through dnspython's resolver."""
    resolver_ids = resolvers or [r.id for r in handle.estate.resolvers]
    by_id = {r.id: r for r in handle.estate.records}
    asked = [by_id[rec] for rec in records]
    answers = await asyncio.gather(*(_ask_resolver(handle, r, asked, gate)
                                     for r in resolver_ids))
    return DnsSnapshot(answers=[answer for each in answers for answer in each])


async def _ask_resolver(handle: EstateHandle, resolver_id: str, asked: list[DnsRecord],
                        gate: asyncio.Semaphore) -> list[ResolverAnswer]:
    stub = _async_stub_or_error(handle, resolver_id)
    if isinstance(stub, str):
        return [await ask_async(stub, resolver_id, rec, gate) for rec in asked]
    address = (str(stub.nameservers[0]), stub.port)
    replies = await dns_socket.ask(address, [(r.name, r.type) for r in asked], TIMEOUT_S,
                                   gate)
    return list(await asyncio.gather(*(_from_reply(stub, resolver_id, rec, reply, gate)
                                       for rec, reply in zip(asked, replies, strict=True))))


async def _from_reply(stub: dns.asyncresolver.Resolver, resolver_id: str, rec: DnsRecord,
                      reply: dns_socket.Reply, gate: asyncio.Semaphore) -> ResolverAnswer:
    if reply is dns_socket.ASK_AGAIN:
        return await ask_async(stub, resolver_id, rec, gate)
    base = ResolverAnswer(resolver=resolver_id, record=rec.id, name=rec.name)
    if reply is dns_socket.TIMED_OUT:
        return base.model_copy(update={"error": TIMED_OUT})
    if reply is dns_socket.NXDOMAIN:
        return base.model_copy(update={"error": "NXDOMAIN"})
    assert isinstance(reply, dns.resolver.Answer)
    rrset, error = _records_of(reply)
    return _answer(base, rrset, error)


async def ask_async(stub: dns.asyncresolver.Resolver | str, resolver_id: str,
                    rec: DnsRecord, gate: asyncio.Semaphore) -> ResolverAnswer:
    """One question; `stub` is the error text when the resolver's address is unusable."""
    base = ResolverAnswer(resolver=resolver_id, record=rec.id, name=rec.name)
    if isinstance(stub, str):
        return base.model_copy(update={"error": stub})
    try:
        async with gate:
            answer = await stub.resolve(rec.name, rec.type, raise_on_no_answer=False,
                                        search=False)
    except (dns.exception.DNSException, OSError) as exc:
        return base.model_copy(update={"error": _why(exc)})
    rrset, error = _records_of(answer)
    return _answer(base, rrset, error)


class NoAddress(LookupError):
    """A resolver gave no address for a name; the message says what it said instead."""


def addresses(handle: EstateHandle, resolver_id: str, name: str) -> list[str]:
    """The addresses a resolver gives a client for `name` (after any CNAMEs), in the
    order it gave them; NoAddress if it gave none."""
    rrset, error = _query(handle, resolver_id, name, "A")
    if rrset is None:
        raise NoAddress(f"{resolver_id} says {error} for {name}")
    return [r.to_text() for r in rrset]


def _record(handle: EstateHandle, record_id: str) -> DnsRecord:
    return next(r for r in handle.estate.records if r.id == record_id)


def _answer(base: ResolverAnswer, rrset: dns.rrset.RRset | None,
            error: str | None) -> ResolverAnswer:
    if rrset is None:
        return base.model_copy(update={"error": error})
    values = sorted(r.to_text() for r in rrset)
    return base.model_copy(update={"value": ",".join(values), "ttl": rrset.ttl})


def _query(handle: EstateHandle, resolver_id: str, name: str,
           rtype: str) -> tuple[dns.rrset.RRset | None, str | None]:
    """The answer's records, or None and why there are none, in a few words."""
    try:
        stub = _stub(handle, resolver_id)
    except (OSError, ValueError) as exc:
        return None, f"resolver address: {exc}"
    try:
        answer = stub.resolve(name, rtype, raise_on_no_answer=False, search=False)
    except (dns.exception.DNSException, OSError) as exc:
        return None, _why(exc)
    return _records_of(answer)


def _records_of(answer: dns.resolver.Answer) -> tuple[dns.rrset.RRset | None, str | None]:
    if answer.rrset is None:
        return None, "no answer (NODATA)"
    return answer.rrset, None


def _why(exc: BaseException) -> str:
    """Why a resolver gave no answer, in a few words."""
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return "NXDOMAIN"
    if isinstance(exc, dns.resolver.NoNameservers):
        return _servfail(exc)
    if isinstance(exc, dns.exception.Timeout):
        return TIMED_OUT
    return f"{type(exc).__name__}: {exc}"


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
