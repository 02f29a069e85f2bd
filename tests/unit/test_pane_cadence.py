"""How a pane waits for its next poll: while polling is paused (or the screen is gone)
it asks again every RECHECK_S, and never spins the poller's loop."""

from __future__ import annotations

import asyncio

import pytest

from cockpit.runner import poller
from cockpit.runner.poller import RECHECK_S, until_due


def test_a_pane_paused_long_after_its_last_poll_asks_again_every_recheck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []
    answers = iter([None, None, None, 2.0])  # paused three times, then resumed

    def cadence(pane: str) -> float | None:
        asked.append(pane)
        return next(answers)

    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # the loop's time does not move meanwhile
        slept.append(seconds)

    async def wait() -> None:
        loop = asyncio.get_running_loop()
        monkeypatch.setattr(poller.asyncio, "sleep", sleep)
        # the last poll began a minute ago: once resumed, the pane is overdue
        await until_due("apps", loop.time() - 60, cadence)

    asyncio.run(wait())
    assert asked == ["apps"] * 4
    assert slept == [RECHECK_S] * 3

