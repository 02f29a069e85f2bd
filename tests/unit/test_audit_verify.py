"""verify_log: intact logs pass; every kind of damage is caught, named and told apart."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.audit import (
    Actor,
    AuditReadError,
    AuditWriter,
    read_entries,
    repair_torn_tail,
    verify_log,
)
from cockpit.audit import events as ev

JO = Actor(user="jo", host="jump1", ssh_client="10.1.1.5 50522 22")
STATUSES = {"intact", "altered", "torn", "unreadable"}
EXIT_CODES = {"intact": 0, "altered": 1, "torn": 1, "unreadable": 2}


def write_log(log: Path, count: int = 10, *, close: bool = False, session: str = "s1") -> None:
    with AuditWriter(log, session=session, actor=JO, mode="driver") as w:
        w.append(ev.SESSION_OPENED, detail={"plan_name": "OMS window 1"})
        for i in range(count - 1 - close):
            w.append(ev.STEP_PROGRESS, step="S1", detail={"count": 1000 + i})
        if close:
            w.append(ev.SESSION_CLOSED)


def lines_of(log: Path) -> list[bytes]:
    return log.read_bytes().splitlines(keepends=True)


def test_intact_log_reports_entries_head_and_open_session(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 42)
    report = verify_log(log)
    last_hash = json.loads(lines_of(log)[-1])["hash"]
    assert (report.status, report.exit_code, report.entries) == ("intact", 0, 42)
    assert report.head == (42, last_hash)
    assert not report.closed
    first = report.describe().splitlines()[0]
    assert first == (f"{log}: intact, 42 entries, head seq 42 {last_hash[:12]}; "
                     "open or cut short (no session.closed)")


def test_closed_session_is_reported_closed(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 5, close=True)
    report = verify_log(log)
    assert report.closed
    assert report.describe().splitlines()[0].endswith("; session closed")


def test_changed_byte_names_the_entry_it_is_in(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log)
    lines = lines_of(log)
    lines[6] = lines[6].replace(b'"count":1005', b'"count":1905')  # line 7, seq 7
    log.write_bytes(b"".join(lines))

    report = verify_log(log)
    assert (report.status, report.exit_code) == ("altered", 1)
    assert (report.first_bad_line, report.first_bad_seq) == (7, 7)
    assert report.reason == "hash mismatch: line bytes changed"
    assert (report.entries, report.head) == (6, (6, json.loads(lines[5])["hash"]))
    assert report.describe().startswith(
        f"{log}: ALTERED at line 7 (seq 7): hash mismatch: line bytes changed")


def test_deleted_middle_line_names_the_break(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log)
    lines = lines_of(log)
    del lines[4]  # seq 5
    log.write_bytes(b"".join(lines))

    report = verify_log(log)
    assert (report.status, report.first_bad_line, report.first_bad_seq) == ("altered", 5, 6)
    assert report.reason == "seq 6 follows seq 4"


def test_reordered_lines_are_caught(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log)
    lines = lines_of(log)
    lines[2], lines[3] = lines[3], lines[2]
    log.write_bytes(b"".join(lines))

    report = verify_log(log)
    assert (report.status, report.first_bad_line, report.reason) == (
        "altered", 3, "seq 4 follows seq 2")


def test_a_rewritten_and_rehashed_entry_breaks_the_next_link(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log)
    lines = lines_of(log)
    forged = lines[3].replace(b'"count":1002', b'"count":9999')
    prefix = forged[: forged.rindex(b',"hash":"')]
    lines[3] = prefix + b',"hash":"' + hashlib.sha256(prefix).hexdigest().encode() + b'"}\n'
    log.write_bytes(b"".join(lines))

    report = verify_log(log)
    assert (report.status, report.first_bad_line, report.first_bad_seq) == ("altered", 5, 5)
    assert report.reason == "prev does not match previous entry's hash"


def test_entries_cut_from_the_start_are_caught(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log)
    log.write_bytes(b"".join(lines_of(log)[2:]))
    report = verify_log(log)
    assert (report.status, report.first_bad_line) == ("altered", 1)
    assert report.reason.startswith("first entry has seq 3, not 1")


def test_a_line_without_its_hash_is_caught(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log)
    lines = lines_of(log)
    lines[1] = lines[1][: lines[1].rindex(b',"hash":"')] + b"}\n"
    log.write_bytes(b"".join(lines))
    report = verify_log(log)
    assert (report.status, report.first_bad_line, report.reason) == ("altered", 2, "missing hash")


def test_a_line_re_serialised_with_spaces_is_named_as_rewritten(tmp_path: Path) -> None:
    """A tool that re-dumps the JSON keeps the hash but not the bytes it covered: say so,
    not "missing hash"."""
    log = tmp_path / "audit.jsonl"
    write_log(log)
    lines = lines_of(log)
    lines[1] = json.dumps(json.loads(lines[1])).encode() + b"\n"  # ", " and ": "
    log.write_bytes(b"".join(lines))
    report = verify_log(log)
    assert (report.status, report.first_bad_line) == ("altered", 2)
    assert report.reason.startswith("re-serialised: the line has a hash")


def test_torn_last_line_is_told_apart_from_tampering(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 41)
    head_hash = json.loads(lines_of(log)[-1])["hash"]
    torn = b'{"seq":42,"ts":"2026-11-26T14:33:23.123456Z","session":"s1","act'
    with log.open("ab") as f:
        f.write(torn)

    report = verify_log(log)
    assert (report.status, report.exit_code, report.entries) == ("torn", 1, 41)
    assert report.head == (41, head_hash)
    assert report.first_bad_line is None
    first = report.describe().splitlines()[0]
    assert first == (
        f"{log}: TORN last line (crash mid-write): 41 intact entries before it, "
        f"head seq 41 {head_hash[:12]}; {len(torn)} bytes after the last complete line"
    )
    assert "ALTERED" not in report.describe()


def test_repaired_tail_verifies_intact(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 5)
    whole = log.read_bytes()
    with log.open("ab") as f:
        f.write(b'{"seq":6,"ts":"2026-11-2')

    assert read_entries(log).torn_tail == b'{"seq":6,"ts":"2026-11-2'
    assert repair_torn_tail(log) == b'{"seq":6,"ts":"2026-11-2'
    assert log.read_bytes() == whole
    assert verify_log(log).status == "intact"
    assert repair_torn_tail(log) is None
    assert read_entries(log).torn_tail is None


def test_a_crash_during_the_first_write_is_torn_not_unreadable(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b'{"seq":1,"ts":"20')
    report = verify_log(log)
    assert (report.status, report.entries, report.head) == ("torn", 0, None)
    assert repair_torn_tail(log) == b'{"seq":1,"ts":"20'
    assert verify_log(log).status == "intact"


def test_empty_log_is_intact_and_open(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.touch()
    report = verify_log(log)
    assert (report.status, report.entries, report.head, report.closed) == (
        "intact", 0, None, False)
    assert "open or cut short (no session.closed)" in report.describe()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(bytes(range(256)) * 8), "not an audit log"),
        (lambda p: p.write_bytes(b"\x00\xff\xfe garbage without a newline"), "not an audit log"),
        (lambda p: p.write_text('{"panes": {}, "head": [3, "ab"]}\n'), "not an audit log"),
    ],
    ids=["missing", "directory", "binary", "binary-one-line", "other-json"],
)
def test_what_is_not_a_log_is_unreadable(
    tmp_path: Path, make: Callable[[Path], object], reason: str
) -> None:
    log = tmp_path / "audit.jsonl"
    make(log)
    report = verify_log(log)
    assert (report.status, report.exit_code) == ("unreadable", 2)
    assert reason in report.reason
    assert report.describe() == f"{log}: UNREADABLE: {report.reason}"


def test_read_entries_raises_on_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(AuditReadError, match="no such file"):
        read_entries(tmp_path / "missing.jsonl")
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"\xff\xfe\n")
    with pytest.raises(AuditReadError, match="line 1 is not an audit entry"):
        read_entries(garbage)


def test_sessions_appended_after_a_crash_are_one_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, 4, session="first")  # crashed: no session.closed
    with log.open("ab") as f:
        f.write(b'{"seq":5,"ts":')
    removed = repair_torn_tail(log)
    assert removed is not None
    with AuditWriter(log, session="second", actor=JO, mode="driver") as w:
        w.append(ev.SESSION_OPENED)
        w.append(ev.AUDIT_REPAIRED, detail={
            "removed_bytes": len(removed), "removed_sha256": hashlib.sha256(removed).hexdigest()})
        w.append(ev.SESSION_INTERRUPTED, detail={"step": "S1", "last_event": "step.progress"})
        w.append(ev.SESSION_CLOSED)

    report = verify_log(log)
    assert (report.status, report.entries, report.closed) == ("intact", 8, True)
    assert {e.session for e in read_entries(log).entries} == {"first", "second"}


# --- properties --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_log(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    log = tmp_path_factory.mktemp("valid") / "audit.jsonl"
    write_log(log, 6, close=True)
    return log.read_bytes()


FUNCTION_TMP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture],
                        deadline=None)


def assert_well_formed(log: Path) -> str:
    report = verify_log(log)
    assert report.status in STATUSES
    assert report.exit_code == EXIT_CODES[report.status]
    assert report.describe()
    return report.status


@FUNCTION_TMP
@given(data=st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(tmp_path: Path, data: bytes) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes(data)
    assert_well_formed(log)


@FUNCTION_TMP
@given(data=st.data())
def test_a_byte_flip_anywhere_is_never_intact(tmp_path: Path, valid_log: bytes,
                                              data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(valid_log) - 1), label="at")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != valid_log[at]), label="byte")
    log = tmp_path / "audit.jsonl"
    log.write_bytes(valid_log[:at] + bytes([byte]) + valid_log[at + 1 :])
    assert assert_well_formed(log) != "intact"


@FUNCTION_TMP
@given(data=st.data())
def test_truncation_is_intact_only_at_a_line_end(tmp_path: Path, valid_log: bytes,
                                                 data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(valid_log)), label="cut")
    log = tmp_path / "audit.jsonl"
    log.write_bytes(valid_log[:cut])
    at_line_end = cut == 0 or valid_log[cut - 1 : cut] == b"\n"
    assert assert_well_formed(log) == ("intact" if at_line_end else "torn")
    assert verify_log(log).entries == valid_log[:cut].count(b"\n")


@FUNCTION_TMP
@given(data=st.data())
def test_flips_and_truncation_together_never_raise(tmp_path: Path, valid_log: bytes,
                                                   data: st.DataObject) -> None:
    mutated = bytearray(valid_log)
    for at in data.draw(st.lists(st.integers(0, len(valid_log) - 1), max_size=5), label="flips"):
        mutated[at] ^= data.draw(st.integers(1, 255), label="xor")
    cut = data.draw(st.integers(0, len(mutated)), label="cut")
    log = tmp_path / "audit.jsonl"
    log.write_bytes(bytes(mutated[:cut]))
    assert_well_formed(log)


def test_repair_leaves_a_file_that_is_not_a_log_alone(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_bytes(b"some notes\nwithout a final newline")
    with pytest.raises(AuditReadError, match="not an audit log"):
        repair_torn_tail(other)
    assert other.read_bytes() == b"some notes\nwithout a final newline"
