"""Once every pane is drawn, the app freezes what it has loaded: Python's full collections
then leave it alone, and a key press no longer waits behind one on the screen's thread."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from support.frozen import FrozenReader, frozen_app, frozen_clock, frozen_view
from support.ui import drawn

from cockpit.ui import heap


@pytest.fixture
def unsettled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process whose heap no app has settled yet; unfrozen again afterwards, so the
    tests after this one collect their garbage as usual."""
    gc.unfreeze()
    monkeypatch.setattr(heap, "_settled", False)
    yield
    gc.unfreeze()


async def test_the_heap_is_frozen_once_every_pane_is_drawn(unsettled: None) -> None:
    app = frozen_app("driver")
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot)
        assert gc.get_freeze_count() > 0


async def test_a_cockpit_still_waiting_for_a_pane_leaves_the_heap_alone(
        unsettled: None) -> None:
    from cockpit.ui.app import make_watch_app

    view = frozen_view()
    del view.panes["ag"]
    app = make_watch_app(FrozenReader(view), keymap={}, clock=frozen_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot)
        assert gc.get_freeze_count() == 0


async def test_the_heap_is_settled_after_the_last_pane_is_on_screen(
        unsettled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The full collection before the freeze holds the screen's thread for a tenth of a
    second: it comes after the frame that shows the last pane, not before it."""
    from cockpit.ui.widgets.pane import Pane

    app = frozen_app("driver")
    shown_when_settled: list[bool] = []
    settle = heap.settle

    def settling() -> None:
        panes = list(app.screen.query(Pane))
        shown_when_settled.append(bool(panes) and all(pane.view is not None
                                                      for pane in panes))
        settle()

    monkeypatch.setattr(heap, "settle", settling)
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot)
    assert shown_when_settled == [True]
