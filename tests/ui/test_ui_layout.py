"""What the main screen shows at the sizes the cockpit promises, read as text.

The frozen session of `support.frozen` (a 7-step window 17 minutes in, 14 audit entries, all
five panes) is drawn at 80x24, 120x40 (the Must-show size) and 160x48, and the screen's
text is checked for what an engineer needs to read off it. The snapshots show the same
screens as pictures; these say which parts must be there.
"""

from __future__ import annotations

import pytest
from support.frozen import FROZEN_FOLDER, frozen_app, frozen_entries, frozen_view
from support.ui import drawn, footer_line, header_text, runbook_marks, screen_text


def at(size: tuple[int, int]) -> object:
    return pytest.param(size, id=f"{size[0]}x{size[1]}")


@pytest.mark.parametrize("mode", ["driver", "watch"])
async def test_too_small_says_so_then_recovers(mode: str) -> None:
    """Below 80x24 the screen names both sizes instead of a broken layout, and recovers."""
    app = frozen_app(mode)
    async with app.run_test(size=(40, 10)) as pilot:
        await drawn(pilot)
        shown = " ".join(screen_text(app).split())
        assert "Terminal too small: 40x10." in shown
        assert "needs at least 80x24" in shown
        assert "targets-healthy" not in shown

        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        shown = screen_text(app)
        assert "Terminal too small" not in shown
        assert "targets-healthy" in shown
        assert runbook_marks(app)["targets-healthy"] == "RUN.."


@pytest.mark.parametrize("mode", ["driver", "watch"])
@pytest.mark.parametrize("size", [at((80, 24)), at((120, 40))])
async def test_the_header_names_mode_plan_driver_identity_and_window(
    mode: str, size: tuple[int, int],
) -> None:
    app = frozen_app(mode)
    async with app.run_test(size=size) as pilot:
        await drawn(pilot)
        lines = screen_text(app).splitlines()
        assert lines[0].startswith(f" {mode.upper()} ")
        assert "OMS Phase One" in lines[0]
        assert lines[1].startswith(" drives: jo@jump1 | window 0:16:50 / 0:45:00")
        if size[0] >= 120:  # at 80 columns these are cut off (the snapshots show where)
            assert "AWS 123456789012 (oms-cutover)" in lines[0]
            # targets-healthy is 1:40 into its 2:00 budget: 0:20 of it is left, not all of it
            assert "ends ~02:20Z (0:22:50 spare)" in lines[1]


@pytest.mark.parametrize("size", [at((120, 40))])
async def test_every_pane_shows_its_age_and_the_stale_one_says_so(size: tuple[int, int]) -> None:
    app = frozen_app("driver")
    async with app.run_test(size=size) as pilot:
        await drawn(pilot)
        shown = screen_text(app)
        for title in ("App servers", "ALB targets", "SQL availability group",
                      "Backup and restore", "DNS", "Audit log"):
            assert title in shown, title
        assert shown.count(" ago ") == 5
        assert "STALE ERROR, 40s ago" in shown
        assert "ERROR: oms-db-dc: login timeout expired (HYT00)" in shown
        assert "x MISMATCH" in shown


@pytest.mark.parametrize("mode", [
    "driver",
    "watch",
])
async def test_the_audit_tail_shows_the_newest_entry_at_120x40(mode: str) -> None:
    newest = frozen_entries()[-1]
    app = frozen_app(mode)
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot)
        assert f"{newest.ts:%H:%M:%S} #{newest.seq}" in screen_text(app)


@pytest.mark.parametrize("size", [
    at((120, 40)),
    at((160, 48)),
])
async def test_every_step_of_the_runbook_is_on_screen(size: tuple[int, int]) -> None:
    app = frozen_app("driver")
    async with app.run_test(size=size) as pilot:
        await drawn(pilot)
        shown = screen_text(app)
        missing = [s.id for s in frozen_view().plan.steps() if s.id not in shown]
        assert missing == []


@pytest.mark.parametrize("size", [
    at((120, 40)),
    at((160, 48)),
])
async def test_the_driver_header_says_how_to_watch(size: tuple[int, int]) -> None:
    app = frozen_app("driver")
    async with app.run_test(size=size) as pilot:
        await drawn(pilot)
        assert f"cockpit watch {FROZEN_FOLDER}" in screen_text(app)


@pytest.mark.parametrize("mode", [
    "driver",
    "watch",
])
async def test_the_footer_shows_the_help_key_at_80x24(mode: str) -> None:
    app = frozen_app(mode)
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot)
        assert "? Help" in footer_line(app)


async def test_the_watcher_says_read_only_at_80x24() -> None:
    app = frozen_app("watch")
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot)
        assert "read-only" in header_text(app) and "read-only" in screen_text(app)


async def test_the_driver_screen_beats_from_its_own_loop() -> None:
    """The heartbeat that tells watchers and take-overs the driver is alive comes from the
    screen's event loop, so a loop stuck in the terminal stops it."""
    from support.frozen import FrozenDriverSource, frozen_clock
    from support.waiting import wait_for

    from cockpit.settings import CockpitSettings, RunnerSettings
    from cockpit.ui.app import make_driver_app

    source = FrozenDriverSource(frozen_view())
    settings = CockpitSettings(runner=RunnerSettings(heartbeat_every_s=0.1))
    app = make_driver_app(source, keymap={}, clock=frozen_clock, settings=settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot)
        await wait_for(pilot, lambda: source.beats >= 3, what="three heartbeats")
