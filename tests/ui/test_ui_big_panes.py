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
    assert "".join(lines[-1]) == f"+{100 * (1 + len(RESOLVERS)) - shown} more (z: every row)"


async def test_zoomed_the_dns_pane_shows_every_row_in_order_a_page_at_a_time() -> None:
    from cockpit.ui.widgets.pane import Pane
    from cockpit.ui.widgets.runbook import Runbook

    failing = {(41, "vpc-resolver")}
    app = frozen_app("driver")
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot)
        pane = app.screen.query_one("#pane-dns", Pane)
        view = _dns_view(100, failing, app.screen.view.panes["dns"].taken_at)
        pane.show(view)
        await pilot.press("z", "[")  # zoomed on the app servers, then back one: DNS
        await pilot.pause()
        assert app.screen.focused is pane and not app.screen.query_one("#top").display
        first_page = [line.text for line in pane._lines]
        room = len(first_page) - 2
        assert room > 20  # the pane has the screen's height, not its 11 rows beside others
        assert first_page[1].startswith("shop-000.oms.retail.example  route53")
        assert first_page[-1].startswith(f"rows 1-{room} of 400, 1 not ok")

        await pilot.press("pagedown")
        second_page = [line.text for line in pane._lines]
        assert second_page[-1].startswith(f"rows {room + 1}-{2 * room} of 400")
        # a resolver's row at the top of a page still says which name it answers for
        top = view.rows[room]
        name = next(r.cells[0] for r in reversed(view.rows[:room + 1]) if r.cells[0])
        assert second_page[1].split()[:2] == [name, top.cells[1]]

        await pilot.press("end")
        last_page = [line.text for line in pane._lines]
        assert last_page[-1].startswith(f"rows {400 - room + 1}-400 of 400")
        assert last_page[-2].split()[:2] == [RESOLVERS[-1], "oms-alb-1"]  # the very last row

        await pilot.press("z")
        await pilot.pause()
        assert app.screen.query_one("#top").display
        assert app.screen.focused is app.screen.query_one(Runbook)
        assert "".join(pane._lines[-1].cells).endswith("(z: every row)")
        assert "shop-041.oms.retail.example" in screen_text(app)  # problems first again
