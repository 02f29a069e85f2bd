"""The DNS pane's questions go to each resolver on one socket, and come back exactly as
dnspython's resolver reads them; what that resolver would not take as it is (SERVFAIL, a
truncated reply, a reply to another question, a refusal) is asked again through it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import dns.asyncresolver
import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from cockpit.estate import dns_socket

Answering = Callable[[dns.message.QueryMessage], dns.message.Message | None]
ZONE = {
    "orders.oms.example.": ("CNAME", "web.dc1.example."),
    "web.dc1.example.": ("A", "10.1.2.3"),
    "api.oms.example.": ("A", "10.1.2.4"),
}


def as_a_resolver(query: dns.message.QueryMessage) -> dns.message.Message:
    """A recursive resolver's reply: the CNAME chain and the address, NXDOMAIN for a name
    it does not know, NODATA for a type the name does not have."""
    reply = dns.message.make_response(query)
    name, rdtype = str(query.question[0].name), query.question[0].rdtype
    if name not in ZONE:
        reply.set_rcode(dns.rcode.NXDOMAIN)
        return reply
    while name in ZONE:
        kind, value = ZONE[name]
        if dns.rdatatype.from_text(kind) not in (rdtype, dns.rdatatype.CNAME):
            break
        reply.answer.append(dns.rrset.from_text(name, 60, "IN", kind, value))
        if kind != "CNAME":
            break
        name = value
    return reply


class _Resolver(asyncio.DatagramProtocol):
    def __init__(self, answering: Answering) -> None:
        self.answering = answering
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # a datagram transport, whatever its class says

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        query = dns.message.from_wire(data)
        assert isinstance(query, dns.message.QueryMessage)
        reply = self.answering(query)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply.to_wire(), addr)


@asynccontextmanager
async def resolver(answering: Answering) -> AsyncIterator[tuple[str, int]]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Resolver(answering), local_addr=("127.0.0.1", 0))
    try:
        yield transport.get_extra_info("sockname")[:2]
    finally:
        transport.close()


def stub_for(address: tuple[str, int]) -> dns.asyncresolver.Resolver:
    stub = dns.asyncresolver.Resolver(configure=False)
    stub.nameservers, stub.port = [address[0]], address[1]
    stub.timeout = stub.lifetime = 2.0
    return stub


async def resolver_reads(stub: dns.asyncresolver.Resolver, name: str, rtype: str
                         ) -> tuple[str | None, int | None, str | None]:
    """(value, TTL, error) as the question reads through dnspython's resolver alone."""
    try:
        answer = await stub.resolve(name, rtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return None, None, "NXDOMAIN"
    if answer.rrset is None:
        return None, None, "no answer (NODATA)"
    return ",".join(sorted(r.to_text() for r in answer.rrset)), answer.rrset.ttl, None


QUESTIONS = [("orders.oms.example.", "A"), ("api.oms.example.", "A"),
             ("nowhere.oms.example.", "A"), ("api.oms.example.", "AAAA"),
             ("orders.oms.example.", "CNAME")]


def test_each_reply_is_read_as_dnspythons_resolver_reads_it() -> None:
    async def both() -> tuple[list[dns_socket.Reply], list[tuple[str | None, int | None,
                                                                    str | None]]]:
        async with resolver(as_a_resolver) as address:
            fast = await dns_socket.ask(address, QUESTIONS, 2.0, asyncio.Semaphore(2))
            stub = stub_for(address)
            slow = [await resolver_reads(stub, name, rtype) for name, rtype in QUESTIONS]
        return fast, slow

    fast, slow = asyncio.run(both())
    read = [_as_read(reply) for reply in fast]
    assert read == slow
    assert read[0] == ("10.1.2.3", 60, None)  # the address at the end of the chain
    assert read[2] == (None, None, "NXDOMAIN")
    assert read[3] == (None, None, "no answer (NODATA)")
    assert read[4] == ("web.dc1.example.", 60, None)


def _as_read(reply: dns_socket.Reply) -> tuple[str | None, int | None, str | None]:
    if reply is dns_socket.NXDOMAIN:
        return None, None, "NXDOMAIN"
    assert isinstance(reply, dns.resolver.Answer), reply
    if reply.rrset is None:
        return None, None, "no answer (NODATA)"
    return ",".join(sorted(r.to_text() for r in reply.rrset)), reply.rrset.ttl, None


def misbehaving(query: dns.message.QueryMessage) -> dns.message.Message | None:
    name = str(query.question[0].name)
    reply = dns.message.make_response(query)
    if name.startswith("servfail."):
        reply.set_rcode(dns.rcode.SERVFAIL)
    elif name.startswith("truncated."):
        reply.flags |= dns.flags.TC
    elif name.startswith("other."):  # a reply with the right id to another question
        reply = dns.message.make_response(dns.message.make_query("elsewhere.example.", "A"))
        reply.id = query.id
    elif name.startswith("silent."):
        return None
    return as_a_resolver(query) if name.startswith("api.") else reply


def test_what_the_resolver_would_not_take_is_asked_again_and_silence_times_out() -> None:
    asked = [("servfail.oms.example.", "A"), ("truncated.oms.example.", "A"),
             ("other.oms.example.", "A"), ("silent.oms.example.", "A"),
             ("api.oms.example.", "A")]

    async def ask() -> list[dns_socket.Reply]:
        async with resolver(misbehaving) as address:
            return await dns_socket.ask(address, asked, 0.5, asyncio.Semaphore(8))

    replies = asyncio.run(ask())
    assert replies[:4] == [dns_socket.ASK_AGAIN, dns_socket.ASK_AGAIN, dns_socket.ASK_AGAIN,
                           dns_socket.TIMED_OUT]
    assert _as_read(replies[4]) == ("10.1.2.4", 60, None)


def test_a_refused_port_is_left_to_dnspythons_resolver() -> None:
    """The refusal reaches a connected socket at once; what the pane says of it is
    dnspython's to say (its unconnected socket hears no refusal, and times out)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind(("127.0.0.1", 0))
        address = closed.getsockname()
    # the port is free again: nothing listens there, the kernel answers with a refusal

    async def ask() -> list[dns_socket.Reply]:
        return await dns_socket.ask(address, QUESTIONS[:2], 2.0, asyncio.Semaphore(8))

    assert asyncio.run(ask()) == [dns_socket.ASK_AGAIN, dns_socket.ASK_AGAIN]


@pytest.mark.parametrize("held", [1, 3])
def test_every_place_in_the_gate_is_given_back_however_a_question_ended(held: int) -> None:
    asked = [("api.oms.example.", "A"), ("silent.oms.example.", "A"),
             ("servfail.oms.example.", "A")] * 3

    async def ask() -> tuple[list[dns_socket.Reply], list[bool]]:
        async with resolver(misbehaving) as address:
            gate = asyncio.Semaphore(held)
            replies = await dns_socket.ask(address, asked, 0.3, gate)
            free = []
            for _ in range(held):
                free.append(not gate.locked())
                await gate.acquire()
            return replies, free

    replies, free = asyncio.run(ask())
    assert free == [True] * held
    assert replies.count(dns_socket.TIMED_OUT) == 3
    assert replies.count(dns_socket.ASK_AGAIN) == 3
