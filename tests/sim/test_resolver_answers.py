"""The simulated resolvers answer as recursive resolvers do: an A query for a CNAME'd name
(what every client and `dig` asks) gets the CNAME and the target's address, over UDP and
TCP; after the switch, the ALB's name and address, once the cache has let the old go."""

from __future__ import annotations

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
from support.estate import running_sim
from support.plans import PHASE_ONE, load
from support.waiting import eventually

from cockpit.estate import elb, route53

ORDERS = "orders.oms.retail.example."


def ask(address: tuple[str, int], name: str, *, tcp: bool) -> list[tuple[str, str, str]]:
    """(owner, type, value) of each answer record, as a client gets them."""
    query = dns.message.make_query(name, "A")
    send = dns.query.tcp if tcp else dns.query.udp
    reply = send(query, address[0], port=address[1], timeout=2)
    assert reply.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(reply.rcode())
    return [(str(rrset.name).lower(), dns.rdatatype.to_text(rrset.rdtype), str(rdata).lower())
            for rrset in reply.answer for rdata in rrset]


def test_an_a_query_gets_the_cname_then_the_address_over_udp_and_tcp() -> None:
    plan = load(PHASE_ONE)
    with running_sim(plan, speed=50.0) as (sim, handle):
        address = sim.endpoints().resolvers["dc-dns-1"]
        before = {tcp: ask(address, ORDERS, tcp=tcp) for tcp in (False, True)}
        alb = elb.load_balancer_dns_name(handle, "oms-alb").lower().rstrip(".") + "."
        route53.upsert(handle, ["orders"], "alb:oms-alb")
        after = eventually(lambda: ask(address, ORDERS, tcp=True),
                           lambda seen: seen[0][2] == alb, within=30,
                           what="the resolver's cache let the datacentre name go")
    assert before[False] == before[True]
    (cname, a) = before[False]
    assert cname == (ORDERS, "CNAME", "oms-web.dc1.retail.example.")
    assert a[:2] == ("oms-web.dc1.retail.example.", "A") and a[2].startswith("127.")
    assert after[0] == (ORDERS, "CNAME", alb)
    assert after[1][:2] == (alb, "A") and after[1][2].startswith("127.0.1.")
