"""What every benchmark shares: figures with their targets, percentiles, a served sim.

A figure prints on one line, `name: value unit (target: ..., met|missed by X)`, so the
README can quote it; `python -m bench` gathers them into the closing table. Nothing here
asserts on time: a missed target is a figure, not a failure.
"""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
COCKPIT = str(Path(sys.executable).parent / "cockpit")
BUSY_NOTE = ("figures from a shared machine are indicative: re-measure on a quiet one "
             "before quoting them")

Direction = Literal["max", "min", "none"]


@dataclass(frozen=True)
class Figure:
    """One measured number and the target it is held to (`max`: at most, `min`: at least)."""

    name: str
    value: float
    unit: str
    target: float | None = None
    direction: Direction = "none"
    target_text: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.direction == "none":
            return None
        if self.direction == "max":
            return self.value <= self.target
        return self.value >= self.target

    def verdict(self) -> str:
        if self.met is None:
            return "no target"
        if self.met:
            return "met"
        return f"missed by {_num(abs(self.value - (self.target or 0.0)))} {self.unit}".rstrip()

    def target_label(self) -> str:
        if self.target_text:
            return self.target_text
        if self.target is None:
            return "none"
        sign = "<=" if self.direction == "max" else ">="
        return f"{sign} {_num(self.target)} {self.unit}".rstrip()

    def line(self) -> str:
        target = self.target_label()
        if self.met is None:
            return f"{self.name}: {_num(self.value)} {self.unit} (target: {target})"
        return f"{self.name}: {_num(self.value)} {self.unit} (target: {target}, {self.verdict()})"


def _num(value: float) -> str:
    if value != value:  # nan: not measured
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


FIGURES_ENV = "BENCH_FIGURES"


def report(figure: Figure) -> Figure:
    """Print the figure's line now (so a long run shows progress) and hand it back; under
    `python -m bench`, also append it to the file named by $BENCH_FIGURES for the table."""
    print(figure.line(), flush=True)
    sink = os.environ.get(FIGURES_ENV)
    if sink:
        with open(sink, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(figure)) + "\n")
    return figure


def read_figures(path: Path) -> list[Figure]:
    if not path.exists():
        return []
    return [Figure(**json.loads(line)) for line in path.read_text().splitlines() if line]


def note(text: str) -> None:
    print(f"  # {text}", flush=True)


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: p99 of 100 samples is the 99th smallest."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def ms(seconds: float) -> float:
    return seconds * 1000.0


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


@contextmanager
def served_sim(plan_file: Path, workdir: Path, *, speed: float = 1.0,
               faults: Sequence[str] = (), extra: Sequence[str] = ()) -> Iterator[Path]:
    """The sim in a process of its own (`bench.sim_server`: moto is not in a real driver's
    process); yields the endpoints file once the sim answers. Stopped with SIGTERM."""
    endpoints = workdir / f"sim-{time.monotonic_ns()}.json"
    args = [sys.executable, "-m", "bench.sim_server", str(plan_file), "--endpoints",
            str(endpoints), "--speed", str(speed)]
    for fault in faults:
        args += ["--sim-fault", fault]
    args += list(extra)
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_file(endpoints, proc, timeout_s=120)
        yield endpoints
    finally:
        _stop(proc)


def served_pid(endpoints: Path) -> int:
    """The pid of the sim serving at `endpoints` (its endpoints file says it)."""
    return int(json.loads(endpoints.read_text(encoding="utf-8"))["pid"])


def _wait_for_file(path: Path, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            said = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"the simulated estate did not start: {said[-2000:]}")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def cpu_seconds(pid: int | str = "self") -> float:
    """User plus system CPU seconds a process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_rss_mb(pid: int | str = "self") -> float:
    """Resident memory (VmRSS) of a process, in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def pss_mb(pid: int | str = "self") -> float:
    """Proportional set size of a process, in MB: its resident pages, each shared page
    divided among the processes that map it. Two processes' RSS added count the shared
    libraries (the interpreter, OpenSSL, the extension modules) twice; their PSS added,
    once."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")
