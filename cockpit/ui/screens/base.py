"""The layout and drawing both screens share: the driver's and the watcher's.

Both draw a `SessionView` from a `SessionSource`; what each adds (polling and commands,
or re-reading the folder) is in `screens/driver.py` and `screens/watch.py`.
"""

from __future__ import annotations

import io
from datetime import datetime

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Container, Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from cockpit.runner.pane_summary import pane_count, summarise_panes
from cockpit.runner.panes import PANES, PaneView
from cockpit.session.forecast import critical_steps
from cockpit.session.protocols import SessionSource
from cockpit.session.view import SessionView
from cockpit.ui import heap
from cockpit.ui.context import UiContext
from cockpit.ui.keys import actions_for
from cockpit.ui.screens.help import HelpScreen
from cockpit.ui.widgets.audit_tail import AuditTail
from cockpit.ui.widgets.header import CockpitHeader
from cockpit.ui.widgets.pane import Pane
from cockpit.ui.widgets.runbook import Runbook
from cockpit.ui.widgets.status_strip import StatusStrip

MIN_SIZE = (80, 24)
WIDE_SIZE = (120, 34)
CYCLE = [*PANES, "tail"]


class CockpitScreen(Screen[None]):
    """Layout and drawing shared by both modes."""

    badge = "DRIVER"  # the header's badge; what a screen may do is in its bindings
    help_mode = "driver"

    class ViewReady(Message):
        def __init__(self, view: SessionView) -> None:
            super().__init__()
            self.view = view

    @staticmethod
    def composed_ahead() -> list[Widget]:
        """One of each widget `compose` yields, unmounted: their styles are parsed while
        the session opens (`ui/styles.py`)."""
        return [CockpitHeader(), StatusStrip(), Vertical(), Horizontal(), Runbook(),
                AuditTail(), Container(), Pane("ahead", ""), Static(), Footer()]

    def __init__(self, source: SessionSource, context: UiContext) -> None:
        super().__init__()
        self.source = source
        self.context = context
        self.view: SessionView | None = None
        self.paused = False
        self._shown_pane = "apps"
        self._drawn_head: tuple[int, str] | None = None
        self._pane_views: dict[str, PaneView] = {}  # the latest of each, for the strip

    def compose(self) -> ComposeResult:
        yield CockpitHeader(id="header")
        yield StatusStrip(id="strip")
        with Vertical(id="body"):
            with Horizontal(id="top"):
                yield Runbook(id="runbook")
                yield AuditTail(id="tail")
            with Container(id="panes"):
                for name, title in PANES.items():
                    yield Pane(name, title, classes="pane",
                               stale_after_s=self.context.settings.display.stale_after_s)
        yield Static("", id="too-small")
        yield Static("", id="unreadable")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        self._apply_size(self.size.width, self.size.height)
        self._draw_strip()

    # --- drawing --------------------------------------------------------------------------

    @on(ViewReady)
    def _view_ready(self, message: ViewReady) -> None:
        self.draw(message.view)

    def draw(self, view: SessionView) -> None:
        first = self.view is None
        self.view = view
        self.set_class(False, "-unreadable")
        runbook = self.query_one(Runbook)
        if first:
            runbook.setup(view.plan)
            runbook.focus()
            self._select_current(view)
        running = view.run.running() is not None
        if view.run.head != self._drawn_head or running:
            runbook.show(view.run, self.now(), critical=critical_steps(view, self.now()))
            self.query_one(AuditTail).show(view.entries)
            self._drawn_head = view.run.head
        for name, pane_view in view.panes.items():
            self.show_pane(pane_view, name)
        self._draw_header()

    def show_unreadable(self, problem: str) -> None:
        """Nothing to draw: say what cannot be read and why, never a blank cockpit. Once
        a session has been drawn, problems show in its header instead."""
        if self.view is None:
            self.query_one("#unreadable", Static).update(
                f"Cannot show the session in {self.source.location}\n\n{problem}")
            self.set_class(True, "-unreadable")

    def show_pane(self, view: PaneView, name: str | None = None) -> None:
        name = name or view.pane
        pane = self.query_one(f"#pane-{name}", Pane)
        if pane.view is None or pane.view.taken_at != view.taken_at:
            live = len(self._pane_views) == len(PANES)
            self._pane_views[name] = view
            if not live and len(self._pane_views) == len(PANES):
                # every pane drawn: what the window needs is loaded. After the frame that
                # shows the last of them: a full collection holds the screen's thread
                # 0.05-0.2 s, and the panes went live that much later.
                self.call_after_refresh(heap.settle)
            pane.show(view)
            pane.refresh_age(self.now())
            pane.titled(self._pane_title(name))
            self._draw_strip()

    def _draw_strip(self) -> None:
        stale_after_s = self.context.settings.display.stale_after_s
        self.query_one(StatusStrip).show(
            summarise_panes(self._pane_views, self.now(), stale_after_s))

    def _select_current(self, view: SessionView) -> None:
        current = view.run.running() or view.run.next_ready()
        if current is not None:
            self.query_one(Runbook).select(current.step_id)

    def now(self) -> datetime:
        return self.context.clock()

    def _draw_header(self) -> None:
        if self.view is not None:
            self.query_one(CockpitHeader).show(self.view, mode=self.badge, hint=self.hint(),
                                               paused=self.paused, now=self.now())

    def hint(self) -> str:
        return ""

    def _tick(self) -> None:
        now = self.now()
        for pane in self.query(Pane):
            pane.paused = self.paused
            pane.refresh_age(now)
        self._draw_header()
        self._draw_strip()  # a pane goes stale with no new view: only its age says so

    # --- size -----------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._apply_size(event.size.width, event.size.height)

    def _apply_size(self, width: int, height: int) -> None:
        too_small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.set_class(too_small, "-too-small")
        self.query_one("#too-small", Static).update(
            f"Terminal too small: {width}x{height}.\nThe cockpit needs at least "
            f"{MIN_SIZE[0]}x{MIN_SIZE[1]}: enlarge the window or zoom out." if too_small else "")
        compact = width < WIDE_SIZE[0] or height < WIDE_SIZE[1]
        self.set_class(compact, "-compact")
        self._show_one(self._shown_pane if compact or self.zoomed else None)

    @property
    def zoomed(self) -> bool:
        return self.has_class("-zoomed")

    def _show_one(self, name: str | None) -> None:
        """Small terminals show one pane at a time; `[` and `]` cycle through them."""
        for pane in self.query(Pane):
            pane.display = name is None or pane.pane == name
            pane.titled(self._pane_title(pane.pane))
        self.query_one(AuditTail).display = name is None or name == "tail"
        self.query_one("#panes").display = name != "tail"

    def _pane_title(self, name: str) -> str:
        """The pane's name, its count once it has rows, and on a small terminal where it
        stands in the cycle."""
        view = self._pane_views.get(name)
        count = pane_count(view) if view is not None else None
        title = PANES[name] + (f" · {count}" if count else "")
        if self.zoomed:
            title += f"  ({list(PANES).index(name) + 1}/{len(PANES)}: [ ] for more, z: back)"
        elif self.has_class("-compact"):
            title += f"  ({CYCLE.index(name) + 1}/{len(CYCLE)}: [ ] for more)"
        return title

    def action_cycle_pane(self, step: int) -> None:
        if self.zoomed:
            self._zoom_into(self._cycled(list(PANES), step))
            return
        if not self.has_class("-compact"):
            return
        self._shown_pane = self._cycled(CYCLE, step)
        self._show_one(self._shown_pane)
        self.notify(f"showing: {PANES.get(self._shown_pane, 'Audit log')}", timeout=1.5)

    def _cycled(self, names: list[str], step: int) -> str:
        at = names.index(self._shown_pane) if self._shown_pane in names else -step
        return names[(at + step) % len(names)]

    def action_toggle_zoom(self) -> None:
        """One pane alone, every row of it a page at a time (the one shown on a small
        terminal, else the app servers); z again puts the layout back."""
        if self.zoomed:
            self.query_one(f"#pane-{self._shown_pane}", Pane).zoom(False)
            self.set_class(False, "-zoomed")
            self._apply_size(self.size.width, self.size.height)
            self.query_one(Runbook).focus()
            return
        self.set_class(True, "-zoomed")
        self._zoom_into(self._shown_pane if self._shown_pane in PANES else "apps")

    def _zoom_into(self, name: str) -> None:
        if self._shown_pane in PANES:
            self.query_one(f"#pane-{self._shown_pane}", Pane).zoom(False)
        self._shown_pane = name
        self._show_one(name)
        pane = self.query_one(f"#pane-{name}", Pane)
        pane.zoom(True)
        pane.focus()

    # --- keys that work in both modes -------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        """A plan's own step keys (digits, F-keys) select that step."""
        if self.view is None:
            return
        step = next((s for s in self.view.plan.steps() if s.key == event.key), None)
        if step is not None:
            event.stop()
            self.query_one(Runbook).select(step.id)
            self.on_step_key(step.id)

    def on_step_key(self, step_id: str) -> None:
        """Watchers only select; the driver runs the step (see DriverScreen)."""

    def select_step(self, step_id: str) -> None:
        self.query_one(Runbook).select(step_id)

    def action_help(self) -> None:
        actions = actions_for(self.help_mode)
        keys = {a.id: self.context.keymap.get(a.id, a.keys) for a in actions}
        step_keys = [(s.key, s.id) for s in self.view.plan.steps() if s.key] if self.view else []
        self.app.push_screen(HelpScreen(actions, keys, self.badge, step_keys))

    def action_export_log(self) -> None:
        self._export()

    @work(thread=True, group="export", exit_on_error=False)
    def _export(self) -> None:
        if self.app.is_web:
            self._export_to_browser()
            return
        target = self.source.write_report(self.now())
        self.app.call_from_thread(self.notify, f"report written: {target}", timeout=8)

    def _export_to_browser(self) -> None:
        """Served to a browser (`watch --web`), the report is the browser's download: the
        people at the page cannot reach the server's files, and must not fill the
        driver's folder with them."""
        name, html = self.source.report(self.now())
        self.app.call_from_thread(self.app.deliver_text, io.StringIO(html),
                                  save_filename=name, mime_type="text/html")
        self.app.call_from_thread(self.notify, f"report sent to your browser: {name}",
                                  timeout=8)

    def action_quit_cockpit(self) -> None:
        self.app.exit()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """One place where a worker's failure becomes something the engineer sees."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(f"{type(error).__name__}: {error}", severity="error", timeout=10)
