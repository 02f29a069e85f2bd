"""The fault tour: rehearse under each simulated fault and say what the cockpit showed.

For every fault the sim can inject, one headless rehearsal: its exit code, where it
stopped and the reason on record, and whether the log still verifies. The claim checked
each time: the cockpit keeps running (no traceback, exit 0 or 1), and no step is recorded
as succeeded unless its condition was observed. A fault that makes the estate one the plan
must not be driven on (another account, a Name on two instances) must instead refuse the
session before it opens: exit 2, nothing on record, the reason said.

    python -m bench.fault_tour [--speed 50] [--only NAME...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COCKPIT = str(Path(sys.executable).parent / "cockpit")
PHASE1 = "plans/oms-phase1-app-servers.toml"
PHASE2 = "plans/oms-phase2-simple.toml"

# (fault, plan): every fault in cockpit.sim.faults, on the plan that meets it.
TOUR: list[tuple[str, str]] = [
    ("app-down=oms-app-2", PHASE1),
    ("alb-blocked=oms-app-1", PHASE1),
    ("http-hang=oms-app-1", PHASE1),
    ("resolver-stale=dc-dns-1", PHASE1),
    ("dns-timeout=vpc-resolver", PHASE1),
    ("dns-servfail=vpc-resolver", PHASE1),
    ("dns-nxdomain=dc-dns-1", PHASE1),
    ("dns-latency=300", PHASE1),
    ("aws-latency=200", PHASE1),
    ("aws-throttle=25", PHASE1),
    ("aws-5xx=20", PHASE1),
    ("aws-hang=route53", PHASE1),
    ("aws-credentials-expire=60", PHASE1),
    ("restore-drops-row=orders", PHASE2),
    ("backup-fails-at=40", PHASE2),
    ("replica-stuck=OMS-SQL-2", PHASE2),
    ("sql-drop-at=40", PHASE2),
    ("ttl-not-lowered=orders", PHASE1),
    ("orphaned-user=oms_app", PHASE2),
    ("split-horizon=oms", PHASE1),
    ("alb-5xx=5", PHASE2),  # no step reads CloudWatch: `cockpit check` does
    ("missing-certificate=oms-sql-1", PHASE2),
    ("job-scheduled=oms_weekly_archive", PHASE2),  # no step reads msdb: `cockpit check` does
    ("seeding-denied=OMS-SQL-2", PHASE2),
    ("path-missing=oms-sql-1", PHASE2),
    ("collation-differs=oms-sql-1", PHASE2),  # no step reads it: `cockpit check` does
    ("linked-server-missing=oms-sql-1", PHASE2),  # no step reads it: `cockpit check` does
    ("credential-missing=oms-db-dc", PHASE2),
    ("listener-offline=oms-ag", PHASE2),  # no step reads it: `cockpit check` does
    ("wrong-account", PHASE1),
    ("duplicate-name=oms-app-1", PHASE1),
]
REFUSED_AT_OPENING = {"wrong-account", "duplicate-name"}


@dataclass
class Outcome:
    fault: str
    exit_code: int
    stopped_at: str
    said: str
    log: str
    seconds: float

    @property
    def kept_running(self) -> bool:
        if self.fault.split("=")[0] in REFUSED_AT_OPENING:
            return self.exit_code == 2 and self.log == "none" and "Traceback" not in self.said
        return self.exit_code in (0, 1) and self.log.startswith("intact")


def visit(fault: str, plan: str, speed: float, workdir: Path) -> Outcome:
    session = workdir / fault.replace("=", "-")
    started = time.monotonic()
    done = subprocess.run(
        [COCKPIT, "rehearse", plan, "--manual-note", "rehearsal",
         "--sim", "--speed", str(speed), "--session", str(session),
         "--sim-fault", fault], cwd=ROOT, capture_output=True, text=True, timeout=600)
    took = time.monotonic() - started
    _stop_served(session)
    failed = _first_failure(session / "audit.jsonl")
    verdict = subprocess.run([COCKPIT, "audit", "verify", str(session / "audit.jsonl")],
                             capture_output=True, text=True, cwd=ROOT)
    log = verdict.stdout.split(": ", 1)[-1].split(",")[0] if verdict.stdout else "unreadable"
    if not (session / "audit.jsonl").exists():
        log = "none"
    last_words = done.stderr.strip().splitlines() or ["every step succeeded"]
    said = failed[1] if failed else last_words[-1]
    return Outcome(fault, done.returncode, failed[0] if failed else "-", said, log, took)


def _stop_served(session: Path) -> None:
    """A rehearsal that stopped short leaves its session's estate up for a next driver;
    the tour has none: stop it now rather than let two dozen linger."""
    from cockpit.session.served_sim import ENDPOINTS, ServedSim

    served = ServedSim.found_at((session / ENDPOINTS).absolute())
    if served is not None:
        served.stop()


def _first_failure(log: Path) -> tuple[str, str] | None:
    if not log.exists():
        return None
    for line in log.read_bytes().splitlines():
        entry = json.loads(line)
        if entry["event"] == "step.failed":
            return str(entry["step"]), str(entry["detail"].get("reason", ""))
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=50.0)
    parser.add_argument("--only", nargs="*", default=None, help="fault names to visit")
    args = parser.parse_args()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="fault-tour-") as tmp:
        for fault, plan in TOUR:
            if args.only and fault.split("=")[0] not in args.only:
                continue
            if not (ROOT / plan).exists():
                print(f"{fault}: skipped, {plan} is missing")
                continue
            outcome = visit(fault, plan, args.speed, Path(tmp))
            outcomes.append(outcome)
            mark = "ok " if outcome.kept_running else "BAD"
            print(f"{mark} {fault:<28} exit {outcome.exit_code}  log {outcome.log:<7} "
                  f"stopped at {outcome.stopped_at}: {outcome.said[:140]}", flush=True)
    refusing = [o for o in outcomes if o.fault.split("=")[0] in REFUSED_AT_OPENING]
    kept = sum(o.kept_running for o in outcomes if o not in refusing)
    refused = sum(o.kept_running for o in refusing)
    print(f"fault tour: {len(outcomes)} faults, cockpit kept running and its log intact "
          f"in {kept}, refused to open as it should in {refused}")
    return 0 if kept + refused == len(outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
