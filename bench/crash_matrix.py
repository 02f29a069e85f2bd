"""The crash matrix: kill the driver at every audit event boundary and mid-step, reopen.

For each plan: one clean rehearsal counts its audit entries; then, for every entry N, a
rehearsal against a freshly served sim is SIGKILLed right after entry N is on disk, and
again half-way through writing it (a torn line); a few more are killed at random moments
in the middle of steps. Each time the session is reopened (`--take-over --interrupted
resume`: re-check, run again only if not done) and must: verify intact after repairing a
torn tail (the repair recorded); keep
every byte of every entry written before the crash (entries lost: 0); mark a step that was
running as interrupted and never start it again without the operator's choice; and
finish the plan.

    python -m bench.crash_matrix [--plans P...] [--speed 50] [--mid-step 4] [--limit N]
                                 [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COCKPIT = str(Path(sys.executable).parent / "cockpit")
DEFAULT_PLANS = ["plans/oms-phase1-app-servers.toml", "plans/oms-phase2-simple.toml"]


@dataclass
class Point:
    plan: str
    kind: str  # after, tear, mid-step
    at: str
    recovered: bool = False
    lost: int = 0
    problems: list[str] = field(default_factory=list)
    # An entry boundary this run never reached: the number of progress entries depends on
    # timing, so a run may end before the clean one's last entry. Not a point tried.
    reached: bool = True


@contextmanager
def served_sim(plan: str, speed: float, workdir: Path) -> Iterator[Path]:
    endpoints = workdir / f"sim-{threading.get_ident()}-{time.monotonic_ns()}.json"
    proc = subprocess.Popen([COCKPIT, "sim", "serve", plan, "--endpoints", str(endpoints),
                             "--speed", str(speed)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not endpoints.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                said = proc.stderr.read() if proc.stderr else b""
                raise RuntimeError(f"sim did not start: {said!r}")
            time.sleep(0.05)
        yield endpoints
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def rehearse(plan: str, endpoints: Path, session: Path, *extra: str,
             env: dict[str, str] | None = None, kill_after: float | None = None) -> int:
    args = [COCKPIT, "rehearse", plan, "--manual-note", "rehearsal",
            "--sim-endpoints", str(endpoints), "--session",
            str(session), *extra]
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if kill_after is None:
            return proc.wait(timeout=300)
        # Timed from the session's opening, not the process's start: a start-up slowed by
        # a busy machine must not turn a mid-step kill into a kill before any session.
        opened = session / "audit.jsonl"
        deadline = time.monotonic() + 120
        while not opened.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        return proc.wait()


def lines_of(path: Path) -> list[bytes]:
    data = path.read_bytes() if path.exists() else b""
    return data.split(b"\n")[:-1]  # complete lines only: a torn tail is not an entry


def verify(path: Path) -> tuple[int, str]:
    done = subprocess.run([COCKPIT, "audit", "verify", str(path)], capture_output=True,
                          text=True, cwd=ROOT)
    return done.returncode, done.stdout.splitlines()[0] if done.stdout else done.stderr


def events(lines: list[bytes]) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines]


def check_point(point: Point, plan: str, speed: float, workdir: Path, env: dict[str, str],
                kill_after: float | None = None) -> Point:
    session = workdir / f"session-{point.kind}-{point.at}-{time.monotonic_ns()}"
    with served_sim(plan, speed, workdir) as endpoints:
        code = rehearse(plan, endpoints, session, env=env, kill_after=kill_after)
        if code != -signal.SIGKILL:
            written = len(lines_of(session / "audit.jsonl"))
            if code == 0 and kill_after is None and written <= int(point.at):
                point.reached = False
            else:
                point.problems.append(f"driver was not killed (exit {code})")
            return point
        before = lines_of(session / "audit.jsonl")
        status, said = verify(session / "audit.jsonl")
        if status == 2 or "ALTERED" in said:
            point.problems.append(f"log after the crash: {said}")
        code = rehearse(plan, endpoints, session, "--take-over", "--interrupted", "resume")
        after = lines_of(session / "audit.jsonl")
    _judge(point, before, after, code, session)
    return point


def _judge(point: Point, before: list[bytes], after: list[bytes], code: int,
           session: Path) -> None:
    point.lost = sum(1 for old, new in zip(before, after, strict=False) if old != new)
    point.lost += max(0, len(before) - len(after))
    status, said = verify(session / "audit.jsonl")
    if status != 0 or "session closed" not in said:
        point.problems.append(f"after recovery: {said}")
    if code != 0:
        point.problems.append(f"recovery rehearsal exit {code}")
    point.problems.extend(_rerun_problems(events(before), events(after[len(before):])))
    point.recovered = not point.problems and point.lost == 0


def _rerun_problems(before: list[dict[str, object]], later: list[dict[str, object]]) -> list[str]:
    """A step done before the crash never starts again; a cut-short one is interrupted first."""
    done = {e["step"] for e in before if e["event"] in ("step.succeeded", "step.skipped")}
    started = [e for e in before if e["event"] == "step.started"]
    ended = {e["step"] for e in before if e["event"] in ("step.succeeded", "step.failed")}
    open_steps = {e["step"] for e in started} - ended
    problems = [f"{e['step']} done before the crash was started again"
                for e in later if e["event"] == "step.started" and e["step"] in done]
    marked = {e["step"] for e in later if e["event"] == "session.interrupted"}
    problems += [f"{step} was cut short but not marked interrupted"
                 for step in open_steps - marked]
    return problems


def clean_run(plan: str, speed: float, workdir: Path) -> tuple[int, float]:
    """How many entries a clean rehearsal writes, and how long its session lasts (from
    `session.opened` to `session.closed`: the estate's start-up is not in it)."""
    session = workdir / f"clean-{time.monotonic_ns()}"
    with served_sim(plan, speed, workdir) as endpoints:
        code = rehearse(plan, endpoints, session)
    if code != 0:
        raise SystemExit(f"{plan}: the clean rehearsal failed (exit {code})")
    lines = [json.loads(line) for line in lines_of(session / "audit.jsonl")]
    opened, closed = (datetime.fromisoformat(lines[i]["ts"]) for i in (0, -1))
    return len(lines), (closed - opened).total_seconds()


Planned = tuple[Point, dict[str, str], float | None]


def points_for(plan: str, total: int, duration: float, mid_step: int,
               limit: int | None) -> list[Planned]:
    # The last entry is session.closed: dying after it is no crash at all.
    seqs = list(range(1, total))
    if limit:
        seqs = sorted(random.Random(7).sample(seqs, min(limit, len(seqs))))
    points: list[Planned] = []
    for seq in seqs:
        points.append((Point(plan, "after", str(seq)), {"COCKPIT_CRASH_AFTER_SEQ": str(seq)}, None))
        points.append((Point(plan, "tear", str(seq)), {"COCKPIT_CRASH_TEAR_SEQ": str(seq)}, None))
    rng = random.Random(11)
    for _ in range(mid_step):
        # Seconds after the session opened, before the plan's end: somewhere inside a step.
        at = round(rng.uniform(duration * 0.1, duration * 0.9), 2)
        points.append((Point(plan, "mid-step", f"{at}s"), {}, at))
    return points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", nargs="*", default=DEFAULT_PLANS)
    parser.add_argument("--speed", type=float, default=50.0)
    parser.add_argument("--mid-step", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="points checked at once (default: one per CPU)")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most N entry boundaries per plan (a sample)")
    args = parser.parse_args()
    results: list[Point] = []
    skipped = 0
    with tempfile.TemporaryDirectory(prefix="crash-matrix-") as tmp:
        workdir = Path(tmp)
        for plan in [p for p in args.plans if (ROOT / p).exists()]:
            total, took = clean_run(plan, args.speed, workdir)
            print(f"{plan}: {total} audit entries in a clean rehearsal, its session {took:.1f}s",
                  flush=True)
            planned = points_for(plan, total, took, args.mid_step, args.limit)
            # Each point has its own served sim and session folder: they run side by side.
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                running = [pool.submit(check_point, point, plan, args.speed, workdir, env,
                                       kill_after) for point, env, kill_after in planned]
                for future in as_completed(running):
                    point = future.result()
                    if not point.reached:
                        skipped += 1
                        print(f"  --  {point.kind:<8} {point.at:<6} not reached: this run "
                              "wrote fewer entries", flush=True)
                        continue
                    results.append(point)
                    mark = "ok " if point.recovered else "BAD"
                    print(f"  {mark} {point.kind:<8} {point.at:<6} lost {point.lost}"
                          + (f"  {'; '.join(point.problems)}" if point.problems else ""),
                          flush=True)
    recovered = sum(p.recovered for p in results)
    lost = sum(p.lost for p in results)
    print(f"crash matrix: points tried {len(results)}, points recovered {recovered}, "
          f"entries lost: {lost}; boundaries not reached by their run: {skipped}")
    return 0 if recovered == len(results) and lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
