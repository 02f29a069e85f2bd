"""The step graph: `after` edges, and the cycles that leave no order to run steps in.

Iterative throughout: a generated plan may chain thousands of steps, and Python's
recursion limit must not be what decides whether a plan can be checked.
"""

from __future__ import annotations

from collections import deque

Graph = dict[str, list[str]]


def find_cycles(graph: Graph, order: dict[str, int]) -> list[list[str]]:
    """One cycle per knot of steps waiting on each other, the shortest through the knot's
    earliest step, starting there. `a -> b` reads "a runs after b"."""
    cycles = []
    for knot in _knots(graph):
        start = min(knot, key=order.__getitem__)
        cycles.append(_shortest_cycle(graph, start, knot))
    return sorted(cycles, key=lambda cycle: order[cycle[0]])


def _knots(graph: Graph) -> list[set[str]]:
    """Strongly connected sets of steps that hold a cycle (Kosaraju's two passes)."""
    reverse: Graph = {node: [] for node in graph}
    for node, deps in graph.items():
        for dep in deps:
            reverse[dep].append(node)
    assigned: set[str] = set()
    knots = []
    for root in reversed(_finish_order(graph)):
        if root not in assigned:
            component = _reach(reverse, root, assigned)
            assigned |= component
            if len(component) > 1 or root in graph[root]:
                knots.append(component)
    return knots


def _finish_order(graph: Graph) -> list[str]:
    finished: list[str] = []
    seen: set[str] = set()
    for root in graph:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(graph[root]))]
        while stack:
            node, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                stack.pop()
                finished.append(node)
            elif dep not in seen:
                seen.add(dep)
                stack.append((dep, iter(graph[dep])))
    return finished


def _reach(graph: Graph, root: str, excluded: set[str]) -> set[str]:
    found = {root}
    todo = [root]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in found and nxt not in excluded:
                found.add(nxt)
                todo.append(nxt)
    return found


def _shortest_cycle(graph: Graph, start: str, knot: set[str]) -> list[str]:
    """Breadth-first from `start` inside its knot until an edge leads back to it."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for dep in graph[node]:
            if dep == start:
                return _path_to(node, parent, start)
            if dep in knot and dep not in parent:
                parent[dep] = node
                queue.append(dep)
    return [start]  # unreachable for a knot; keeps the function total


def _path_to(node: str, parent: dict[str, str], start: str) -> list[str]:
    path = [node]
    while path[-1] != start:
        path.append(parent[path[-1]])
    return path[::-1]
