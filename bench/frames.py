"""Knowing when the screen was repainted, in a Textual app run under Pilot.

Textual paints in `Screen._compositor_refresh`: the compositor renders the dirty widgets'
regions into a `CompositorUpdate` and hands it to `App._display`, which writes it to the
terminal (under Pilot's headless driver it renders the update but skips the write). So a
call of `App._display` with an update, outside a batch, is a frame: `FrameWatch` wraps it
on the app instance and, on each frame, checks what a benchmark is waiting for (`expect`):
the first frame in which the check holds is the repaint that shows it.

Limits: the time is taken when the frame has been composed, before bytes would go to a
real terminal (writing them is skipped headless; a real tty adds the write and the
terminal's own drawing). A check reads widget state (a cursor row, a pane's rows): it
holds from the first frame composed after that state changed, which is the frame that
draws the change, since a widget's refresh marks it dirty at once. Only widgets inside
the visible region are checked by the benchmarks (they pick rows that are on screen).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Expectation:
    check: Callable[[], bool]
    seen_at: float | None = None
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, timeout_s: float) -> float | None:
        """perf_counter() of the frame that showed it, or None if none did in time."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout_s)
        except TimeoutError:
            return None
        return self.seen_at


class FrameWatch:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.frames = 0
        self._pending: list[Expectation] = []
        self._original = app._display
        app._display = self._display

    def expect(self, check: Callable[[], bool]) -> Expectation:
        expectation = Expectation(check)
        self._pending.append(expectation)
        return expectation

    def _display(self, screen: Any, renderable: Any) -> None:
        self._original(screen, renderable)
        if renderable is None or self.app._batch_count:
            return
        self.frames += 1
        now = time.perf_counter()
        for expectation in list(self._pending):
            if expectation.check():
                expectation.seen_at = now
                expectation.event.set()
                self._pending.remove(expectation)


def screen_text(app: Any) -> str:
    """The terminal's text as it would show now (no colour): to check that what a
    benchmark watches is on screen at all."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


async def wait_for_panes(app: Any, pilot: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        views = [getattr(app.screen, "view", None)] + [
            getattr(w, "view", None) for w in app.screen.query(".pane")]
        if all(v is not None for v in views):
            return
        await pilot.pause(0.05)
    raise RuntimeError("the driver's panes never showed their first poll")


async def check_on_screen(app: Any, pilot: Any, words: list[str],
                          timeout_s: float = 60.0) -> None:
    """Wait until every word is on screen (a first poll may have failed and left a pane
    empty); raise if one never shows, as a repaint could not show it either."""
    deadline = time.monotonic() + timeout_s
    missing = words
    while time.monotonic() < deadline:
        text = screen_text(app)
        missing = [w for w in words if w not in text]
        if not missing:
            return
        await pilot.pause(0.5)
    raise RuntimeError(f"not on screen, so a repaint would not show it: {missing}")
