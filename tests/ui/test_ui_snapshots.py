"""Snapshots of the cockpit's main screen, driver and watcher, with every datum frozen.

The session (plan, audit entries, the five panes) is fixed in `support.frozen`, and the app's
clock is pinned, so the window clock and every age read the same on every run. Regenerate
with `pytest tests/ui/test_ui_snapshots.py --snapshot-update` and look at the SVGs before
committing them.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.frozen import frozen_app
from support.ui import drawn

SIZES = [(80, 24), (120, 40), (160, 48)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", ["driver", "watch"])
def test_main_screen(snap_compare: Any, mode: str, size: tuple[int, int]) -> None:
    assert snap_compare(frozen_app(mode), terminal_size=size, run_before=drawn)


def test_watch_screen_when_the_driver_is_gone(snap_compare: Any) -> None:
    app = frozen_app("watch", driver_alive=False)
    assert snap_compare(app, terminal_size=(120, 40), run_before=drawn)


def test_small_terminal_cycles_to_the_audit_log(snap_compare: Any) -> None:
    """At 80x24 one pane shows at a time; `[` from the first pane shows the audit log."""
    assert snap_compare(frozen_app("driver"), terminal_size=(80, 24), run_before=drawn,
                        press=["left_square_bracket"])


def test_too_small_terminal_says_so(snap_compare: Any) -> None:
    assert snap_compare(frozen_app("driver"), terminal_size=(40, 10), run_before=drawn)
