"""Record: the audit log's append with fsync, and verify and export of a 100,000-entry log.

Append: `--appends` entries through the real `AuditWriter` (structlog chain, one write and
one fsync each), each followed or preceded (alternately) by a bare `os.write` + `os.fsync`
of the very same bytes to a file beside it, so both meet the same disk in the same moment.
p50 and p99 of each, and the ratio of the p99s.

The writer's own work: everything `append` does before its write and fsync (stamp, redact,
render, hash), timed through `AuditWriter.render_next` (the same processor chain, writing
nowhere) beside the bare baseline of the same entries: `json.dumps` of the entry's dict
and a sha256 of it, the least any writer of a chained JSON line must do.

The 100,000-entry log is generated with the real writer too (`AuditWriter.append`, so the
chain, the rendering and the bytes are the writer's own), with `os.fsync` skipped while it
is generated: a session's worth of events (steps started, sampled progress with evidence,
succeeded, a note now and then), closed at the end. Then, timed: `verify_log` (the
function, median of 3), `cockpit audit verify LOG` (a fresh process, median of 3), and
`cockpit audit export LOG --format html|md|json|csv -o FILE` (fresh processes: wall time,
and the peak resident memory, VmHWM, each process reports as it exits), beside the same
export of an empty log: what of those times is starting the process.

    python -m bench.record [--appends 2000] [--entries 100000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

from bench.common import COCKPIT, Figure, median, ms, note, percentile, report
from cockpit.audit import events
from cockpit.audit.entry import GENESIS, Actor
from cockpit.audit.redact import Redactor
from cockpit.audit.verify import verify_log
from cockpit.audit.writer import AuditWriter

ACTOR = Actor(user="bench", host="bench-host", ssh_client="10.1.1.5 50000 22")
STEPS = ["switch-canary", "oms-web-healthy", "oms-api-healthy", "check-1", "check-2"]
# What a session registers: the DSN passwords and the AWS secret key of the estate.
SECRETS = ["Sup3r;S3cret-oms", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "r3plica-Pa55word"]


def _writer(path: Path) -> AuditWriter:
    redactor = Redactor()
    for secret in SECRETS:
        redactor.add_secret(secret)
    return AuditWriter(path, session="bench-session", actor=ACTOR, mode="driver",
                       redactor=redactor)


def progress_detail(n: int) -> dict[str, Any]:
    """What a sampled wait writes: a message and the evidence it was judged on."""
    evidence = {f"oms-app-{i:02d}": {"state": "healthy" if (n + i) % 7 else "initial",
                                     "reason": None, "az": f"ap-southeast-2{'abc'[i % 3]}"}
                for i in range(1, 6)}
    return {"message": f"oms-web: {n % 5} target(s) not healthy yet", "evidence": evidence}


def time_appends(folder: Path, count: int) -> tuple[list[float], list[float]]:
    """(writer seconds, bare write+fsync seconds) for each of `count` appends."""
    path, bare_path = folder / "append.jsonl", folder / "bare.jsonl"
    writer = _writer(path)
    bare = os.open(bare_path, os.O_APPEND | os.O_CREAT | os.O_WRONLY, 0o600)
    ours: list[float] = []
    theirs: list[float] = []
    try:
        writer.append(events.SESSION_OPENED, detail={"plan": "bench"})
        line = b""
        for n in range(count):
            # Alternate which goes first, so neither always meets the disk just after the
            # other; going first, the bare write takes the previous line's bytes.
            if n % 2 and line:
                theirs.append(_bare_append(bare, line))
                line = _timed_append(writer, path, n, ours)
            else:
                line = _timed_append(writer, path, n, ours)
                theirs.append(_bare_append(bare, line))
    finally:
        writer.close()
        os.close(bare)
    return ours, theirs


def _timed_append(writer: AuditWriter, path: Path, n: int, into: list[float]) -> bytes:
    size = path.stat().st_size
    began = time.perf_counter()
    writer.append(events.STEP_PROGRESS, step=STEPS[n % len(STEPS)], detail=progress_detail(n))
    into.append(time.perf_counter() - began)
    with path.open("rb") as log:
        log.seek(size)
        return log.read()


def _bare_append(fd: int, line: bytes) -> float:
    began = time.perf_counter()
    os.write(fd, line)
    os.fsync(fd)
    return time.perf_counter() - began


def time_render(folder: Path, count: int) -> tuple[list[float], list[float]]:
    """(writer's own seconds, bare json.dumps + sha256 seconds) for each of `count` entries,
    alternating which goes first."""
    writer = _writer(folder / "render.jsonl")
    ours: list[float] = []
    bare: list[float] = []
    try:
        for n in range(count):
            step, detail = STEPS[n % len(STEPS)], progress_detail(n)
            if n % 2:
                bare.append(_bare_render(step, detail))
                ours.append(_timed_render(writer, step, detail))
            else:
                ours.append(_timed_render(writer, step, detail))
                bare.append(_bare_render(step, detail))
    finally:
        writer.close()
    return ours, bare


def _timed_render(writer: AuditWriter, step: str, detail: dict[str, Any]) -> float:
    began = time.perf_counter()
    writer.render_next(events.STEP_PROGRESS, step=step, detail=detail)
    return time.perf_counter() - began


def _bare_render(step: str, detail: dict[str, Any]) -> float:
    began = time.perf_counter()
    body = {"seq": 1, "ts": "2026-11-26T14:33:23.123456Z", "session": "bench-session",
            "actor": {"user": ACTOR.user, "host": ACTOR.host, "ssh_client": ACTOR.ssh_client},
            "mode": "driver", "event": events.STEP_PROGRESS, "step": step, "detail": detail,
            "prev": GENESIS}
    prefix = json.dumps(body, ensure_ascii=False, separators=(",", ":"))[:-1].encode()
    hashlib.sha256(prefix).hexdigest()
    return time.perf_counter() - began


def render_figures(ours: list[float], bare: list[float]) -> list[Figure]:
    us = 1e6
    return [
        report(Figure("audit writer's own work per entry (before write+fsync) p50",
                      median(ours) * us, "us", 100, "max", "< 100 us")),
        report(Figure("audit writer's own work per entry (before write+fsync) p99",
                      percentile(ours, 99) * us, "us")),
        report(Figure("bare json.dumps + sha256 of the same entry p50", median(bare) * us,
                      "us")),
        report(Figure("audit writer's own work / bare serialisation (p50)",
                      median(ours) / median(bare), "x")),
    ]


def generate_log(path: Path, entries: int) -> None:
    """A closed session of `entries` lines, written by the real writer (fsync skipped)."""
    with mock.patch.object(os, "fsync", lambda fd: None), _writer(path) as writer:
        writer.append(events.SESSION_OPENED, detail={"plan_sha256": "0" * 64,
                                                     "version": "bench"})
        written, n = 1, 0
        while written < entries - 1:
            written += _one_step(writer, n, entries - 1 - written)
            n += 1
        writer.append(events.SESSION_CLOSED, detail={"summary": {"succeeded": n}})


def _one_step(writer: AuditWriter, n: int, room: int) -> int:
    step = STEPS[n % len(STEPS)]
    lines = [(events.STEP_STARTED, {"title": f"step {step}", "kind": "check", "attempt": 1})]
    lines += [(events.STEP_PROGRESS, progress_detail(n * 20 + k)) for k in range(18)]
    if n % 10 == 0:
        lines.append((events.NOTE_ADDED, {"text": f"note {n}: all quiet on the bridge"}))
    lines.append((events.STEP_SUCCEEDED, {"duration_s": 12.5, "summary": "ok",
                                          "evidence": progress_detail(n)["evidence"]}))
    for event, detail in lines[:room]:
        writer.append(event, step=None if event == events.NOTE_ADDED else step,
                      detail=detail)
    return min(room, len(lines))


def _run_cli(*args: str) -> tuple[float, int]:
    began = time.perf_counter()
    done = subprocess.run([COCKPIT, *args], capture_output=True, check=False)
    return time.perf_counter() - began, done.returncode


def time_verify(log: Path, runs: int = 3) -> tuple[float, float, str]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        result = verify_log(log)
        samples.append(time.perf_counter() - began)
    cli = [_run_cli("audit", "verify", str(log)) for _ in range(runs)]
    if any(code != 0 for _, code in cli):
        note(f"cockpit audit verify exited {[code for _, code in cli]}")
    return median(samples), median([t for t, _ in cli]), result.describe().splitlines()[0]


# `cockpit` as its console script runs it, saying its peak resident memory (VmHWM) on the
# way out. Not ru_maxrss: Linux carries the parent's high-water mark over fork and exec into
# the child's, so a child of this (large) process would report this process's peak.
_PEAK_PROBE = """
import atexit, sys
from cockpit.cli import main

def _peak():
    with open("/proc/self/status") as status:
        sys.stderr.write(next(line for line in status if line.startswith("VmHWM:")))

atexit.register(_peak)
sys.argv[0] = "cockpit"
main()
"""


def _run_cli_measured(*args: str) -> tuple[float, int, float]:
    """(seconds, exit code, peak resident MB) of a fresh `cockpit` process."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PEAK_PROBE, *args], capture_output=True,
                          check=False)
    took = time.perf_counter() - began
    said = done.stderr.decode(errors="replace").split("VmHWM:")
    peak_mb = int(said[-1].split()[0]) * 1024 / 1e6 if len(said) > 1 else float("nan")
    return took, done.returncode, peak_mb


def time_export(log: Path, fmt: str) -> tuple[float, float, int]:
    """(seconds, peak MB, bytes written) of `cockpit audit export LOG --format fmt -o FILE`."""
    out = log.with_suffix(f".{fmt}")
    took, code, peak_mb = _run_cli_measured("audit", "export", str(log), "--format", fmt,
                                            "-o", str(out))
    if code != 0:
        note(f"cockpit audit export --format {fmt} exited {code}")
    return took, peak_mb, out.stat().st_size if out.exists() else 0


def _start_up(empty: Path, runs: int = 3) -> float:
    """Median seconds of a fresh `cockpit audit export` with nothing to read: starting
    Python and importing (and, where no bytecode is written, compiling) the cockpit."""
    empty.touch()
    return median([time_export(empty, "md")[0] for _ in range(runs)])


def append_figures(ours: list[float], theirs: list[float]) -> list[Figure]:
    p99_ours, p99_bare = percentile(ours, 99), percentile(theirs, 99)
    return [
        report(Figure("audit append+fsync p50", ms(median(ours)), "ms")),
        report(Figure("audit append+fsync p99", ms(p99_ours), "ms", 1.2 * ms(p99_bare), "max",
                      f"<= 1.2x bare write+fsync p99 = {1.2 * ms(p99_bare):.2f} ms")),
        report(Figure("bare write+fsync p50", ms(median(theirs)), "ms")),
        report(Figure("bare write+fsync p99", ms(p99_bare), "ms")),
        report(Figure("audit append p99 / bare p99", p99_ours / p99_bare, "x", 1.2, "max")),
    ]


def log_figures(log: Path, entries: int) -> list[Figure]:
    function_s, cli_s, said = time_verify(log)
    note(f"verify says: {said}")
    out = [
        report(Figure(f"audit verify of {entries:,} entries (function)", function_s, "s",
                      0.5, "max", "< 0.5 s")),
        report(Figure(f"cockpit audit verify of {entries:,} entries (CLI, fresh process)",
                      cli_s, "s", 0.5, "max", "< 0.5 s")),
        report(Figure("cockpit audit export --format md of an empty log (the start-up in the "
                      "figures below)", _start_up(log.with_name("empty.jsonl")), "s")),
    ]
    for fmt in ("html", "md", "json", "csv"):
        took, peak_mb, size = time_export(log, fmt)
        note(f"export --format {fmt}: {size / 1e6:.1f} MB written")
        name = f"cockpit audit export --format {fmt} of {entries:,} entries"
        # The change board's record is held to a second; the data exports only to memory.
        record = fmt in ("html", "md")
        out += [
            report(Figure(name, took, "s", 1.0 if record else None, "max" if record else "none",
                          "< 1 s" if record else "")),
            report(Figure(f"{name}: peak memory (VmHWM)", peak_mb, "MB", 100, "max",
                          "< 100 MB")),
            # The verify CLI reads and hashes the same lines in a fresh process: the floor.
            report(Figure(f"{name} / cockpit audit verify (CLI) of the same log",
                          took / cli_s, "x")),
        ]
    return out


def measure(appends: int, entries: int, folder: Path) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-record-", dir=folder) as tmp:
        note(f"in {tmp}; {appends} appends of ~{len(str(progress_detail(0)))}-character "
             "details")
        ours, theirs = time_appends(Path(tmp), appends)
        figures = append_figures(ours, theirs)
        figures += render_figures(*time_render(Path(tmp), appends))
        log = Path(tmp) / "big.jsonl"
        began = time.perf_counter()
        generate_log(log, entries)
        note(f"generated {entries:,} entries ({log.stat().st_size / 1e6:.0f} MB) with the real "
             f"writer, fsync skipped, in {time.perf_counter() - began:.1f} s")
        figures += log_figures(log, entries)
    return figures


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where to write (the disk a session folder would be on)")
    args = parser.parse_args(argv)
    return measure(max(10, args.appends), max(3, args.entries), args.dir)


if __name__ == "__main__":
    main()
