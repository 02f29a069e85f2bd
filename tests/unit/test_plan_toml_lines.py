"""The key-line scanner on the TOML that trips naive line counting."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.plans import ROOT

from cockpit.plan.toml_lines import KeyPath, line_of, scan_key_lines

TRICKY = '''\
# a comment with = and [brackets] and [[phases]] in it
title = "x = [y]"   # trailing comment, a = b
"quoted key" = 1
'literal.key' = 2
a.b.c = 3
a . "d e" . f = 4
text = """
[[phases]]
not = "a key"
\\"""
still = "in the string"
"""
lit = \'\'\'
[estate]
x = 1\'\'\'
after_strings = true

[[phases]]
id = "one"

[[phases.steps]]
id = "s0"
until = [
  # a comment inside an array [ with ] brackets =
  { kind = "ec2.running", servers = ["a", "b"] },
  { kind = "http.healthy", servers = [
      "c",
      "d",
  ], contains = "}]" },
]

[[phases.steps]]
id = "s1"
do.kind = "manual"
do.instruction = "say \\"hi\\" ]"

[[phases]]
id = "two"

[[phases.steps]]
id = "t0"

[phases.steps.extra]
x = 1
when = 1979-05-27 07:32:00Z
"bud\\u0067et" = "1m"
'''


def line_containing(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), 1) if needle in line)


@pytest.fixture(scope="module")
def tricky() -> dict[KeyPath, int]:
    return scan_key_lines(TRICKY)


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        (("title",), 'title = "x = [y]"'),
        (("quoted key",), '"quoted key"'),
        (("literal.key",), "'literal.key'"),
        (("a", "b", "c"), "a.b.c"),
        (("a", "d e", "f"), 'a . "d e"'),
        (("text",), 'text = """'),
        (("lit",), "lit = '''"),
        (("after_strings",), "after_strings"),
        (("phases", 0), '[[phases]]\nid = "one"'),
        (("phases", 0, "steps", 0), '[[phases.steps]]\nid = "s0"'),
        (("phases", 0, "steps", 0, "until"), "until = ["),
        (("phases", 0, "steps", 0, "until", 0), '{ kind = "ec2.running"'),
        (("phases", 0, "steps", 0, "until", 0, "servers", 1), '{ kind = "ec2.running"'),
        (("phases", 0, "steps", 0, "until", 1), '{ kind = "http.healthy"'),
        (("phases", 0, "steps", 0, "until", 1, "kind"), '{ kind = "http.healthy"'),
        (("phases", 0, "steps", 0, "until", 1, "servers", 1), '"d",'),
        (("phases", 0, "steps", 0, "until", 1, "contains"), 'contains = "}]"'),
        (("phases", 0, "steps", 1, "do"), 'do.kind = "manual"'),
        (("phases", 0, "steps", 1, "do", "instruction"), "do.instruction"),
        (("phases", 1, "id"), 'id = "two"'),
        (("phases", 1, "steps", 0, "id"), 'id = "t0"'),
        (("phases", 1, "steps", 0, "extra", "x"), "x = 1\nwhen"),
        (("phases", 1, "steps", 0, "extra", "when"), "when ="),
        (("phases", 1, "steps", 0, "extra", "budget"), "bud\\u0067et"),
    ],
)
def test_key_is_found_on_its_line(tricky: dict[KeyPath, int], path: KeyPath, needle: str) -> None:
    if "\n" in needle:
        expected = TRICKY[: TRICKY.index(needle)].count("\n") + 1
    else:
        expected = line_containing(TRICKY, needle)
    assert tricky[path] == expected


def test_nothing_inside_multiline_strings_is_read_as_a_key(tricky: dict[KeyPath, int]) -> None:
    assert ("not",) not in tricky
    assert ("still",) not in tricky
    assert ("estate",) not in tricky
    assert ("x",) not in tricky
    assert ("phases", 2) not in tricky


def every_path(data: Any, path: KeyPath = ()) -> set[KeyPath]:
    """Every key and list index of parsed TOML, as the scanner should name it."""
    paths = {path} if path else set()
    children = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    for key, value in children:
        paths |= every_path(value, path + (key,))
    return paths


@pytest.mark.parametrize(
    "text",
    [TRICKY, *(path.read_text() for path in sorted((ROOT / "plans").glob("*.toml")))],
    ids=lambda text: text.split("\n", 1)[0][:30],
)
def test_the_scanner_names_exactly_what_tomllib_parses(text: str) -> None:
    assert set(scan_key_lines(text)) == every_path(tomllib.loads(text))


def test_line_of_uses_the_longest_known_prefix() -> None:
    lines: dict[KeyPath, int] = {("phases",): 3, ("phases", 0): 3, ("phases", 0, "until"): 7}
    lines[("phases", 0, "until", 1)] = 9
    lines[("phases", 0, "until", 1, "servers")] = 9
    assert line_of(lines, ("phases", 0, "title")) == 3
    assert line_of(lines, ("phases", 0, "until", 1, "ec2.running", "servers", 0)) == 9
    assert line_of(lines, ("phases", 0, "until", 1, "ec2.running", "min_azs")) == 9
    assert line_of(lines, ("estate", "app_servers", 0)) == 1
    assert line_of(lines, ()) == 1


def test_real_plan_step_lines() -> None:
    text = (ROOT / "plans" / "oms-phase1-app-servers.toml").read_text()
    lines = scan_key_lines(text)
    # Where the steps sit in the plan (it gains steps): their index from tomllib.
    steps = [step["id"] for step in tomllib.loads(text)["phases"][0]["steps"]]
    switch_dns, instances_running = steps.index("switch-dns"), steps.index("instances-running")
    assert lines[("phases", 0, "steps", switch_dns, "id")] == line_containing(
        text, 'id = "switch-dns"')
    second_until = line_containing(text, '{ kind = "ec2.spread"')
    assert lines[("phases", 0, "steps", instances_running, "until", 1, "min_azs")] == second_until


@given(st.text())
def test_the_scanner_survives_any_text(text: str) -> None:
    lines = scan_key_lines(text)
    assert all(1 <= line <= text.count("\n") + 1 for line in lines.values())


@given(st.text(alphabet="[]{}\"'=.,#\n \\ab1-_", max_size=200))
def test_the_scanner_survives_toml_punctuation(text: str) -> None:
    lines = scan_key_lines(text)
    assert all(1 <= line <= text.count("\n") + 1 for line in lines.values())


# --- generated TOML: the scanner must agree with tomllib on every key, and with the writer
# --- on every line --------------------------------------------------------------------------

KEYS = st.text(alphabet="ab_-. '\"=#[]\n\\\u00e9", max_size=4)
SCALARS = st.one_of(
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.text(alphabet="ab '\"\\\n\t#=[]{},.\u00e9", max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=12,
)
DOCUMENTS = st.dictionaries(KEYS, VALUES, max_size=5)


class TomlWriter:
    """Writes a document in randomly chosen but valid TOML styles, noting each key's line."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        self.parts: list[str] = []
        self.newlines = 0
        self.expected: dict[KeyPath, int] = {}

    def choose(self) -> bool:
        return self.data.draw(st.booleans())

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.newlines += text.count("\n")

    def mark(self, path: KeyPath) -> None:
        self.expected.setdefault(path, self.newlines + 1)

    def text(self) -> str:
        return "".join(self.parts)

    def table(self, path: KeyPath, table: dict[str, Any]) -> None:
        later = []
        for key, value in table.items():
            if isinstance(value, dict) and self.choose():
                later.append((key, [value], "[{}]"))
            elif (
                value
                and isinstance(value, list)
                and all(isinstance(v, dict) for v in value)
                and self.choose()
            ):
                later.append((key, value, "[[{}]]"))
            else:
                self.pair(path, (key,), value, "\n")
                self.write(" # a comment = [x]\n" if self.choose() else "\n")
        for key, items, header in later:
            for index, item in enumerate(items):
                inner = path + (key, index) if header == "[[{}]]" else path + (key,)
                self.write("\n")
                self.mark(path + (key,))
                self.mark(inner)
                names = ".".join(self.key(part) for part in inner if isinstance(part, str))
                self.write(header.format(names) + "\n")
                self.table(inner, item)

    def pair(self, path: KeyPath, keys: tuple[str, ...], value: Any, separator: str) -> None:
        if isinstance(value, dict) and value and self.choose():  # dotted keys
            for index, (key, item) in enumerate(value.items()):
                self.write(separator if index else "")
                self.pair(path, keys + (key,), item, separator)
            return
        for end in range(1, len(keys) + 1):
            self.mark(path + keys[:end])
        self.write(" . ".join(self.key(key) for key in keys) + " = ")
        self.value(path + keys, value)

    def value(self, path: KeyPath, value: Any) -> None:
        if isinstance(value, dict):
            self.write("{ ")
            for index, (key, item) in enumerate(value.items()):
                self.write(", " if index else "")
                self.pair(path, (key,), item, ", ")
            self.write(" }")
        elif isinstance(value, list):
            self.array(path, value)
        elif isinstance(value, str):
            self.write(self.string(value))
        else:
            self.write(str(value).lower())

    def array(self, path: KeyPath, items: list[Any]) -> None:
        multiline = self.choose()
        self.write("[")
        for index, item in enumerate(items):
            self.write("\n  # [not] = a key\n  " if multiline else " ")
            self.mark(path + (index,))
            self.value(path + (index,), item)
            self.write(",")
        self.write("\n]" if multiline else " ]")

    def key(self, key: str) -> str:
        if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key) and self.choose():
            return key
        if "'" not in key and "\n" not in key and self.choose():
            return f"'{key}'"
        return json.dumps(key)

    def string(self, text: str) -> str:
        style = self.data.draw(
            st.sampled_from(["basic", "literal", "multi-basic", "multi-literal"])
        )
        plain = "'" not in text and not any(c in text for c in "\r\t")
        if style == "literal" and plain and "\n" not in text:
            return f"'{text}'"
        if style == "multi-literal" and plain:
            return f"'''\n{text}'''"
        if style == "multi-basic":
            return '"""\n' + "".join(map(multiline_escape, text)) + '"""'
        return json.dumps(text)


def multiline_escape(char: str) -> str:
    """One character as written inside a multi-line basic string (newlines kept real)."""
    if char in '\\"':
        return "\\" + char
    if char != "\n" and (char < " " or char == "\x7f"):
        return f"\\u{ord(char):04x}"
    return char


@given(st.data(), DOCUMENTS)
def test_the_scanner_agrees_with_tomllib_on_generated_toml(
    data: st.DataObject, doc: dict[str, Any]
) -> None:
    writer = TomlWriter(data)
    writer.table((), doc)
    text = writer.text()
    assert tomllib.loads(text) == doc, text  # the writer itself is right
    assert scan_key_lines(text) == writer.expected, text
