"""DNS as the users see it: each named resolver asked directly, its answer and TTL."""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor

import dns.exception
import dns.rdatatype
import dns.resolver
import dns.rrset

from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import DnsSnapshot, ResolverAnswer

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
    rec = next(r for r in handle.estate.records if r.id == record_id)
    base = ResolverAnswer(resolver=resolver_id, record=record_id, name=rec.name)
    rrset, error = _query(handle, resolver_id, rec.name, rec.type)
    if rrset is None:
        return base.model_copy(update={"error": error})
    values = sorted(r.to_text() for r in rrset)
    return base.model_copy(update={"value": ",".join(values), "ttl": rrset.ttl})


class NoAddress(LookupError):
    """A resolver gave no address for a name; the message says what it said instead."""


def addresses(handle: EstateHandle, resolver_id: str, name: str) -> list[str]:
    """The addresses a resolver gives a client for `name` (after any CNAMEs), in the
    order it gave them; NoAddress if it gave none."""
    rrset, error = _query(handle, resolver_id, name, "A")
    if rrset is None:
        raise NoAddress(f"{resolver_id} says {error} for {name}")
    return [r.to_text() for r in rrset]


def _query(handle: EstateHandle, resolver_id: str, name: str,
           rtype: str) -> tuple[dns.rrset.RRset | None, str | None]:
    """The answer's records, or None and why there are none, in a few words."""
    try:
        stub = _stub(handle, resolver_id)
    except (OSError, ValueError) as exc:
        return None, f"resolver address: {exc}"
    try:
        answer = stub.resolve(name, rtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return None, "NXDOMAIN"
    except dns.resolver.NoNameservers as exc:
        return None, _servfail(exc)
    except dns.exception.Timeout:
        return None, f"timeout after {TIMEOUT_S:g}s"
    except (dns.exception.DNSException, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if answer.rrset is None:
        return None, "no answer (NODATA)"
    return answer.rrset, None


def _stub(handle: EstateHandle, resolver_id: str) -> dns.resolver.Resolver:
    """A resolver that asks exactly one server, with no cache of its own."""
    host, port = handle.resolver_address(resolver_id)
    stub = dns.resolver.Resolver(configure=False)
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
