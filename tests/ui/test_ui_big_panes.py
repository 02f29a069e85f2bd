"""A pane with more rows than fit shows its problems first and says how many it hid: at
100x the DNS pane holds 1,500 answers, and the ones on screen must still say which name
each one is for."""

from __future__ import annotations

from typing import Any

from support.frozen import frozen_app
from support.ui import drawn, screen_text

RESOLVERS = ["dc-dns-1", "dc-dns-2", "vpc-resolver"]


def _dns_view(names: int, failing: set[tuple[int, str]], taken_at: Any) -> Any:
    """A DNS pane as the poller lays it out: Route 53's row under each name, then each
    resolver's answer with its name cell left blank; `failing` time out."""
    from cockpit.runner.panes import PaneRow, PaneView, laid_out

    rows = []
    for n in range(names):
        name = f"shop-{n:03d}.oms.retail.example"
        rows.append(PaneRow(status="ok", cells=[name, "route53", "oms-alb-1", "INSYNC", "",
                                                "= match"]))
        for resolver in RESOLVERS:
            bad = (n, resolver) in failing
            rows.append(PaneRow(status="bad" if bad else "ok", cells=[
                "", resolver, "timeout after 2s" if bad else "oms-alb-1", "",
                "-" if bad else "60", "x MISMATCH" if bad else "= match"]))
    return laid_out(PaneView(pane="dns", title="DNS", taken_at=taken_at, rows=rows,
                             columns=["name", "source", "answer", "change", "TTL", "match"]))


async def test_a_cut_down_dns_pane_names_the_record_of_every_problem_row() -> None:
    from cockpit.ui.widgets.pane import Pane

    failing = {(7, "dc-dns-2"), (41, "vpc-resolver"), (41, "dc-dns-1"), (99, "dc-dns-1")}
    app = frozen_app("driver")
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot)
        pane = app.screen.query_one("#pane-dns", Pane)
        pane.show(_dns_view(100, failing, app.screen.view.panes["dns"].taken_at))
        await pilot.pause()
        text = screen_text(app)
        lines = [line.text for line in pane._lines]

    timeouts = [line for line in text.splitlines() if "timeout after 2s" in line]
    assert len(timeouts) == len(failing)  # every problem is on screen
    for n, resolver in failing:
        assert any(f"shop-{n:03d}.oms.retail.example" in line and resolver in line
                   for line in timeouts), f"{resolver}'s timeout for shop-{n:03d} is unnamed"
    shown = len(lines) - 2  # under the header, above the count of the rest
    assert "".join(lines[-1]) == f"+{100 * (1 + len(RESOLVERS)) - shown} more"
