"""Deliver notices through apprise from a thread of their own, never in a step's way.

Each configured URL is its own target, so the record can say which one a notice reached
and which it did not. A notice is tried `attempts` times per target, `retry_after_s`
apart; the outcome of each (a `Delivery`) waits in an outbox for the runner to put on the
record, because only the runner appends to the log. `finish` gives what is still queued a
bounded time and returns the rest as not sent, so closing a session never waits on a
webhook that is down.

URLs come from the cockpit's settings, never from the plan, and hold secrets (tokens,
passwords): the record names a target by apprise's privacy form (`json://user:****@host`),
and `secrets()` lists what a redactor must mask besides.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

NOT_SENT_AT_CLOSE = "not sent: the session closed before it could be delivered"


class NotifyConfigError(ValueError):
    """A notification URL that apprise does not know how to send to."""


@dataclass(frozen=True)
class Notice:
    milestone: str  # what happened, as a key: phase.started, step.failed, window.complete
    title: str
    body: str
    step: str | None = None


@dataclass(frozen=True)
class Delivery:
    notice: Notice
    target: str  # the privacy form of the URL: never its secrets
    sent: bool
    attempts: int
    error: str | None = None


@dataclass(frozen=True)
class _Target:
    shown: str
    server: Any  # one apprise.Apprise holding just this URL


class Notifier:
    def __init__(self, urls: Sequence[str], *, attempts: int = 3,
                 retry_after_s: float = 2.0, close_wait_s: float = 5.0) -> None:
        self.close_wait_s = close_wait_s
        self._urls = list(urls)
        self._targets = [_target(url, i) for i, url in enumerate(self._urls, 1)]
        self._attempts, self._retry_after_s = max(1, attempts), retry_after_s
        self._queue: queue.Queue[Notice | None] = queue.Queue()
        self._outbox: list[Delivery] = []
        self._outbox_lock = threading.Lock()
        self._closing = threading.Event()
        self._accepting = True
        self._thread = threading.Thread(target=self._deliver_all, name="notify", daemon=True)
        self._thread.start()

    @property
    def targets(self) -> list[str]:
        return [t.shown for t in self._targets]

    def secrets(self) -> list[str]:
        """Every URL and the parts of it that may be credentials, for the redactor."""
        found: list[str] = []
        for url in self._urls:
            found.append(url)
            found.extend(_secret_parts(url))
        return found

    def submit(self, notice: Notice) -> None:
        if self._accepting:
            self._queue.put(notice)

    def take_deliveries(self) -> list[Delivery]:
        """What was delivered (or given up on) since the last call, oldest first."""
        with self._outbox_lock:
            taken, self._outbox = self._outbox, []
        return taken

    def finish(self) -> list[Delivery]:
        """Stop taking notices; give those queued `close_wait_s` to go; return every
        outcome not yet taken, the ones left unsent included."""
        self._accepting = False
        self._queue.put(None)
        self._thread.join(timeout=self.close_wait_s)
        self._closing.set()  # a retry still waiting gives up now
        self._thread.join(timeout=1.0)
        left: list[Delivery] = []
        while True:
            try:
                notice = self._queue.get_nowait()
            except queue.Empty:
                break
            if notice is not None:
                left += [Delivery(notice, t.shown, False, 0, NOT_SENT_AT_CLOSE)
                         for t in self._targets]
        return self.take_deliveries() + left

    # --- the sending thread ----------------------------------------------------------------

    def _deliver_all(self) -> None:
        while (notice := self._queue.get()) is not None:
            for target in self._targets:
                delivery = self._deliver(notice, target)
                with self._outbox_lock:
                    self._outbox.append(delivery)

    def _deliver(self, notice: Notice, target: _Target) -> Delivery:
        error = ""
        for attempt in range(1, self._attempts + 1):
            sent, error = _send(target.server, notice)
            if sent:
                return Delivery(notice, target.shown, True, attempt)
            if attempt < self._attempts and self._closing.wait(self._retry_after_s):
                return Delivery(notice, target.shown, False, attempt, NOT_SENT_AT_CLOSE)
        return Delivery(notice, target.shown, False, self._attempts, error)


def _target(url: str, index: int) -> _Target:
    import apprise  # 0.6 s to import: only when notifications are configured

    server = apprise.Apprise()
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None or not server.add(plugin):
        scheme = url.split("://", 1)[0] if "://" in url else "(none)"
        raise NotifyConfigError(f"notify.urls[{index}]: apprise does not know how to send to "
                                f"this URL (scheme {scheme})")
    shown = str(plugin.url(privacy=True)).split("?", 1)[0]  # type: ignore[no-untyped-call]
    for secret in _secret_parts(url):  # apprise masks passwords, not a generic URL's path
        shown = shown.replace(secret, "****")
    return _Target(shown, server)


def _send(server: Any, notice: Notice) -> tuple[bool, str]:
    """One attempt; apprise says why it failed only in its log, so that is caught."""
    import apprise

    with apprise.LogCapture(level=apprise.logging.WARNING,  # type: ignore[no-untyped-call]
                            fmt="%(message)s") as said:
        sent = bool(server.notify(title=notice.title, body=notice.body))
        reason = said.getvalue().strip().splitlines()
    return sent, (reason[-1] if reason else "not delivered")[:300]


TOKEN_LENGTH = 8  # shorter path segments are words (`hooks`), not tokens worth masking


def _secret_parts(url: str) -> list[str]:
    """The password, and each path segment or query value long enough to be a token
    (Slack, Teams and most webhooks carry theirs in the path)."""
    parts = urlsplit(url)
    found = [part for part in parts.path.split("/") if len(part) >= TOKEN_LENGTH]
    found += [value for _, value in parse_qsl(parts.query) if len(value) >= TOKEN_LENGTH]
    return [parts.password, *found] if parts.password else found
