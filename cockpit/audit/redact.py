"""Keep secrets out of the audit log: the log is copied to tickets and read by a change board."""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"

# Shorter values would mask ordinary words and digits all over the log.
MIN_SECRET_LENGTH = 4

_SENSITIVE_KEY = re.compile(r"password|secret|token|pwd|credential", re.IGNORECASE)

# ODBC: `PWD=...;` or `Password=...;`; a braced value may itself hold `;` and `}}`.
_ODBC_PASSWORD = re.compile(
    r"(?P<key>(?:^|(?<=[;\s]))(?:pwd|password)\s*=\s*)(?:\{(?:[^}]|\}\})*\}|[^;]*)",
    re.IGNORECASE,
)
# URL DSNs: `mssql://user:password@host`.
_URL_PASSWORD = re.compile(r"(?P<key>://[^:/@\s]+:)[^@\s/]+(?=@)")


class Redactor:
    """Masks registered secret values, sensitive keys and passwords in connection strings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add_secret(self, value: str) -> None:
        """Never let `value` (or its URL-encoded forms) reach the log."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            self._secrets.update({value, quote(value, safe=""), quote_plus(value)})
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def redact(self, obj: Any) -> Any:
        """A deep copy of `obj` (dicts, lists, tuples, strings) with every secret masked."""
        if isinstance(obj, str):
            return self._redact_text(obj)
        if isinstance(obj, dict):
            return {self._redact_key(k): self._redact_value(k, v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.redact(item) for item in obj]
        return obj

    def _redact_key(self, key: Any) -> Any:
        return self._redact_text(key) if isinstance(key, str) else key

    def _redact_value(self, key: Any, value: Any) -> Any:
        if isinstance(key, str) and _SENSITIVE_KEY.search(key):
            return MASK
        return self.redact(value)

    def _redact_text(self, text: str) -> str:
        pattern = self._pattern  # read once: add_secret may swap it from another thread
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = _ODBC_PASSWORD.sub(lambda m: m.group("key") + MASK, text)
        return _URL_PASSWORD.sub(lambda m: m.group("key") + MASK, text)
