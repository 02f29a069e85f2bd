"""Plan problems in the words of the plan: what is wrong, where, and what to write instead.

pydantic's own messages ("Input should be a valid integer") name neither the step nor the
fix; the engineer reading them is weeks before a window, or in a rehearsal, and should not
have to decode a `loc` tuple.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from cockpit.plan.inline_secrets import find_secret
from cockpit.plan.schema import Loc, field_at, is_duration, kinds_at, model_at, type_at

# What one item of each estate collection is called in a sentence.
NOUNS = {
    "app_servers": "app server",
    "load_balancers": "load balancer",
    "target_groups": "target group",
    "zones": "hosted zone",
    "records": "record",
    "resolvers": "resolver",
    "sql": "sql endpoint",
    "buckets": "bucket",
    "steps": "step",
    "readiness": "readiness check",
    "phases": "phase",
}

_ACTION_FIELDS = ("do", "undo")
# A value in a message is cut to this many characters, and nested values to this depth
# (a plan may hold a table nested thousands deep: showing it must not recurse that far).
_SHOWN = 60
_SHOW_DEPTH = 3
# What a zero duration would mean, and what to write instead.
_NO_TIME = {
    "timeout": (
        "a step given no time to wait fails at its first check; give its 'until' the time "
        "it needs to hold, such as 90s or 5m"
    ),
    "budget": (
        "it is the time the step is expected to take, counted on the window's clock; "
        "give an estimate such as 30s or 2m"
    ),
    "plan budget": (
        "it is the window's length, which the header's clock counts down; give the "
        "agreed outage window, such as 45m or 2h"
    ),
}
_SECRET = "secret written inline"
_PATTERNS = {
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$": "an id of letters, digits, '_', '.' and '-'",
    r"^[a-z0-9]$|^f([1-9]|10)$": "one key: a lowercase letter, a digit, or f1 to f10",
    r"^[1-9]$|^f([2-9]|10)$": "one key: a digit 1 to 9, or f2 to f10",
}
_TYPES = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dict_type": "a table",
}


def noun(collection: str) -> str:
    return NOUNS.get(collection, collection.replace("_", " ").rstrip("s"))


def show(value: Any) -> str:
    """A value as it would be written in TOML, shortened, printable, and never a secret."""
    if isinstance(value, str) and find_secret(value):
        return '"<secret, not shown>"'
    return _shortened(_toml(value, _SHOW_DEPTH))


def quoted(name: Any) -> str:
    """A key or id for a message: quoted, with control characters escaped (and shortened:
    a key may be any length, and a message is one line)."""
    if not isinstance(name, str):
        return show(name)
    return repr(name[:_SHOWN] + "..." if len(name) > _SHOWN else name)


def _shortened(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def closest(word: Any, choices: Sequence[str]) -> str:
    """` (did you mean 'x'?)`, or nothing when no choice is close."""
    if not isinstance(word, str):
        return ""
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {found[0]!r}?)" if found else ""


def node_at(root: Any, loc: Loc) -> Any:
    """The value at `loc` in raw TOML data or a validated plan (union tags skipped)."""
    node = root
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, BaseModel) and isinstance(part, str) and hasattr(node, part):
            node = getattr(node, part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif not (isinstance(node, dict | BaseModel) and isinstance(part, str)):
            return None
    return node


def owner(loc: Loc, root: Any) -> str:
    """What holds the value at `loc`, by id where it has one: `step 'switch-dns'`."""
    parts = [part for part in loc]
    if len(parts) >= 4 and parts[0] == "phases" and parts[2] in ("steps", "rollback"):
        return _within_step(parts, root)
    if len(parts) >= 3 and parts[0] == "estate" and isinstance(parts[2], int):
        return _item(noun(str(parts[1])), root, parts[:3])
    if len(parts) >= 2 and parts[0] == "phases" and isinstance(parts[1], int):
        return _item("phase", root, parts[:2])
    if parts and parts[0] in ("plan", "estate"):
        return f"[{parts[0]}]"
    return "the plan"


def _within_step(parts: list[str | int], root: Any) -> str:
    step = _item("step" if parts[2] == "steps" else "rollback step", root, parts[:4])
    field = parts[4] if len(parts) > 4 else None
    if field in ("do", "undo", "until", "gates"):
        return f"{field!r} of {step}"
    return step


def _item(what: str, root: Any, loc: Loc) -> str:
    ident = node_at(root, [*loc, "id"])
    if isinstance(ident, str):
        return f"{what} {ident!r}"
    return f"{what} #{int(loc[-1]) + 1}"


def label(loc: Loc) -> str:
    """The field a value belongs to: `'port'`, or `item 2 of 'servers'`."""
    if not loc:
        return "the plan"
    if isinstance(loc[-1], int):
        return f"item {loc[-1] + 1} of {label(loc[:-1])}"
    return quoted(loc[-1])


# --- one message per pydantic error type ------------------------------------------------


def describe(error: ErrorDetails, data: Any) -> str:
    """One line saying what is wrong with the plan and how to put it right."""
    loc = error["loc"]
    explain = _EXPLAIN.get(error["type"], _fallback)
    if is_duration(loc) and error["type"] in ("float_type", "value_error", "finite_number"):
        explain = _bad_duration
    if is_duration(loc) and error["type"] == "greater_than":
        explain = _no_time
    return explain(error, loc, data)


Explain = Callable[[ErrorDetails, Loc, Any], str]


def _unknown_key(error: ErrorDetails, loc: Loc, data: Any) -> str:
    model = model_at(loc[:-1])
    valid = list(model.model_fields) if model else []
    where = owner(loc[:-1], data) if len(loc) > 1 else "the plan"
    return f"unknown key {quoted(loc[-1])} in {where}{closest(loc[-1], valid)}"


def _missing(error: ErrorDetails, loc: Loc, data: Any) -> str:
    if len(loc) == 1:
        return f"the plan has no {_table(str(loc[0]))}"
    return f"{owner(loc[:-1], data)} has no {quoted(loc[-1])}"


def _table(name: str) -> str:
    return "[[phases]]" if name == "phases" else f"[{name}] table"


def _wrong_type(error: ErrorDetails, loc: Loc, data: Any) -> str:
    expected = _TYPES[error["type"]]
    if error["type"] in ("model_type", "model_attributes_type") and kinds_at(loc):
        expected = 'a table such as { kind = "...", ... }'
    if error["type"] == "list_type":
        expected += ' such as ["a", "b"]' if type_at([*loc, 0]) is str else " of tables"
    return f"{label(loc)} must be {expected}, not {show(error['input'])}"


def _bad_duration(error: ErrorDetails, loc: Loc, data: Any) -> str:
    return f"{label(loc)} must be a duration such as 90s or 5m, not {show(error['input'])}"


def _no_time(error: ErrorDetails, loc: Loc, data: Any) -> str:
    """A zero (or negative) timeout or budget: as written in the file, and why it cannot be."""
    written = node_at(data, loc)
    shown = show(written if written is not None else error["input"])
    field = "plan budget" if tuple(loc) == ("plan", "budget") else str(loc[-1])
    why = _NO_TIME.get(field, "give a duration such as 90s or 5m")
    return f"{label(loc)} must be more than 0s, not {shown}: {why}"


def _unknown_kind(error: ErrorDetails, loc: Loc, data: Any) -> str:
    kinds = kinds_at(loc)
    field = next((part for part in reversed(loc) if isinstance(part, str)), "")
    what = "step kind" if field in _ACTION_FIELDS else "condition kind"
    tag = error["input"].get("kind") if isinstance(error["input"], dict) else None
    return f"unknown {what} {quoted(tag)} in {field!r} (known: {', '.join(kinds)})"


def _no_kind(error: ErrorDetails, loc: Loc, data: Any) -> str:
    return f"{owner(loc, data)} has no 'kind' (known: {', '.join(kinds_at(loc))})"


def _not_one_of(error: ErrorDetails, loc: Loc, data: Any) -> str:
    expected = (error.get("ctx") or {}).get("expected", "")
    return f"{label(loc)} must be {expected}, not {show(error['input'])}"


def _pattern(error: ErrorDetails, loc: Loc, data: Any) -> str:
    pattern = str((error.get("ctx") or {}).get("pattern", ""))
    expected = _PATTERNS.get(pattern, f"text matching {pattern}")
    return f"{label(loc)} must be {expected}, not {show(error['input'])}"


def _too_short(error: ErrorDetails, loc: Loc, data: Any) -> str:
    if tuple(loc) == ("phases",):
        return "the plan has no phases: add a [[phases]] table with [[phases.steps]]"
    if loc and loc[-1] == "steps":
        return f"{owner(loc[:-1], data)} has no steps: add [[phases.steps]] under it"
    if error["type"] == "string_too_short" and _limit(error, "min_length") == 1:
        return f"{label(loc)} must not be empty"
    unit = "characters" if error["type"] == "string_too_short" else "items"
    return f"{label(loc)} must have at least {_limit(error, 'min_length')} {unit}"


def _too_long(error: ErrorDetails, loc: Loc, data: Any) -> str:
    unit = "characters" if error["type"] == "string_too_long" else "items"
    return f"{label(loc)} must have at most {_limit(error, 'max_length')} {unit}"


def _out_of_range(error: ErrorDetails, loc: Loc, data: Any) -> str:
    ctx = error.get("ctx") or {}
    bounds = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
    name, limit = next(iter(ctx.items()), ("", ""))
    return f"{label(loc)} must be {bounds.get(name, name)} {limit}, not {show(error['input'])}"


def _not_finite(error: ErrorDetails, loc: Loc, data: Any) -> str:
    return f"{label(loc)} must be a finite number, not {show(error['input'])}"


def _validator(error: ErrorDetails, loc: Loc, data: Any) -> str:
    reason = error["msg"].removeprefix("Value error, ")
    where = f"{label(loc)} of {owner(loc[:-1], data)}"
    if reason.startswith(_SECRET):  # worded like the checks' own secret findings
        return f"{_SECRET} in {where}{reason.removeprefix(_SECRET)}"
    return f"{where}: {reason}"


def _fallback(error: ErrorDetails, loc: Loc, data: Any) -> str:
    field = field_at(loc)
    hint = f" ({field.description})" if field and field.description else ""
    return f"{label(loc)}: {error['msg']}{hint}"


def _limit(error: ErrorDetails, name: str) -> Any:
    return (error.get("ctx") or {}).get(name, "?")


_EXPLAIN: dict[str, Explain] = {
    "extra_forbidden": _unknown_key,
    "missing": _missing,
    **{kind: _wrong_type for kind in _TYPES},
    "union_tag_invalid": _unknown_kind,
    "union_tag_not_found": _no_kind,
    "literal_error": _not_one_of,
    "string_pattern_mismatch": _pattern,
    "string_too_short": _too_short,
    "too_short": _too_short,
    "string_too_long": _too_long,
    "too_long": _too_long,
    "greater_than_equal": _out_of_range,
    "greater_than": _out_of_range,
    "less_than_equal": _out_of_range,
    "less_than": _out_of_range,
    "finite_number": _not_finite,
    "value_error": _validator,
}


# --- values as TOML -----------------------------------------------------------------------


def _toml(value: Any, depth: int) -> str:
    """`value` in TOML, only as far as a message shows it: the first items of a list or a
    table, the start of a string, `...` below `depth` (so its cost is bounded by what is
    shown, not by the value: a string may be a megabyte, a table nested thousands deep)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return printable(json.dumps(value[: _SHOWN + 1], ensure_ascii=False))
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list | dict) and depth <= 0:
        return "[...]" if isinstance(value, list) else "{ ... }"
    if isinstance(value, list):
        more = [", ..."] if len(value) > 5 else []
        return "[" + ", ".join([_shown_item(item, depth) for item in value[:5]] + more) + "]"
    if isinstance(value, dict):
        pairs = [
            f"{printable(_shortened(str(key)))} = {_shown_item(item, depth)}"
            for key, item in itertools.islice(value.items(), 5)
        ]
        more = [", ..."] if len(value) > 5 else []
        return "{ " + ", ".join(pairs + more) + " }"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return printable(_shortened(repr(value)))


def _shown_item(value: Any, depth: int) -> str:
    """An item inside a list or table: shown like `show` shows a value, one level down."""
    if isinstance(value, str) and find_secret(value):
        return '"<secret, not shown>"'
    return _shortened(_toml(value, depth - 1))


def printable(text: str) -> str:
    """Escape what a terminal would act on instead of print (a plan is untrusted input)."""
    return "".join(char if char.isprintable() else f"\\u{ord(char):04x}" for char in text)
