"""AuditWriter: lines on disk as the chain demands, durable on return, secrets kept out."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.audit import (
    GENESIS,
    Actor,
    AuditReadError,
    AuditWriter,
    Redactor,
    read_entries,
    repair_torn_tail,
    verify_log,
)
from cockpit.audit import events as ev
from cockpit.audit.writer import plain_json

JO = Actor(user="jo", host="jump1", ssh_client="10.1.1.5 50522 22")
KEYS = ["seq", "ts", "session", "actor", "mode", "event", "step", "detail", "prev", "hash"]


def writer(
    log: Path, session: str = "20261126-143323-ab12", redactor: Redactor | None = None
) -> AuditWriter:
    return AuditWriter(log, session=session, actor=JO, mode="driver", redactor=redactor)


def test_appended_entries_verify_and_the_head_is_the_last_entry(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log) as w:
        assert w.head == (0, GENESIS)
        written = [w.append(ev.STEP_PROGRESS, step="S1", detail={"i": i}) for i in range(5)]
        assert w.head == (5, written[-1].hash)

    report = verify_log(log)
    assert (report.status, report.exit_code, report.entries) == ("intact", 0, 5)
    assert report.head == (5, written[-1].hash)
    assert [e.seq for e in written] == [1, 2, 3, 4, 5]
    assert written[0].prev == GENESIS
    assert [e.prev for e in written[1:]] == [e.hash for e in written[:-1]]
    assert read_entries(log).entries == written


def test_reopening_the_log_continues_seq_and_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log, session="first") as w:
        w.append(ev.SESSION_OPENED)
        last = w.append(ev.STEP_STARTED, step="S1")
    with writer(log, session="second") as w:
        assert w.head == (2, last.hash)
        resumed = w.append(ev.SESSION_OPENED)
        w.append(ev.SESSION_CLOSED)

    assert (resumed.seq, resumed.prev, resumed.session) == (3, last.hash, "second")
    report = verify_log(log)
    assert (report.status, report.entries, report.closed) == ("intact", 4, True)


def test_each_line_is_in_the_file_when_append_returns(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log) as w:
        reader = os.open(log, os.O_RDONLY)
        try:
            for i in range(3):
                entry = w.append(ev.NOTE_ADDED, detail={"text": f"note {i}"})
                lines = os.pread(reader, 1 << 16, 0).split(b"\n")
                assert lines[-1] == b""  # the whole line, newline included
                assert json.loads(lines[-2])["hash"] == entry.hash
        finally:
            os.close(reader)


def test_line_bytes_follow_the_format(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log) as w:
        entry = w.append(ev.STEP_STARTED, step="S1", detail={"title": "Stop the app: «OMS»"})
    line = log.read_bytes()
    assert line.endswith(b'"}\n') and line.count(b"\n") == 1
    assert list(json.loads(line)) == KEYS
    assert b", " not in line and b'": ' not in line  # compact separators
    assert "«OMS»".encode() in line  # UTF-8, not \u escapes
    prefix = line[: line.rindex(b',"hash":"')]
    assert hashlib.sha256(prefix).hexdigest() == entry.hash
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", json.loads(line)["ts"])
    assert entry.ts.utcoffset() is not None and entry.ts.utcoffset().total_seconds() == 0


def test_a_key_named_hash_inside_detail_does_not_confuse_the_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log) as w:
        w.append(ev.STEP_SUCCEEDED, step="S1", detail={"evidence": {"hash": "abc", "x": 1}})
        w.append(ev.STEP_SUCCEEDED, step="S2", detail={"note": ',"hash":"'})
    assert verify_log(log).status == "intact"


def test_new_log_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log) as w:
        w.append(ev.SESSION_OPENED)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    redactor = Redactor()
    redactor.add_secret("wJalrXUtnFEMI/K7MDENG")  # an AWS secret key
    redactor.add_secret("Sup3r;S3cret")  # the DSN password
    with writer(log, redactor=redactor) as w:
        w.append(ev.STEP_FAILED, step="S4", detail={
            "reason": "login failed with Sup3r;S3cret",
            "password": "hunter22",
            "evidence": {
                "env": ["AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG"],
                "dsn": "Driver={ODBC Driver 18};Server=db1;UID=sa;PWD={Sup3r;S3cret};",
                "other_dsn": "Server=db2;Password=letmein99;Encrypt=yes",
                "SessionToken": "FQoGZXIvYXdzE",
                "url": "s3://bucket/key?x=wJalrXUtnFEMI%2FK7MDENG",
            },
        })
    data = log.read_bytes()
    for secret in (b"wJalrXUtnFEMI", b"Sup3r", b"hunter22", b"letmein99", b"FQoGZXIvYXdzE"):
        assert secret not in data
    evidence = read_entries(log).entries[0].detail["evidence"]
    assert evidence["dsn"] == "Driver={ODBC Driver 18};Server=db1;UID=sa;PWD=***;"
    assert evidence["other_dsn"] == "Server=db2;Password=***;Encrypt=yes"
    assert verify_log(log).status == "intact"


def test_secrets_shorter_than_four_characters_are_ignored() -> None:
    redactor = Redactor()
    redactor.add_secret("abc")
    assert redactor.redact({"plan": "abc step"}) == {"plan": "abc step"}


SECRETS = st.text(st.characters(codec="utf-8", exclude_characters="*"), min_size=4, max_size=24)
TEXT = st.text(max_size=30)


@given(secret=SECRETS, before=TEXT, after=TEXT, key=TEXT)
def test_a_registered_secret_never_survives_redaction(secret: str, before: str, after: str,
                                                      key: str) -> None:
    redactor = Redactor()
    redactor.add_secret(secret)
    found = redactor.redact({key: [before + secret + after, {"k": (secret, 1)}],
                             before + secret: None})
    assert not any(secret in text for text in strings_in(found))


def strings_in(obj: object) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in strings_in(k) + strings_in(v)]
    if isinstance(obj, list):
        return [s for item in obj for s in strings_in(item)]
    return []


def test_redact_returns_a_copy() -> None:
    redactor = Redactor()
    redactor.add_secret("s3cr3t-value")
    original = {"a": ["s3cr3t-value", {"token": "t"}]}
    assert redactor.redact(original) == {"a": ["***", {"token": "***"}]}
    assert original == {"a": ["s3cr3t-value", {"token": "t"}]}


def test_appends_from_many_threads_make_one_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log) as w:
        def worker(n: int) -> None:
            for i in range(20):
                w.append(ev.STEP_PROGRESS, step=f"S{n}", detail={"i": i})

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    report = verify_log(log)
    assert (report.status, report.entries) == ("intact", 120)


def test_a_torn_log_is_refused_until_its_tail_is_repaired(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log) as w:
        w.append(ev.SESSION_OPENED)
        last = w.append(ev.STEP_STARTED, step="S1")
    with log.open("ab") as f:
        f.write(b'{"seq":3,"ts":"2026-11-26T14:')

    with pytest.raises(AuditReadError, match="TORN"):
        writer(log)
    assert repair_torn_tail(log) == b'{"seq":3,"ts":"2026-11-26T14:'
    with writer(log) as w:
        assert w.head == (2, last.hash)
        w.append(ev.AUDIT_REPAIRED, detail={"removed_bytes": 29})
    assert verify_log(log).status == "intact"


def test_an_altered_log_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log) as w:
        w.append(ev.NOTE_ADDED, detail={"text": "go"})
    log.write_bytes(log.read_bytes().replace(b'"go"', b'"no"'))
    with pytest.raises(AuditReadError, match="ALTERED"):
        writer(log)


def test_evidence_that_is_not_json_is_recorded_as_text(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    when = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
    with writer(log) as w:
        entry = w.append(ev.STEP_SUCCEEDED, step="S1", detail={"evidence": {
            "rows": Decimal("120345"), "at": when, "file": Path("/backups/oms.bak"),
            "azs": {"eu-west-1b", "eu-west-1a"}, "ratio": float("nan"), 7: (1, 2),
        }})
    assert entry.detail["evidence"] == {
        "rows": "120345", "at": "2026-11-26T14:00:00.000000Z", "file": "/backups/oms.bak",
        "azs": ["eu-west-1a", "eu-west-1b"], "ratio": "nan", "7": [1, 2],
    }
    assert read_entries(log).entries == [entry]


def test_a_closed_writer_refuses_to_append(tmp_path: Path) -> None:
    w = writer(tmp_path / "audit.jsonl")
    w.close()
    w.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="closed"):
        w.append(ev.NOTE_ADDED)


def test_current_actor_names_user_host_and_ssh_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_CLIENT", "10.1.1.5 50522 22")
    actor = Actor.current()
    assert actor.user and actor.host
    assert actor.ssh_client == "10.1.1.5 50522 22"
    monkeypatch.delenv("SSH_CLIENT")
    assert Actor.current().ssh_client is None


def test_an_entry_that_could_not_be_read_back_is_refused_before_writing(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log) as w:
        with pytest.raises(TypeError):
            w.append(ev.NOTE_ADDED, step=7)  # type: ignore[arg-type]
        assert w.head == (0, GENESIS)
    assert log.read_bytes() == b""


# --- the line as it has always been written ---------------------------------------------

WRITTEN_BEFORE = Path(__file__).resolve().parent.parent / "data" / "audit" / "written-before.jsonl"
"""A log the writer made before it rendered details itself: secrets, «text», NaN, sets,
Decimals, tuples and int keys in it."""

LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
          | st.decimals(allow_nan=False) | st.just(Path("/backups/oms.bak")))
VALUES = st.recursive(LEAVES, lambda inner: (
    st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    | st.dictionaries(st.integers() | st.booleans() | st.none(), inner, max_size=2)
    | st.sets(st.text(max_size=4), max_size=3)), max_leaves=12)
DETAILS = st.dictionaries(st.text(max_size=12), VALUES, max_size=4)
PLAIN = settings(deadline=None, max_examples=60)


def as_written_before(line: bytes, redactor: Redactor, *, event: str, step: str | None,
                      detail: dict[object, object]) -> bytes:
    """The line the entry's dict makes through `json.dumps`: how every log was written."""
    body = {"seq": 1, "ts": json.loads(line)["ts"], "session": "s", "actor": JO.model_dump(),
            "mode": "driver", "event": event, "step": step,
            "detail": redactor.redact(plain_json(detail)), "prev": GENESIS}
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    prefix = text[:-1].encode("utf-8", "replace")
    return prefix + b',"hash":"' + hashlib.sha256(prefix).hexdigest().encode() + b'"}\n'


@PLAIN
@given(detail=DETAILS, step=st.none() | st.text(max_size=8))
def test_a_line_is_the_json_of_its_entry_byte_for_byte(detail: dict[object, object],
                                                       step: str | None) -> None:
    redactor = Redactor()
    redactor.add_secret("Sup3r;S3cret")
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "audit.jsonl"
        with writer(log, session="s", redactor=redactor) as w:
            entry = w.append(ev.STEP_PROGRESS, step=step, detail=detail)
        line = log.read_bytes()
        assert line == as_written_before(line, redactor, event=ev.STEP_PROGRESS, step=step,
                                         detail=detail)
        assert read_entries(log).entries == [entry]
        assert verify_log(log).status == "intact"


def test_text_that_utf8_cannot_hold_is_written_as_before(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    detail: dict[object, object] = {"message": "half a pair: \ud800", "\udfff": 1}
    with writer(log, session="s") as w:
        entry = w.append(ev.NOTE_ADDED, step="S\ud800", detail=detail)
    line = log.read_bytes()
    assert line == as_written_before(line, Redactor(), event=ev.NOTE_ADDED, step="S\ud800",
                                     detail=detail)
    assert read_entries(log).entries == [entry]
    assert entry.detail == {"message": "half a pair: ?", "?": 1}


class Level(IntEnum):
    HIGH = 3


def _moved_to_end() -> OrderedDict[str, int]:
    ordered = OrderedDict([("a", 1), ("b", 2)])
    ordered.move_to_end("a")  # iterates b, a: not the order the keys went in
    return ordered


@pytest.mark.parametrize("detail", [
    {"rows": 1e16, "ratio": 1e-05, "big": 1.5e300, "tiny": -2.5e-7},  # json writes an exponent
    {"just_below": 9999999999999998.0, "at": 0.0001, "zero": -0.0, "ints": [10**30, -(2**63)]},
    {"ordered": _moved_to_end()},
    {"level": Level.HIGH, "levels": [Level.HIGH]},
    {"quote": '"\\/\n\t\x01\u2028\x7f', "«key»": ["ünï", "🚀"]},
])
def test_numbers_text_and_mappings_are_written_as_json_dumps_writes_them(
        tmp_path: Path, detail: dict[object, object]) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log, session="s") as w:
        entry = w.append(ev.STEP_PROGRESS, step="S1", detail=detail)
    line = log.read_bytes()
    assert line == as_written_before(line, Redactor(), event=ev.STEP_PROGRESS, step="S1",
                                     detail=detail)
    assert read_entries(log).entries == [entry]


def test_a_log_written_before_verifies_and_is_continued(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes(WRITTEN_BEFORE.read_bytes())
    assert verify_log(log).status == "intact"
    with writer(log, session="later") as w:
        assert w.head[0] == 6
        w.append(ev.SESSION_OPENED, detail={"plan_name": "OMS «window 2»"})
        w.append(ev.SESSION_CLOSED)
    report = verify_log(log)
    assert (report.status, report.entries, report.closed) == ("intact", 8, True)
    assert b"Sup3r" not in log.read_bytes() and b"hunter22" not in log.read_bytes()


def test_a_byte_changed_in_a_line_of_the_new_writer_is_found(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log) as w:
        w.append(ev.STEP_SUCCEEDED, step="S1", detail={"evidence": {"rows": 120345}})
        w.append(ev.SESSION_CLOSED)
    log.write_bytes(log.read_bytes().replace(b"120345", b"120346"))
    report = verify_log(log)
    assert (report.status, report.first_bad_seq) == ("altered", 1)


# --- redaction, whatever shape the secret takes in JSON --------------------------------

# Characters JSON escapes, so a secret holding them is written differently from itself.
ESCAPED = st.sampled_from(['"', "\\", "\n", "\t", "\x01", "\u2028", "/"])
SECRETS_TO_ESCAPE = st.lists(st.characters(codec="utf-8", exclude_characters="*") | ESCAPED,
                             min_size=4, max_size=16).map("".join)


@PLAIN
@given(secret=SECRETS_TO_ESCAPE, before=TEXT, after=TEXT, key=TEXT,
       where=st.sampled_from(["value", "key", "tuple", "path", "deep"]))
def test_the_writer_masks_a_secret_wherever_it_sits(secret: str, before: str, after: str,
                                                    key: str, where: str) -> None:
    redactor = Redactor()
    redactor.add_secret(secret)
    text = before + secret + after
    detail: dict[object, object] = {
        "value": {key: text}, "key": {text: 1}, "tuple": {key: (1, text)},
        "path": {key: Path(text)}, "deep": {"evidence": [{"rows": [text]}]},
    }[where]
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "audit.jsonl"
        with writer(log, redactor=redactor) as w:
            entry = w.append(ev.STEP_SUCCEEDED, step="S1", detail=detail)
        written = json.loads(log.read_bytes())["detail"]
    assert not any(secret in found for found in strings_in(written))
    assert written == entry.detail == redactor.redact(plain_json(detail))


@pytest.mark.parametrize("detail", [
    {"evidence": {"db_password": "letmein99"}},
    {"evidence": {"PaſſWord": "letmein99"}},  # the long s: a case-blind match all the same
    {"dsn": "Server=db2;pwd = letmein99;Encrypt=yes"},
    {"dsn": "Server=db2;\tPassword=letmein99"},
    {"urls": ["mssql://sa:letmein99@db1/oms"]},
    {"creds": {"Credential": {"x": "letmein99"}}},
])
def test_sensitive_keys_odbc_and_url_passwords_are_masked(tmp_path: Path,
                                                          detail: dict[str, object]) -> None:
    log = tmp_path / "audit.jsonl"
    with writer(log) as w:
        w.append(ev.STEP_SUCCEEDED, step="S1", detail=detail)
    assert b"letmein99" not in log.read_bytes()
