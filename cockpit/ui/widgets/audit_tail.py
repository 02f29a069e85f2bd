"""The tail of the audit log, as it is written."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from cockpit.audit.entry import AuditEntry

EVENT_STYLES = {
    "step.succeeded": "green", "step.failed": "bold red", "gate.overridden": "bold yellow",
    "step.skipped": "yellow", "step.withdrawn": "yellow", "note.added": "cyan",
    "session.interrupted": "bold yellow",
    "step.undone": "magenta", "audit.repaired": "bold yellow",
}


# Short words for the events, so the step id and the reason get the width.
SHORT = {
    "session.opened": "opened", "session.closed": "closed", "step.started": "start",
    "step.progress": "...", "step.succeeded": "done", "step.failed": "FAILED",
    "step.skipped": "skipped", "step.withdrawn": "withdrawn", "gate.overridden": "OVERRIDE",
    "step.undone": "undone",
    "step.undo_failed": "UNDO-FAIL", "note.added": "note", "session.interrupted": "INTERRUPT",
    "audit.repaired": "REPAIRED", "lock.taken_over": "TAKEOVER", "session.hangup": "HANGUP",
}


class AuditTail(Static):
    DEFAULT_CSS = """
    AuditTail { border: round $secondary; padding: 0 1; height: 1fr;
                text-wrap: nowrap; text-overflow: ellipsis; }
    """

    _entries: list[AuditEntry] = []

    def on_mount(self) -> None:
        self.border_title = "Audit log"

    def on_resize(self) -> None:
        self.show(self._entries)  # the first draw may come before the layout knows the height

    def show(self, entries: list[AuditEntry]) -> None:
        self._entries = entries
        lines = max(1, self.content_size.height or 8)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, entry in enumerate(entries[-lines:]):
            if index:
                text.append("\n")
            text.append_text(render_entry(entry))
        self.update(text, layout=False)  # its height is the layout's (1fr), not the text's


def render_entry(entry: AuditEntry) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{entry.ts.strftime('%H:%M:%S')} #{entry.seq:<4}", style="dim")
    text.append(f"{SHORT.get(entry.event, entry.event):<9}",
                style=EVENT_STYLES.get(entry.event, ""))
    if entry.step:
        text.append(f" {entry.step}", style="bold")
    summary = _summary(entry)
    if summary:
        text.append(f"  {summary}")
    text.append(f"  {entry.actor.user}", style="dim")
    return text


def _summary(entry: AuditEntry) -> str:
    detail = entry.detail
    for key in ("reason", "text", "message", "summary", "gate"):
        value = detail.get(key)
        if isinstance(value, str) and value:
            return value
    return ""
