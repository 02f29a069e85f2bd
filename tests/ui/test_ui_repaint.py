"""A redraw that changes nothing repaints nothing: the screen redraws the runbook every
second while a step runs, and the header and the strip at every pane's poll; a key press
waits behind whatever that costs on the screen's thread."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from support.frozen import frozen_app, frozen_clock
from support.ui import drawn, screen_text

from cockpit.runner.state import Status
from cockpit.session.forecast import critical_steps
from cockpit.ui.widgets.runbook import Runbook


def _count_cell_updates(runbook: Runbook, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    updated: list[str] = []
    update_cell = runbook.update_cell

    def counted(row: Any, column: Any, value: Any, **kwargs: Any) -> None:
        updated.append(f"{row}.{column}")
        update_cell(row, column, value, **kwargs)

    monkeypatch.setattr(runbook, "update_cell", counted)
    return updated


async def test_the_runbook_updates_only_the_cells_that_read_differently(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = frozen_app("driver")
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot)
        runbook = app.screen.query_one(Runbook)
        view = app.screen.view
        updated = _count_cell_updates(runbook, monkeypatch)

        critical = critical_steps(view, frozen_clock())
        runbook.show(view.run, frozen_clock(), critical=critical)
        assert updated == []  # the same run, the same clock: nothing to update

        running = next(s for s in view.run.steps.values() if s.status is Status.RUNNING)
        runbook.show(view.run, frozen_clock() + timedelta(seconds=1), critical=critical)
        assert updated == [f"{running.step_id}.time"]  # the running step's clock, alone
        await pilot.pause()
        assert any(running.step_id in line for line in screen_text(app).splitlines())


async def test_the_header_and_strip_are_not_laid_out_again_when_they_read_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from cockpit.ui.widgets.header import CockpitHeader
    from cockpit.ui.widgets.status_strip import StatusStrip

    app = frozen_app("driver")
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot)
        updates: list[str] = []
        for widget in (app.screen.query_one(CockpitHeader), app.screen.query_one(StatusStrip)):
            monkeypatch.setattr(widget, "update", lambda *a, _w=widget, **k: updates.append(
                type(_w).__name__))
        app.screen._tick()  # the screen's one-second redraw, with the clock pinned
        app.screen._draw_strip()
        assert updates == []


def _dns_view(answer: str, match: str, taken_at: Any) -> Any:
    """A DNS pane's view taken when the screen's own was: the screen, which shows a
    pane's view again whenever its time differs, leaves this one on the pane."""
    from cockpit.runner.panes import PaneRow, PaneView, laid_out

    return laid_out(PaneView(pane="dns", title="DNS", taken_at=taken_at, columns=[
        "name", "source", "answer", "change", "TTL", "match"], rows=[
        PaneRow(cells=["orders.oms.retail.example", "route53", answer, "INSYNC", "",
                       match]),
        PaneRow(cells=["", "dc-dns-1", "oms-web.dc1.retail.example", "", "54", match])]))


async def test_a_pane_repaints_every_character_that_reads_differently(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After the switch the answer column widens: the cells after it move right though
    their words are the same, and must be drawn again where they now stand (a repaint of
    the changed cells alone left the old words on screen)."""
    from textual.geometry import Region

    from cockpit.ui.widgets.pane import Pane

    app = frozen_app("driver")
    async with app.run_test(size=(160, 48)) as pilot:
        await drawn(pilot)
        pane = app.screen.query_one("#pane-dns", Pane)
        taken_at = app.screen.view.panes["dns"].taken_at
        pane.show(_dns_view("oms-web.dc1.retail.example", "= match", taken_at))
        await pilot.pause()
        before = [line.text for line in pane._lines]
        regions: list[Region] = []
        monkeypatch.setattr(pane, "refresh", lambda *r, **k: regions.extend(r) or pane)

        pane.show(_dns_view("oms-alb-1.ap-southeast-2.elb.amazonaws.com", "x MISMATCH",
                            taken_at))
        after = [line.text for line in pane._lines]
        assert len(after) == len(before) and regions  # repainted in place, not laid out
        width = pane.size.width
        for y, (old, new) in enumerate(zip(before, after, strict=True)):
            differs = [x for x in range(width) if old[x:x + 1] != new[x:x + 1]]
            missed = [x for x in differs if not any(r.contains(x, y) for r in regions)]
            assert not missed, f"line {y}: {new!r} left unpainted at columns {missed[:5]}..."


async def test_a_pane_s_age_repaints_its_border_line_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pane's age changes every second: the new age is on screen, and only the
    border line it is written on was repainted (the whole pane was, each second, while
    the engineer moved through the runbook)."""
    from textual.geometry import Region
    from textual.widget import Widget

    from cockpit.ui.widgets.pane import Pane

    app = frozen_app("driver")
    async with app.run_test(size=(160, 48)) as pilot:
        await drawn(pilot)
        pane = app.screen.query_one("#pane-apps", Pane)
        assert pane.view is not None
        later = pane.view.taken_at + timedelta(seconds=7)
        repainted: list[tuple[Region, ...]] = []
        refresh = Widget.refresh

        def recorded(widget: Widget, *regions: Region, **kwargs: Any) -> Widget:
            if widget is pane:
                repainted.append(regions)
            return refresh(widget, *regions, **kwargs)

        monkeypatch.setattr(Widget, "refresh", recorded)
        pane.refresh_age(later)
        await pilot.pause()

        bottom = pane.region.bottom - 1
        assert [[region.translate(pane.content_offset).translate(pane.region.offset)
                 for region in regions] for regions in repainted] == [
            [Region(pane.region.x, bottom, pane.region.width, 1)]]
        assert "7s ago" in screen_text(app).splitlines()[bottom]
