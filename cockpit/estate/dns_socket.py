"""Every question to one resolver at once, on one UDP socket: what the DNS pane asks.

dnspython's async resolver opens a socket, a transport and a task for each question, and
builds each query and reads each reply through its whole object model: 0.84 ms of the
driver's CPU a question at 10x, where the DNS pane asks 1,500 a poll at 100x. Here each
question's query is built once (only its id changes from one send to the next), every
question to a resolver goes out on one socket, a reply is handed to its question by its
id with no task per question, and each is read by dnspython into the very `Answer` its
resolver returns.

Only the replies dnspython's resolver would take as they are come back this way: NOERROR
and NXDOMAIN to the question asked. Anything else (SERVFAIL, REFUSED, a truncated reply, a
reply that does not parse, an ICMP refusal) comes back as `ASK_AGAIN`, for the caller to
ask through dnspython's resolver, so what a pane says of it is what that resolver says.
A question with no reply by the deadline is `TIMED_OUT`, as the resolver would time out.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable
from enum import Enum
from typing import TypeAlias

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver


class NoAnswer(Enum):
    ASK_AGAIN = "ask again through dnspython's resolver"
    TIMED_OUT = "no reply by the deadline"
    NXDOMAIN = "the name does not exist"


ASK_AGAIN, TIMED_OUT, NXDOMAIN = NoAnswer.ASK_AGAIN, NoAnswer.TIMED_OUT, NoAnswer.NXDOMAIN
Reply: TypeAlias = "dns.resolver.Answer | NoAnswer"
# The ids a socket can tell apart: more questions than this go on more sockets.
IDS = 1 << 16


async def ask(address: tuple[str, int], questions: list[tuple[str, str]], timeout_s: float,
              gate: asyncio.Semaphore) -> list[Reply]:
    """The reply to each (name, type) from the resolver at `address` (an IP and a port),
    in order. Each question is sent once `gate` lets it through, holds its place there
    until its reply comes, and is given `timeout_s` from its send: its time limit runs
    while the resolver has it, not while it queues here."""
    replies: list[Reply] = []
    for first in range(0, len(questions), IDS):
        replies += await _ask_on_one_socket(address, questions[first:first + IDS], timeout_s,
                                            gate)
    return replies


async def _ask_on_one_socket(address: tuple[str, int], questions: list[tuple[str, str]],
                             timeout_s: float, gate: asyncio.Semaphore) -> list[Reply]:
    if not questions:
        return []
    loop = asyncio.get_running_loop()
    try:
        transport, listener = await loop.create_datagram_endpoint(_Replies, remote_addr=address)
    except OSError:
        return [ASK_AGAIN] * len(questions)
    # Random ids, none twice on the socket: a reply must name a question we sent.
    ids = random.sample(range(IDS), len(questions))
    waiting: list[asyncio.Future[bytes]] = []
    try:
        for qid, (name, rtype) in zip(ids, questions, strict=True):
            await gate.acquire()
            waiting.append(listener.expect(qid, loop, timeout_s, gate.release))
            transport.sendto(qid.to_bytes(2, "big") + _query(name, rtype)[1][2:])
        await asyncio.wait(waiting)  # each ends: its reply, a refusal, or its deadline
    finally:
        transport.close()
        for each in waiting:  # cut short (a cancelled poll): their places are given back
            each.cancel()
    return [_read(name, rtype, reply) for (name, rtype), reply in zip(questions, waiting,
                                                                       strict=True)]


class _Replies(asyncio.DatagramProtocol):
    """Hands each datagram to the question whose id it carries."""

    def __init__(self) -> None:
        self._by_id: dict[int, asyncio.Future[bytes]] = {}

    def expect(self, qid: int, loop: asyncio.AbstractEventLoop, timeout_s: float,
               done: Callable[[], None]) -> asyncio.Future[bytes]:
        """The reply to question `qid`: b"" if none comes within `timeout_s`; `done` is
        called once it has ended, whichever way."""
        waiting: asyncio.Future[bytes] = loop.create_future()
        deadline = loop.call_later(timeout_s, _expire, waiting)

        def ended(_: asyncio.Future[bytes]) -> None:
            deadline.cancel()
            done()

        waiting.add_done_callback(ended)
        self._by_id[qid] = waiting
        return waiting

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        waiting = self._by_id.get(int.from_bytes(data[:2], "big")) if len(data) >= 12 else None
        if waiting is not None and not waiting.done():
            waiting.set_result(data)

    def error_received(self, exc: Exception) -> None:
        # An ICMP refusal on a connected socket: no question here will be answered.
        for waiting in self._by_id.values():
            if not waiting.done():
                waiting.set_exception(exc)


def _expire(waiting: asyncio.Future[bytes]) -> None:
    if not waiting.done():
        waiting.set_result(b"")


def _read(name: str, rtype: str, reply: asyncio.Future[bytes]) -> Reply:
    if reply.cancelled() or reply.exception() is not None:
        return ASK_AGAIN
    wire = reply.result()
    if not wire:
        return TIMED_OUT
    query = _query(name, rtype)[0]
    try:
        response = dns.message.from_wire(wire, raise_on_truncation=True)
    except dns.exception.DNSException:  # a truncated reply is one too: TCP is asked
        return ASK_AGAIN
    if not isinstance(response, dns.message.QueryMessage) or \
            not response.flags & dns.flags.QR or response.question != query.question:
        return ASK_AGAIN
    return _answer(query, response)


def _answer(query: dns.message.QueryMessage,
            response: dns.message.QueryMessage) -> Reply:
    """What dnspython's resolver makes of the reply (`_Resolution.query_result`)."""
    question = query.question[0]
    try:
        if response.rcode() == dns.rcode.NOERROR:
            return dns.resolver.Answer(question.name, question.rdtype, question.rdclass,
                                       response)
        if response.rcode() == dns.rcode.NXDOMAIN:
            dns.resolver.Answer(question.name, dns.rdatatype.ANY, dns.rdataclass.IN, response)
            return NXDOMAIN
    except Exception:  # noqa: BLE001 - the resolver takes the server as no good: so do we
        return ASK_AGAIN
    return ASK_AGAIN


@functools.lru_cache(maxsize=8192)
def _query(name: str, rtype: str) -> tuple[dns.message.QueryMessage, bytes]:
    """The query the resolver would send (recursion desired, no EDNS: an unconfigured
    resolver's defaults), and its wire form with id 0."""
    query = dns.message.make_query(name, rtype)
    query.id = 0
    return query, query.to_wire()
