"""`state.json`: the driver's latest picture of the window, for watchers.

Replaced atomically (write a temporary file, fsync, rename) so a watcher never reads half a
file. The runner fills in the steps and the log's head; the driver's screen adds each
pane's latest snapshot. Watchers need nothing else: no credentials, no API calls.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.audit.redact import Redactor


class StatePublisher:
    def __init__(self, path: Path, redactor: Redactor | None = None) -> None:
        self.path = path
        self._redactor = redactor or Redactor()
        self._data: dict[str, Any] = {"panes": {}}
        self._pane_texts: dict[str, tuple[Any, int, str]] = {}  # pane: (view, generation, json)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        # Told after each publish (the S3 mirror): each must return at once, never block.
        self.listeners: list[Callable[[], None]] = []

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._data.update(fields)

    def _pane_json(self, name: str, pane: Any) -> str:
        """A pane's JSON with its secrets masked, made once per view set: every publish
        writes every pane, and masking and encoding all their rows each time was a fifth
        of the driver's work at 10x. Kept as text, not as a masked copy of the rows (a
        view set since, or a secret registered since, is masked afresh)."""
        generation = self._redactor.generation
        cached = self._pane_texts.get(name)
        if cached is not None and cached[0] is pane and cached[1] == generation:
            return cached[2]
        text = self._masked_json(pane)
        self._pane_texts[name] = (pane, generation, text)
        return text

    def _masked_json(self, value: Any) -> str:
        """`value`'s JSON with its secrets masked. Masking walks every string of it in
        Python (7 ms of the screen's process a publish at 10x, most of it the steps, five
        times a second with the panes polled each second); the JSON is checked for
        anything maskable first, and masked only then."""
        text = _json(value)
        return _json(self._redactor.redact(value)) if self._redactor.could_mask(text) else text

    def set_pane(self, name: str, snapshot: Any) -> None:
        with self._lock:
            self._data["panes"][name] = snapshot

    def publish(self) -> None:
        with self._lock:
            data = dict(self._data)
            panes = dict(data.pop("panes"))
        data["published_at"] = datetime.now(UTC).isoformat()
        fields = [self._masked_json({key: value})[1:-1] for key, value in data.items()]
        shown = [f"{self._masked_json(name)}: {self._pane_json(name, pane)}"
                 for name, pane in panes.items()]
        fields.append('"panes": {' + ", ".join(shown) + "}")
        payload = ("{" + ",\n".join(fields) + "}\n").encode()
        with self._write_lock:
            _replace_atomically(self.path, payload)
        for listener in list(self.listeners):
            listener()


def _json(value: Any) -> str:
    # As written, not \u-escaped: the text `Redactor.could_mask` reads is JSON's own.
    return json.dumps(value, default=str, ensure_ascii=False)


def _replace_atomically(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_state(path: Path) -> dict[str, Any] | None:
    """What the driver last published, or None when there is nothing (yet) to read."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
