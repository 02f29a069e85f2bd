"""The routine the cockpit replaces: an engineer's terminals, one command after another.

`aws` (the awscli package, in a venv of its own under `bench/.venv-awscli`, created on
first use, so its pinned botocore never meets the cockpit's boto3), `curl` for each health
check, and `dig @127.0.0.1 -p PORT` for each name on each resolver (or, where `dig` is
missing, a fresh `python -c` process per query with dnspython: `apt-get install dnsutils`
brings dig). Every command is a new process, as it is at a prompt.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ROOT

AWSCLI_VENV = ROOT / "bench" / ".venv-awscli"
AWS = AWSCLI_VENV / "bin" / "aws"


@dataclass
class Routine:
    """The commands of one sweep, in the order an engineer types them."""

    commands: list[list[str]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)

    def add(self, kind: str, command: list[str]) -> None:
        self.kinds.append(kind)
        self.commands.append(command)

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for kind in self.kinds:
            counted[kind] = counted.get(kind, 0) + 1
        return counted


@dataclass(frozen=True)
class SweepResult:
    seconds: float
    failures: list[str]
    by_kind: dict[str, float]


def ensure_awscli() -> Path:
    """The `aws` executable of the bench's own venv; created (and awscli installed) once."""
    if AWS.exists():
        return AWS
    print(f"  # creating {AWSCLI_VENV} with awscli (first use only)", flush=True)
    subprocess.run([_base_python(), "-m", "venv", str(AWSCLI_VENV)], check=True)
    pip = AWSCLI_VENV / "bin" / "pip"
    subprocess.run([str(pip), "install", "-q", "awscli"], check=True)
    return AWS


def _base_python() -> str:
    return getattr(sys, "_base_executable", None) or sys.executable


def awscli_version() -> str:
    done = subprocess.run([str(AWS), "--version"], capture_output=True, text=True,
                          env=cli_env("ap-southeast-2"), check=False)
    return (done.stdout or done.stderr).strip().split(" ")[0]


def cli_env(region: str) -> dict[str, str]:
    """The sim's credentials, the plan's region, and no user config or pager."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": region, "AWS_PAGER": "",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


def dns_tool() -> str:
    return "dig" if shutil.which("dig") else "dnspython (one python process per query)"


def dig_command(host: str, port: int, name: str, rtype: str) -> list[str]:
    if shutil.which("dig"):
        return ["dig", f"@{host}", "-p", str(port), name, rtype, "+short", "+tries=1",
                "+time=2"]
    script = ("import sys, dns.resolver as r; s = r.Resolver(configure=False); "
              "s.nameservers = [sys.argv[1]]; s.port = int(sys.argv[2]); "
              "print(s.resolve(sys.argv[3], sys.argv[4], raise_on_no_answer=False)"
              ".rrset)")
    return [sys.executable, "-c", script, host, str(port), name, rtype]


def run_sweep(routine: Routine, region: str, timeout_s: float = 60.0) -> SweepResult:
    """Every command, one after another; the wall time of the whole sweep."""
    env = cli_env(region)
    failures: list[str] = []
    by_kind: dict[str, float] = {}
    started = time.perf_counter()
    for kind, command in zip(routine.kinds, routine.commands, strict=True):
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, env=env, timeout=timeout_s,
                              check=False)
        by_kind[kind] = by_kind.get(kind, 0.0) + time.perf_counter() - began
        if done.returncode != 0:
            failures.append(f"{' '.join(command[:4])}...: exit {done.returncode} "
                            f"{done.stderr.decode(errors='replace').strip()[:160]}")
    return SweepResult(time.perf_counter() - started, failures, by_kind)
