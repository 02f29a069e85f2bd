"""Keep secrets out of the audit log: the log is copied to tickets and read by a change board."""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"

# Shorter values would mask ordinary words and digits all over the log.
MIN_SECRET_LENGTH = 4

_SENSITIVE_WORDS = ("password", "secret", "token", "pwd", "credential")
_SENSITIVE_KEY = re.compile("|".join(_SENSITIVE_WORDS), re.IGNORECASE)

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
        self._json_forms: tuple[str, ...] = ()
        # Grows with each secret registered: a copy redacted before then may hold it.
        self.generation = 0

    def add_secret(self, value: str) -> None:
        """Never let `value` (or its URL-encoded forms) reach the log."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            self._secrets.update({value, quote(value, safe=""), quote_plus(value)})
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
            self._json_forms = tuple(_json_string_body(s) for s in ordered)
            self.generation += 1

    def could_mask(self, json_text: str) -> bool:
        """Whether `redact` might change the value that `json_text` is the JSON of.

        False only when it certainly would not, so a caller may write that JSON as it is.
        It looks at the text as JSON writes it (`ensure_ascii=False`): every string and key
        of the value appears in it, escaped one character at a time, so a secret inside
        any of them appears as the secret escaped the same way. A stray match (a secret
        spanning two strings) only costs the caller the full `redact`.
        """
        if _has_sensitive_word(json_text):  # a sensitive key, or an ODBC `PWD=`/`Password=`
            return True
        if "://" in json_text and _URL_PASSWORD.search(json_text):
            # JSON escapes none of `:/@` nor adds whitespace, so a URL password still matches.
            return True
        forms = self._json_forms  # read once: add_secret may swap it from another thread
        for form in forms:  # a loop, not any(...): this runs for every line written
            if form in json_text:
                return True
        return False

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


def _has_sensitive_word(text: str) -> bool:
    if text.isascii():
        # For ASCII text, lowering it is exactly what the case-blind pattern does (four
        # non-ASCII letters also match it, such as the long s and the Kelvin sign).
        lowered = text.lower()
        return any(word in lowered for word in _SENSITIVE_WORDS)
    return _SENSITIVE_KEY.search(text) is not None


def _json_string_body(text: str) -> str:
    """`text` as it appears inside a JSON string written with `ensure_ascii=False`."""
    return json.dumps(text, ensure_ascii=False)[1:-1]
