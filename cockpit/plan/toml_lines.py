"""Where each key of a TOML text is written.

`tomllib` returns values without positions, so a schema error found later could only say
"somewhere in the plan". This scanner walks the same text and maps every key path to the
line it is written on, with list indexes as ints exactly like pydantic's `loc`:
`("phases", 0, "steps", 3, "do", "kind")`.

It does not report syntax errors (`tomllib` does): on text that is not TOML it still ends
and returns what it found, because a line number is a courtesy and must never be the
reason a plan cannot be checked. It runs *before* `tomllib`, in one pass over the text, to
refuse what no plan holds and `tomllib` would take quadratic time over: a dotted key of
thousands of parts (`a.a.a...`: 40,000 parts, 80 KB, took `tomllib` 39 s) or values
nested hundreds deep.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

KeyPath = tuple[str | int, ...]
LineMap = Mapping[KeyPath, int]

# The deepest key a plan writes has 4 parts (`phases.steps.do.kind`) and its values nest 3
# deep (`gates = [{ servers = [...] }]`): these limits leave room and bound the work.
MAX_KEY_PARTS = 16
MAX_NESTING = 32

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# `"..."` with escapes, written as an unrolled loop (one pass, no alternation per char).
_BASIC_STRING = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"?')
_LITERAL_STRING = re.compile(r"'[^'\n]*'?")
# A number, bool or date-time: up to the next separator (a date-time may hold a space).
_SCALAR = re.compile(r"[^,\]}#\s]+(?:[ ][0-9][^,\]}#\s]*)?")
# Spaces and comments, without (`_SPACES`) or with (`_BLANKS`) line ends.
_SPACES = re.compile(r"(?:[ \t]+|#[^\n]*)*")
_BLANKS = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
# The end of a multi-line string's body: an escape (skipped), or the closing quotes.
_MULTILINE_END = {'"""': re.compile(r'\\.|"""', re.S), "'''": re.compile("'''")}


@dataclass
class Scan:
    """What one pass over a TOML text found: the line of every key path, and (if the text
    holds what no plan does) where and what, to refuse it before `tomllib` reads it."""

    lines: dict[KeyPath, int] = field(default_factory=dict)
    refused: tuple[int, str] | None = None


class _Refused(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def scan_toml(text: str) -> Scan:
    """Every key path's line; stops at the first key or value too deep for a plan."""
    scanner = _Scanner(text)
    try:
        scanner.scan()
    except _Refused as refused:
        return Scan(scanner.lines, (refused.line, refused.message))
    return Scan(scanner.lines)


def scan_key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key path of a TOML text (tables, keys, array elements) to its line."""
    return scan_toml(text).lines


def line_of(lines: LineMap, loc: Sequence[str | int]) -> int:
    """The line of the longest prefix of `loc` written in the file (1 if none is).

    pydantic puts the tag of a discriminated union into `loc`
    (`(..., "until", 0, "ec2.running", "servers")`); such a part is skipped when it is not
    a key of the file, so the keys after it are still found.
    """
    path: KeyPath = ()
    line = lines.get((), 1)
    for position, part in enumerate(loc):
        if path + (part,) in lines:
            path += (part,)
            line = lines[path]
        elif not (isinstance(part, str) and position + 1 < len(loc)):
            break
    return line


class _Scanner:
    """A forward-only reader of TOML that records key paths instead of building values."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [match.start() for match in re.finditer("\n", text)]
        self.lines: dict[KeyPath, int] = {}
        self.table: KeyPath = ()
        self.nesting = 0
        # How many elements each array of tables has so far: `[[phases.steps]]` appends to
        # the `steps` of the *last* `[[phases]]`, so the key includes that phase's index.
        self.array_sizes: dict[KeyPath, int] = {}

    # --- reading position ---------------------------------------------------------------

    def line(self) -> int:
        return bisect.bisect_left(self.newlines, self.pos) + 1

    def peek(self, width: int = 1) -> str:
        return self.text[self.pos : self.pos + width]

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def record(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)

    def skip_blank(self, newlines: bool) -> None:
        """Skip spaces, comments and (if `newlines`) line ends."""
        if self.text[self.pos : self.pos + 1] not in (" ", "\t", "#", "\r", "\n"):
            return  # the usual case, without a regex call (at the end: "" is not in it)
        match = (_BLANKS if newlines else _SPACES).match(self.text, self.pos)
        if match:
            self.pos = match.end()

    def skip_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end + 1

    # --- statements ---------------------------------------------------------------------

    def scan(self) -> None:
        while True:
            self.skip_blank(newlines=True)
            if self.at_end():
                return
            if self.peek(2) == "[[":
                self.array_table_header()
            elif self.peek() == "[":
                self.table_header()
            else:
                self.key_value(self.table)
            self.skip_line()

    def table_header(self) -> None:
        line = self.line()
        self.pos += 1
        self.table = self.resolve(self.dotted_key())
        self.record_prefixes(self.table, 1, line)

    def array_table_header(self) -> None:
        line = self.line()
        self.pos += 2
        keys = self.dotted_key()
        if not keys:
            return
        array = self.resolve(keys[:-1]) + (keys[-1],)
        index = self.array_sizes.get(array, 0)
        self.array_sizes[array] = index + 1
        self.table = array + (index,)
        self.record_prefixes(self.table, 1, line)

    def resolve(self, keys: list[str]) -> KeyPath:
        """A header's keys as a path: a key naming an array of tables means its last element."""
        path: KeyPath = ()
        for key in keys:
            path += (key,)
            size = self.array_sizes.get(path)
            if size:
                path += (size - 1,)
        return path

    def record_prefixes(self, path: KeyPath, start: int, line: int) -> None:
        for end in range(start, len(path) + 1):
            self.record(path[:end], line)

    def key_value(self, table: KeyPath) -> None:
        line = self.line()
        keys = self.dotted_key()
        if not keys:
            return
        path = table + tuple(keys)
        self.record_prefixes(path, len(table) + 1, line)
        self.skip_blank(newlines=False)
        if self.peek() != "=":
            return
        self.pos += 1
        self.skip_blank(newlines=False)
        self.value(path)

    # --- keys ---------------------------------------------------------------------------

    def dotted_key(self) -> list[str]:
        keys: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            key = self.simple_key()
            if key is None:
                return keys
            keys.append(key)
            if len(keys) > MAX_KEY_PARTS:
                raise _Refused(self.line(), (
                    f"a key of more than {MAX_KEY_PARTS} dotted parts: no plan key has more "
                    "than 4 (is this a plan?)"))
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return keys
            self.pos += 1

    def simple_key(self) -> str | None:
        for pattern in (_BARE_KEY, _BASIC_STRING, _LITERAL_STRING):
            match = pattern.match(self.text, self.pos)
            if match:
                self.pos = match.end()
                return _key_text(match.group())
        return None

    # --- values -------------------------------------------------------------------------

    def value(self, path: KeyPath) -> None:
        char = self.peek()
        if not char:
            return
        if self.peek(3) in ('"""', "'''"):
            self.multiline_string(self.peek(3))
        elif char in "\"'":
            pattern = _BASIC_STRING if char == '"' else _LITERAL_STRING
            match = pattern.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos + 1
        elif char in "[{":
            self.nesting += 1
            if self.nesting > MAX_NESTING:
                raise _Refused(self.line(), (
                    f"values nested more than {MAX_NESTING} deep: no plan nests more than 3 "
                    "(is this a plan?)"))
            if char == "[":
                self.array(path)
            else:
                self.inline_table(path)
            self.nesting -= 1
        else:
            match = _SCALAR.match(self.text, self.pos)
            if match:
                self.pos = match.end()

    def multiline_string(self, quotes: str) -> None:
        """Skip a `\"\"\"` or `'''` string, so its continuation lines are not read as keys."""
        match = _MULTILINE_END[quotes].search(self.text, self.pos + 3)
        while match and match.group() != quotes:  # an escape: `\"""` does not close
            match = _MULTILINE_END[quotes].search(self.text, match.end())
        if match is None:
            self.pos = len(self.text)
            return
        self.pos = match.end()
        # Up to two quotes may sit just inside the closing delimiter: `""""` ends the
        # string with one quote in it.
        for _ in range(2):
            if self.peek() == quotes[0]:
                self.pos += 1

    def array(self, path: KeyPath) -> None:
        """Record each element at the line it starts on (arrays may span lines)."""
        self.pos += 1
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.at_end() or self.peek() == "]":
                self.pos += 1
                return
            start = self.pos
            self.record(path + (index,), self.line())
            self.value(path + (index,))
            index += 1
            self.skip_separator(start)

    def inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while True:
            self.skip_blank(newlines=True)
            if self.at_end() or self.peek() == "}":
                self.pos += 1
                return
            start = self.pos
            self.key_value(path)
            self.skip_separator(start)

    def skip_separator(self, start: int) -> None:
        """Step over the `,` after an element; on text tomllib would refuse, still move on."""
        self.skip_blank(newlines=True)
        if self.peek() == ",":
            self.pos += 1
        elif self.pos == start:
            self.pos += 1


def _key_text(raw: str) -> str:
    """The key a quoted key stands for (escapes decoded as tomllib decodes them)."""
    if raw.startswith("'"):
        return raw[1:-1]
    if raw.startswith('"'):
        try:
            decoded = tomllib.loads(f"k = {raw}")["k"]
        except tomllib.TOMLDecodeError:
            return raw[1:-1]
        return decoded if isinstance(decoded, str) else raw[1:-1]
    return raw
