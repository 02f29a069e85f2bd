"""The one bounded wait of the tests: look again until a condition holds, or fail saying
what was awaited and what was last seen.

Two entries share one deadline-and-report logic (`Deadline`): `eventually` for plain code
(it sleeps the poll interval between looks; `eventually_timed` also says how long it took),
and `wait_for` for a Textual pilot (it lets the app run with `pilot.pause` between looks, so
messages, timers and workers move on). The deadline is wall-clock time: `within=2` means
what a person means by it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from textual.pilot import Pilot

T = TypeVar("T")

WITHIN_S = 10.0
EVERY_S = 0.05


def _shown(value: object) -> str:
    """A value as the report shows it: a screen (text on several lines) below the message,
    anything else as its repr."""
    if isinstance(value, str) and "\n" in value:
        return "\n" + value
    return repr(value)


class Deadline:
    """When a wait gives up, how long it has taken, and what it says when it gives up."""

    def __init__(self, what: str, within: float) -> None:
        self.what, self.within = what, within
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def settled(self, value: object, held: bool, *,
                context: Callable[[], str] | None = None) -> bool:
        """True when `held`; False while there is time left to look again; else fail with
        what was awaited, the last value seen and `context()` (what else there is to see)."""
        if held:
            return True
        if self.elapsed < self.within:
            return False
        report = f"{self.what}: not within {self.within:g}s; last saw: {_shown(value)}"
        if context is not None:
            report += "\n" + context()
        raise AssertionError(report)


def eventually_timed(observe: Callable[[], T], until: Callable[[T], object] = bool, *,
                     what: str, within: float = WITHIN_S,
                     every: float = EVERY_S) -> tuple[T, float]:
    """Observe until `until(value)` holds; the value and how many seconds it took."""
    deadline = Deadline(what, within)
    while True:
        value = observe()
        if deadline.settled(value, bool(until(value))):
            return value, deadline.elapsed
        time.sleep(every)  # the poll interval between looks: the only sleep in the tests


def eventually(observe: Callable[[], T], until: Callable[[T], object] = bool, *,
               what: str, within: float = WITHIN_S, every: float = EVERY_S) -> T:
    """Observe until `until(value)` holds and return that value."""
    return eventually_timed(observe, until, what=what, within=within, every=every)[0]


async def wait_for(pilot: Pilot[Any], observe: Callable[[], T],
                   until: Callable[[T], object] = bool, *, what: str,
                   within: float = WITHIN_S, every: float = EVERY_S) -> T:
    """Let the app run until `until(observe())` holds, and return that value.

    Most callers pass a predicate as `observe`, so the last value seen is just False: on
    timeout the report adds the screen as it was then.
    """

    def screen() -> str:
        from support.ui import screen_text

        try:
            return "the screen showed:\n" + screen_text(pilot.app)
        except Exception as exc:  # the report must not hide the timeout behind another error
            return f"the screen could not be drawn as text: {exc!r}"

    deadline = Deadline(what, within)
    while True:
        value = observe()
        if deadline.settled(value, bool(until(value)), context=screen):
            return value
        await pilot.pause(every)  # the poll interval: the app runs on while the test waits
