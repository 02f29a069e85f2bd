"""Every benchmark in turn, then one table: figure, target, met or missed by how much.

Each runs as `python -m bench.<name>` in a fresh process of its own (no sim, thread or
class attribute left over from the one before), printing its figures as it goes; they
are gathered through $BENCH_FIGURES. Nothing asserts on time: the exit code is 0 when
every benchmark ran, whatever the figures. The crash matrix (~20 min, a robustness check,
not a timing) is left to `make crash-matrix`.

    python -m bench [--only refresh reaction ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import BUSY_NOTE, FIGURES_ENV, ROOT, Figure, load_average, read_figures

BENCHMARKS = ["refresh", "reaction", "keypress", "record", "replay_size", "startup", "outage",
              "dead_time"]


def run_one(name: str, sink: Path) -> tuple[bool, float]:
    print(f"\n=== bench.{name} ===", flush=True)
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT,
                          env={**os.environ, FIGURES_ENV: str(sink)}, check=False)
    took = time.monotonic() - began
    if done.returncode != 0:
        print(f"bench.{name}: NOT MEASURED: it exited {done.returncode} (see above)",
              flush=True)
    return done.returncode == 0, took


def table(figures: list[Figure]) -> str:
    rows = [("figure", "value", "target", "verdict")]
    rows += [(f.name, f"{f.line().split(': ', 1)[1].split(' (target')[0]}", f.target_label(),
              f.verdict()) for f in figures]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, default=BENCHMARKS)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, load average "
          f"{load_average()}\n# {BUSY_NOTE}", flush=True)
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        sink = Path(tmp) / "figures.jsonl"
        for name in args.only:
            ran, took = run_one(name, sink)
            ok = ok and ran
            print(f"  # bench.{name} took {took:.0f} s", flush=True)
        figures = read_figures(sink)
    print(f"\n=== summary (load average now {load_average()}) ===")
    print(table(figures))
    missed = [f.name for f in figures if f.met is False]
    print(f"\n{len(figures)} figures, {sum(f.met is True for f in figures)} targets met, "
          f"{len(missed)} missed")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
