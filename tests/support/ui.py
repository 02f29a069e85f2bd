"""What the cockpit's screen shows, read as text, and waiting for it to be drawn.

Heavy imports (textual, moto) happen inside the helpers or only for type checking, so a
test module that imports this does not pay for them at collection.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from support.waiting import wait_for

if TYPE_CHECKING:
    from textual.app import App
    from textual.pilot import Pilot
    from textual.screen import Screen


def screen_text(app: App[Any]) -> str:
    """The terminal's text as the user sees it now, modals and all (no colour).

    `App.export_screenshot` renders the same compositor output to SVG; this renders it to
    plain text so tests can read the screen line by line.
    """
    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


def footer_line(app: App[Any]) -> str:
    """The key hints along the bottom: the screen's last line with text on it."""
    return [line for line in screen_text(app).splitlines() if line.strip()][-1]


def footer_shows_its_keys(app: App[Any]) -> bool:
    """The Footer has its keys and `footer_line` shows them (its first described key).

    Until the Footer composes its keys its row is blank, and `footer_line` reads whatever
    is above it: a pane's border.
    """
    from textual.widgets._footer import FooterKey

    keys = list(app.screen.query(FooterKey))
    described = [key.description for key in keys if key.description]
    if not keys:
        return False
    line = footer_line(app)
    return described[0] in line if described else keys[0].key_display in line


def showing(app: App[Any], screen: type[Screen[Any]]) -> bool:
    """`screen` is on top and drawn. A screen just pushed is on top before it is laid out,
    and until then `screen_text` reads nothing at all."""
    return isinstance(app.screen, screen) and bool(screen_text(app).strip())


def runbook_marks(app: App[Any]) -> dict[str, str]:
    """step id -> the status word in the runbook's first column."""
    from cockpit.ui.widgets.runbook import Runbook

    runbook = app.screen.query_one(Runbook)
    return {str(row.value): runbook.get_cell(row, "status").plain
            for row in runbook.rows}


def runbook_what(app: App[Any], step_id: str) -> str:
    from cockpit.ui.widgets.runbook import Runbook

    return app.screen.query_one(Runbook).get_cell(step_id, "what").plain


def header_text(app: App[Any]) -> str:
    from cockpit.ui.widgets.header import CockpitHeader

    content = app.screen.query_one(CockpitHeader).content
    return str(getattr(content, "plain", content))


def freeze_cursor_blink(app: App[Any]) -> None:
    """A blinking cursor makes snapshots flake: hold every input's cursor still."""
    from textual.widgets import Input

    for screen in app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False


async def drawn(pilot: Pilot[Any], *, screen: type[Screen[Any]] | None = None,
                what: str = "the session drawn") -> None:
    """The session drawn (on a `screen` when given), the footer showing its keys, and the
    cursor held still: ready to be read or pictured."""
    app = pilot.app

    def ready() -> bool:
        return ((screen is None or isinstance(app.screen, screen))
                and getattr(app.screen, "view", None) is not None
                and footer_shows_its_keys(app))

    # Twice, a frame apart: the first view focuses the runbook, and the Footer recomposes
    # its keys for the new focus (a frame with a blank footer) after it first showed them.
    for _ in range(2):
        await wait_for(pilot, ready, what=f"{what}, its footer showing its keys")
        await pilot.pause()
    await wait_for(pilot, ready, what=f"{what}, its footer showing its keys, settled")
    freeze_cursor_blink(app)
    await pilot.pause()
