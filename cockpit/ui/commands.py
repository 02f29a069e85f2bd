"""The command palette: every step, with what can be done to it in this mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.types import IgnoreReturnCallbackType

from cockpit.ui.screens.base import CockpitScreen
from cockpit.ui.screens.driver import DriverScreen

Entry = tuple[str, IgnoreReturnCallbackType, str]


class StepCommands(Provider):
    def _entries(self) -> list[Entry]:
        screen = self.screen
        if not isinstance(screen, CockpitScreen) or screen.view is None:
            return []
        entries: list[Entry] = []
        for step in screen.view.plan.steps():
            status = screen.view.run.steps[step.id].status.value
            entries.append((f"select {step.id}", partial(screen.select_step, step.id),
                            f"{step.title} ({status})"))
            if isinstance(screen, DriverScreen):
                entries.append((f"run {step.id}", partial(screen.request_run, step.id),
                                step.title))
                if step.undo is not None:
                    entries.append((f"undo {step.id}", partial(screen.request_undo, step.id),
                                    f"reverse: {step.title}"))
        return entries

    async def discover(self) -> Hits:
        for name, callback, help_text in self._entries():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for name, callback, help_text in self._entries():
            score = matcher.match(f"{name} {help_text}")
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
