"""Every condition and action kind, one module per system, merged into the registries.

The merge is eager, at import: a kind module imports only `kinds.base` (and the estate and
the plan's models), so nothing here can cycle, and two modules claiming the same model type
fail the import instead of one quietly shadowing the other. A kind with no handler at all is
caught by tests/unit/test_runner_kinds.py, which holds these tables against the plan's unions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from cockpit.runner.kinds import (
    cloudwatch,
    ec2,
    elb,
    http,
    manual,
    readiness,
    route53_dns,
    s3,
    sql,
    sql_chain,
    sql_readiness,
    steps,
)
from cockpit.runner.kinds.base import Actions, Effects, KindModule, Probes, WatchedBy

__all__ = ["ACTIONS", "EFFECTS", "PANE_OF", "PROBES", "SYSTEMS", "KindClash"]

SYSTEMS: tuple[KindModule, ...] = (ec2, elb, route53_dns, http, sql, sql_chain, sql_readiness,
                                   s3, cloudwatch, readiness, manual, steps)

K = TypeVar("K", bound=type)
V = TypeVar("V")


class KindClash(ImportError):
    """Two kind modules claim the same model type."""


def _merge(table: str, by_module: Mapping[str, Mapping[K, V]]) -> dict[K, V]:
    merged: dict[K, V] = {}
    owner: dict[K, str] = {}
    for module, entries in by_module.items():
        for kind, entry in entries.items():
            if kind in merged:
                raise KindClash(f"{kind.__name__} is in both {owner[kind]}.{table} "
                                f"and {module}.{table}")
            merged[kind], owner[kind] = entry, module
    return merged


PROBES: Probes = _merge("PROBES", {s.__name__: s.PROBES for s in SYSTEMS})
ACTIONS: Actions = _merge("ACTIONS", {s.__name__: s.ACTIONS for s in SYSTEMS})
# Action type -> what the estate shows when it has taken effect (None: it cannot tell).
EFFECTS: Effects = _merge("EFFECTS", {s.__name__: s.EFFECTS for s in SYSTEMS})
# Model type -> the pane that shows it (runner.panes); kinds no pane shows are absent.
PANE_OF: WatchedBy = _merge("WATCHED_BY", {s.__name__: s.WATCHED_BY for s in SYSTEMS})
