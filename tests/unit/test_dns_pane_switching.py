"""While the switch waits on Route 53, a name that already answers the ALB is switching,
not a mismatch: for the seconds of PENDING the DNS pane read `x MISMATCH` on Route 53's
own rows, which an engineer on the bridge reads as a fault."""

from __future__ import annotations

from pathlib import Path

from cockpit.estate.snapshots import DnsSnapshot, RecordsSnapshot, RecordValue, ResolverAnswer
from cockpit.plan.loader import load_plan
from cockpit.runner.panes import dns_view, expected_dns, switching_dns
from cockpit.runner.state import RunState, Status, derive

DEMO = Path(__file__).parents[2] / "cockpit" / "demo" / "oms-demo.toml"
ALB = "oms-alb-1234.ap-southeast-2.elb.amazonaws.com"


def _panes_match_column(run: RunState) -> dict[tuple[str, str], tuple[str, str]]:
    plan = load_plan(DEMO)
    orders = next(r for r in plan.estate.records if r.id == "orders")
    held = RecordsSnapshot(records=[RecordValue(record="orders", name=orders.name,
                                                type="CNAME", value=ALB)])
    answers = DnsSnapshot(answers=[
        ResolverAnswer(resolver="dc-dns-1", record="orders", name=orders.name,
                       value=orders.value, ttl=41),
        ResolverAnswer(resolver="vpc-resolver", record="orders", name=orders.name,
                       value=ALB + ".", ttl=60),
        ResolverAnswer(resolver="dc-dns-2", record="orders", name=orders.name,
                       value="somewhere-else.example", ttl=60)])
    view = dns_view(plan, expected_dns(plan, run), held, answers, "PENDING",
                    switching_dns(plan, run))
    rows, source = [], ""
    for row in view.rows:
        source = row.cells[0] or source
        rows.append(((source, row.cells[1]), (row.status, row.cells[5])))
    return {key: value for key, value in rows if key[0] == "orders.oms.retail.example"}


def _switch(status: Status) -> RunState:
    run = derive(load_plan(DEMO), [])
    step = run.steps["switch-dns"]
    step.status = status
    step.outputs = {"change_ids": ["C0123"], "values": {"orders": ALB, "fulfilment": ALB}}
    return run


def test_while_the_switch_waits_a_source_on_the_new_value_reads_switching() -> None:
    match = _panes_match_column(_switch(Status.RUNNING))
    assert match[("orders.oms.retail.example", "route53")] == ("warn", "~ switching")
    assert match[("orders.oms.retail.example", "vpc-resolver")] == ("warn", "~ switching")
    assert match[("orders.oms.retail.example", "dc-dns-1")] == ("ok", "= match")  # cached
    assert match[("orders.oms.retail.example", "dc-dns-2")] == ("bad", "x MISMATCH")


def test_once_the_switch_succeeded_the_new_value_is_the_match() -> None:
    match = _panes_match_column(_switch(Status.SUCCEEDED))
    assert match[("orders.oms.retail.example", "route53")] == ("ok", "= match")
    assert match[("orders.oms.retail.example", "vpc-resolver")] == ("ok", "= match")
    assert match[("orders.oms.retail.example", "dc-dns-1")] == ("bad", "x MISMATCH")


def test_with_no_switch_under_way_the_new_value_is_a_mismatch() -> None:
    match = _panes_match_column(derive(load_plan(DEMO), []))
    assert match[("orders.oms.retail.example", "route53")] == ("warn", "x MISMATCH")
    assert match[("orders.oms.retail.example", "dc-dns-1")] == ("ok", "= match")
