"""The command palette: every step, with what can be done to it in this mode."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


class StepCommands(Provider):
    def _entries(self) -> list[tuple[str, Callable[[], Any], str]]:
        screen: Any = self.screen
        view = getattr(screen, "view", None)
        if view is None:
            return []
        driver = screen.mode == "DRIVER"
        entries = []
        for step in view.plan.steps():
            status = view.run.steps[step.id].status.value
            entries.append((f"select {step.id}", _call(screen, "select_step", step.id),
                            f"{step.title} ({status})"))
            if driver:
                entries.append((f"run {step.id}", _call(screen, "run_step_by_id", step.id),
                                step.title))
                if step.undo is not None:
                    entries.append((f"undo {step.id}", _call(screen, "undo_step_by_id", step.id),
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


def _call(screen: Any, method: str, step_id: str) -> Callable[[], Any]:
    return lambda: getattr(screen, method)(step_id)
