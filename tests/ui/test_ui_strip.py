"""The strip under the header: every pane in a few characters, at every size.

At 80x24 one pane shows at a time; the strip is what keeps the other four in sight. The
frozen session's panes: four app servers up, one of two targets healthy, a secondary still
synchronizing, a backup pane in error (and stale), one resolver of four answering wrong.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.frozen import FrozenReader, frozen_app, frozen_clock, frozen_view
from support.ui import drawn, screen_text

from cockpit.runner.panes import PaneView

FROZEN_STRIP = "apps 4/4 · ALB 1/2 healthy · AG SYNCING 1/2 · backup err · DNS 3/4"


def at(size: tuple[int, int]) -> object:
    return pytest.param(size, id=f"{size[0]}x{size[1]}")


def strip_line(app: Any) -> str:
    """The screen's line that starts with the app servers' summary."""
    lines = [line.strip() for line in screen_text(app).splitlines()]
    return next((line for line in lines if line.startswith("apps ")), "")


def watch_app(panes: dict[str, PaneView]) -> Any:
    from cockpit.ui.app import make_watch_app

    view = frozen_view()
    view.panes = panes
    return make_watch_app(FrozenReader(view), keymap={}, clock=frozen_clock)


@pytest.mark.parametrize("mode", ["driver", "watch"])
@pytest.mark.parametrize("size", [at((80, 24)), at((120, 40))])
async def test_the_strip_says_every_pane_under_the_header(mode: str,
                                                          size: tuple[int, int]) -> None:
    app = frozen_app(mode)
    async with app.run_test(size=size) as pilot:
        await drawn(pilot)
        lines = screen_text(app).splitlines()
        assert strip_line(app) == FROZEN_STRIP
        header_rows = 3 if mode == "driver" else 2  # the driver's says how to watch
        assert lines[header_rows].strip() == FROZEN_STRIP


@pytest.mark.parametrize("size", [at((80, 24)), at((120, 40))])
async def test_a_pane_in_error_and_one_not_yet_polled_say_so(size: tuple[int, int]) -> None:
    panes = frozen_view().panes
    panes["dns"] = panes["dns"].model_copy(update={"error": "Timeout: vpc-resolver"})
    del panes["ag"]
    app = watch_app(panes)
    async with app.run_test(size=size) as pilot:
        await drawn(pilot)
        assert strip_line(app) == "apps 4/4 · ALB 1/2 healthy · AG … · backup err · DNS err"


async def test_at_80x24_the_strip_names_the_panes_that_are_not_shown() -> None:
    """One pane fills the bottom at 80x24: the others' state is read off the strip."""
    app = frozen_app("driver")
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot)
        shown = screen_text(app)
        assert "App servers · 4/4" in shown
        assert "ALB targets" not in shown.replace(FROZEN_STRIP, "")
        assert "ALB 1/2 healthy" in strip_line(app)


async def test_a_pane_of_hundreds_of_rows_counts_them_in_its_title() -> None:
    """160 targets, three unhealthy: a few rows fit, the title and the strip count all."""
    targets = frozen_view().panes["targets"]
    rows = [targets.rows[0].model_copy(update={
        "cells": ["oms-web", f"oms-app-{n}", "8080", "2a", "healthy", ""]}) for n in range(157)]
    rows += [targets.rows[0].model_copy(update={
        "status": "bad", "cells": ["oms-web", f"oms-bad-{n}", "8080", "2b", "unhealthy",
                                   "ResponseCodeMismatch"]}) for n in range(3)]
    panes = frozen_view().panes
    panes["targets"] = targets.model_copy(update={"rows": rows})
    app = watch_app(panes)
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot)
        assert "ALB targets · 157/160 healthy" in screen_text(app)
        assert "ALB 157/160 healthy" in strip_line(app)


async def test_a_watcher_of_a_closed_session_reads_every_pane_stale_at_80x24() -> None:
    """Every pane minutes old: `stale` is said once, so all five still fit in 80 columns."""
    from datetime import timedelta

    from support.frozen import FROZEN_NOW

    panes = {name: v.model_copy(update={"taken_at": FROZEN_NOW - timedelta(minutes=12)})
             for name, v in frozen_view().panes.items()}
    app = watch_app(panes)
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot)
        line = " ".join(screen_text(app).splitlines()[2].split())
        assert line == ("stale: apps 4/4 · ALB 1/2 · AG SYNCING 1/2 · backup err · DNS 3/4")
