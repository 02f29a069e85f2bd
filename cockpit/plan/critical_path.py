"""The critical path: the chain of `after` dependencies that takes longest to run.

Steps that do not wait on each other may run side by side, so the window lasts as long as
its longest chain, not as long as the sum of its steps. Iterative, in one pass over the
steps in an order that puts every step after those it waits on: a generated plan may chain
thousands of steps, and Python's recursion limit must not decide whether it is forecast.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a plan's models are built by whoever read the plan
    from cockpit.plan.models import Plan


def critical_path(plan: Plan, durations: Mapping[str, float]) -> list[str]:
    """The step ids of the longest chain, first to last, each step weighing its entry in
    `durations` (its budget when it has none). Ties go to the step the plan lists first.
    A cycle (refused by the loader) leaves its steps out rather than looping."""
    steps = plan.steps()
    order = {step.id: index for index, step in enumerate(steps)}
    after = {step.id: [dep for dep in step.after if dep in order] for step in steps}
    weight = {step.id: float(durations.get(step.id, step.budget)) for step in steps}
    finish: dict[str, float] = {}
    came_from: dict[str, str | None] = {}
    for step_id in _dependencies_first(after, order):
        deps = after[step_id]
        longest = max(deps, key=lambda dep: (finish[dep], -order[dep]), default=None)
        came_from[step_id] = longest
        finish[step_id] = weight[step_id] + (finish[longest] if longest else 0.0)
    if not finish:
        return []
    last = max(finish, key=lambda step_id: (finish[step_id], -order[step_id]))
    return _walk_back(last, came_from)


def path_length(path: list[str], durations: Mapping[str, float]) -> float:
    return sum(durations.get(step_id, 0.0) for step_id in path)


def _dependencies_first(after: dict[str, list[str]], order: dict[str, int]) -> list[str]:
    """Kahn's order, plan order among steps that are free at the same time."""
    waiting = {step_id: len(set(deps)) for step_id, deps in after.items()}
    followers: dict[str, list[str]] = {step_id: [] for step_id in after}
    for step_id, deps in after.items():
        for dep in set(deps):
            followers[dep].append(step_id)
    free = deque(sorted((s for s, n in waiting.items() if n == 0), key=order.__getitem__))
    ordered: list[str] = []
    while free:
        step_id = free.popleft()
        ordered.append(step_id)
        for follower in followers[step_id]:
            waiting[follower] -= 1
            if waiting[follower] == 0:
                free.append(follower)
    return ordered


def _walk_back(last: str, came_from: Mapping[str, str | None]) -> list[str]:
    path = [last]
    while (previous := came_from[path[-1]]) is not None:
        path.append(previous)
    return path[::-1]
