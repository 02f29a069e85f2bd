"""The driver's screen's styles are parsed while the session opens, on the screen's thread
then idle: the frame that first shows the session, between the estate's answer and live
panes, parses none of its widgets' CSS (0.1-0.36 s of that frame in the demo)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support.frozen import FrozenDriverSource, frozen_clock, frozen_view
from support.ui import drawn
from support.waiting import wait_for
from textual.css import stylesheet
from textual.dom import DOMNode

from cockpit.ui.app import make_opening_app
from cockpit.ui.screens.driver import DriverScreen


class HeldOpening:
    """An opening that answers once the test lets it: the frozen session."""

    def __init__(self) -> None:
        self.asked, self.go = threading.Event(), threading.Event()

    def describe(self) -> str:
        return "opening the frozen session ..."

    def open(self) -> FrozenDriverSource:
        self.asked.set()
        self.go.wait(30)
        return FrozenDriverSource(frozen_view())

    def cancel(self, *, hangup: bool) -> None:
        self.go.set()


async def test_the_driver_screen_first_shows_on_styles_parsed_while_it_opened(
        monkeypatch: pytest.MonkeyPatch) -> None:
    opening = HeldOpening()
    app = make_opening_app(opening, keymap={}, clock=frozen_clock)
    composed = {f"{base.__name__}.DEFAULT_CSS" for widget in DriverScreen.composed_ahead()
                for base in type(widget).__mro__
                if isinstance(base, type) and issubclass(base, DOMNode)}
    parsed: list[str] = []
    parse = stylesheet.parse

    def counted(scope: str, css: str, read_from: Any, *args: Any, **kwargs: Any) -> Any:
        parsed.append(read_from[1])
        return parse(scope, css, read_from, *args, **kwargs)

    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, opening.asked.is_set, what="the opening under way")
        monkeypatch.setattr(stylesheet, "parse", counted)
        opening.go.set()
        await drawn(pilot, screen=DriverScreen)
    # Textual may parse a source of its own as a screen comes (a Screen's, a footer key's):
    # none of the widgets the driver's screen composes.
    assert composed & set(parsed) == set(), parsed
    assert "DataTable.DEFAULT_CSS" in composed  # the runbook's, the largest of them
