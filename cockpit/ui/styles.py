"""Widgets' styles parsed before their screen first shows.

Textual parses a widget class's DEFAULT_CSS the first time one of its widgets is mounted.
The driver's screen brings eight classes the first frame had not (its header, strip,
runbook table, log tail, panes and their containers), and their CSS was parsed as the
session first showed, on the screen's thread, between the estate answering and the panes
going live: 0.1-0.36 s of it in py-spy samples of the demo. Read while the opening waits
for the estate, the mount finds each source parsed already (a stylesheet keeps its parse
of every source).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import App
from textual.widget import Widget


def read_ahead(app: App[Any], widgets: Iterable[Widget]) -> None:
    """Add the default CSS of these widgets (unmounted) to the app's stylesheet, as their
    mount would, and parse it now."""
    sheet = app.stylesheet
    for widget in widgets:
        # Textual's own list of a widget's sources (its class and bases, each with the
        # location, tie-breaker and scope its mount registers), so that the mount later
        # finds every source the same and parses nothing.
        for read_from, css, tie_breaker, scope in widget._get_default_css():
            sheet.add_source(css, read_from=read_from, is_default_css=True,
                             tie_breaker=tie_breaker, scope=scope)
    sheet.parse()
