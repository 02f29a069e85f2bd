"""The audit log: an append-only, hash-chained JSONL file, its verifier and its exports.

Never imports textual: the runner, `cockpit audit ...` and tests use it headless. The names
below load their module on first use, so `cockpit audit verify` does not pay for structlog.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cockpit.audit.entry import GENESIS, Actor, AuditEntry
    from cockpit.audit.export import export_log
    from cockpit.audit.redact import Redactor
    from cockpit.audit.verify import (
        AuditReadError,
        ReadResult,
        VerifyReport,
        read_entries,
        repair_torn_tail,
        verify_log,
    )
    from cockpit.audit.writer import AuditWriter

_HOMES = {
    "GENESIS": "entry",
    "Actor": "entry",
    "AuditEntry": "entry",
    "AuditReadError": "verify",
    "AuditWriter": "writer",
    "ReadResult": "verify",
    "Redactor": "redact",
    "VerifyReport": "verify",
    "export_log": "export",
    "read_entries": "verify",
    "repair_torn_tail": "verify",
    "verify_log": "verify",
}

__all__ = [
    "GENESIS",
    "Actor",
    "AuditEntry",
    "AuditReadError",
    "AuditWriter",
    "ReadResult",
    "Redactor",
    "VerifyReport",
    "export_log",
    "read_entries",
    "repair_torn_tail",
    "verify_log",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
