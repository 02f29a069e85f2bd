"""Fixtures and hooks for every test. Helpers are modules under `tests/support/`.

The folder a test lives in says what it costs, and gives it the marker of that name:

- `unit/`: plain code, no simulator, no real terminal (`-m "not sim and not ui and not
  e2e"` is the fast inner loop);
- `sim/`: against the simulated estate, in-process;
- `ui/`: the Textual app driven by a pilot, and its snapshots;
- `e2e/`: real terminals (tmux) and separate `cockpit` processes.

No test sees the developer's own config, state or `COCKPIT_*` variables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.plans import PHASE_ONE, load

from cockpit.session.served_sim import ENDPOINTS as SERVED_SIM
from cockpit.session.served_sim import ServedSim

if TYPE_CHECKING:
    from cockpit.plan.models import Plan

TESTS = Path(__file__).resolve().parent
FOLDERS = ("unit", "sim", "ui", "e2e")
# Kept: it says what CI requires of the machine (`tests/sim/test_sql_odbc.py`), not what
# the cockpit does.
KEPT_VARIABLES = {"COCKPIT_REQUIRE_ODBC", "COCKPIT_REQUIRE_BROWSER"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its folder; a test outside the four folders is an error, so the
    fast inner loop cannot pick up a slow test that nobody marked."""
    for item in items:
        try:
            folder = item.path.resolve().relative_to(TESTS).parts[0]
        except ValueError:
            continue  # not under tests/: not ours to mark
        if folder not in FOLDERS:
            raise pytest.UsageError(
                f"{item.nodeid}: put the test under one of tests/{{{','.join(FOLDERS)}}}/, "
                "by what it costs (see tests/conftest.py)")
        item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture(autouse=True)
def isolated_from_this_machine(tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The developer's config, state and `COCKPIT_*` variables out of every test's reach:
    the XDG folders are the test's own (empty), the config file is one that does not
    exist, and every `COCKPIT_*` variable is gone but those in `KEPT_VARIABLES`. Child
    processes started with `os.environ` inherit all of this."""
    for name in list(os.environ):
        if name.startswith("COCKPIT_") and name not in KEPT_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("COCKPIT_CONFIG", str(tmp_path / "xdg-config" / "no-config.toml"))
    yield
    # A `--sim` session's estate outlives its driver (for up to `[sim] linger_s`): one a
    # test left up is stopped with the test.
    for endpoints in tmp_path.rglob(SERVED_SIM):
        served = ServedSim.found_at(endpoints)
        if served is not None:
            served.stop()


@pytest.fixture(scope="session")
def phase_one() -> Plan:
    return load(PHASE_ONE)
