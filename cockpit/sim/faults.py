"""Faults the simulated estate can be told to suffer, from `--sim-fault NAME=ARG`."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.plan.models import Estate
from cockpit.sim.oms_data import OMS_USERS, WEEKLY_JOB

# name -> (what ARG names, what the fault does). `cockpit rehearse --help` prints this.
FAULTS: dict[str, tuple[str, str]] = {
    "app-down": ("app server id", "its health endpoint answers 503: the ALB marks it unhealthy"),
    "alb-blocked": ("app server id", "the ALB's health checks of it time out (a security "
                    "group that does not let the ALB in) while it answers the cockpit"),
    "resolver-stale": ("resolver id", "it keeps serving the answer it first cached"),
    "http-hang": ("app server id", "its health endpoint accepts the connection, never answers"),
    "dns-timeout": ("resolver id", "it stops answering: queries time out"),
    "dns-servfail": ("resolver id", "it answers SERVFAIL to everything"),
    "dns-nxdomain": ("resolver id", "it answers NXDOMAIN to everything"),
    "dns-latency": ("milliseconds", "every resolver answers this much later"),
    "aws-latency": ("milliseconds", "every AWS call takes this much longer"),
    "route53-slow": ("seconds", "Route 53 changes stay PENDING this long before INSYNC "
                     "(normally under a minute: the switch step waits, its budget runs)"),
    "aws-throttle": ("percent", "that share of AWS calls is throttled (retried with backoff)"),
    "aws-5xx": ("percent", "that share of AWS calls gets 503 ServiceUnavailable"),
    "aws-hang": ("service: ec2|elbv2|route53|s3|sts", "that AWS service stops answering"),
    "aws-credentials-expire": ("seconds", "the AWS credentials expire this long into the run"),
    "restore-drops-row": ("table", "the restored copy of that table misses one row"),
    "restore-slow": ("factor", "every RESTORE runs that many times slower (its rate divided by "
                     "it: a throttled volume), its percent in sys.dm_exec_requests with it"),
    "backup-fails-at": ("percent", "the backup fails there (Msg 3013), leaving its multipart "
                        "upload open in S3"),
    "sql-drop-at": ("percent", "the connection running the backup drops there: the server "
                    "kills the session, the backup is aborted and its multipart upload left "
                    "open; the client gets a communication link failure (08S01)"),
    "replica-stuck": ("AG secondary replica", "it never leaves SYNCHRONIZING"),
    "wrong-account": ("account id, or nothing", "the driver's credentials are for another AWS "
                      "account (210987654321 unless named), which holds none of the estate"),
    "ttl-not-lowered": ("record id", "its TTL was never lowered: Route 53 serves it with "
                        "3600 s, and the resolvers cached it so"),
    "alb-5xx": ("percent", "that share of the requests fails at the ALB (502), in its "
                "CloudWatch HTTPCode_ELB_5XX_Count and through its listeners"),
    "missing-certificate": ("SQL endpoint or AG replica in AWS", "the TDE certificate "
                            "that protects OMS was never copied there: a restore of OMS "
                            "fails (Msg 33111)"),
    "job-scheduled": ("Agent job", "the weekly job that writes to OMS is due on the "
                      "source within the window (nobody disabled it)"),
    "split-horizon": ("zone id", "a hosted zone of the same name in the other view (public "
                      "beside private) that no resolver of the plan answers from"),
    "orphaned-user": ("OMS database user", "its login on the instances in AWS was created "
                      "by hand, with another SID: restored there, the user is orphaned"),
    "duplicate-name": ("app server id in AWS", "a leftover test instance, running, carries "
                       "the same Name tag"),
    "seeding-denied": ("AG secondary replica", "the AG was never granted CREATE ANY DATABASE "
                       "there: automatic seeding to it fails (the T-48h canary's too), and "
                       "it never gets a copy"),
    "path-missing": ("SQL endpoint or AG replica in AWS", "it was built with its files on "
                     "E: and F:, not the source's D:\\Data and L:\\Log: a restore without "
                     "MOVE fails there (Msg 5133, 3156)"),
    "collation-differs": ("SQL endpoint or AG replica in AWS", "it was installed with the "
                          "Windows default collation Latin1_General_CI_AS, not the source's"),
    "linked-server-missing": ("SQL endpoint or AG replica in AWS", "the WMS linked server "
                              "was never created there"),
    "credential-missing": ("SQL endpoint or AG replica", "it holds no credential for the "
                           "backup bucket's URL: BACKUP or RESTORE with it fails (Msg 3201)"),
    "listener-offline": ("availability group id", "its listener's cluster resource failed: "
                         "every listener address OFFLINE"),
    "log-gap": ("which log backup (1 the first)", "that log backup's object is deleted from "
                "S3 once written (a lifecycle rule meant for something else): msdb has it, no "
                "replica can restore it"),
    "source-version": ("major version (13 2016, 15 2019)", "the datacentre servers run that "
                       "version: a backup to an s3:// URL is refused"),
    "agent-job-fails": ("step id", "the SQL Agent job a step starts fails at once: its "
                        "service account is refused the backup device (Msg 3201)"),
}
# Faults that need no ARG (`--sim-fault wrong-account`), and what they mean without one.
_DEFAULT_ARGS = {"wrong-account": "210987654321"}

_NUMERIC = {"dns-latency", "aws-latency", "route53-slow", "aws-throttle", "aws-5xx",
            "aws-credentials-expire"}
_WHOLE = {"log-gap": (1, 1000), "source-version": (11, 16)}
_SERVICES = ["ec2", "elbv2", "route53", "s3", "sts"]


class FaultError(ValueError):
    """A `--sim-fault` that names an unknown fault or a resource the plan lacks."""


@dataclass(frozen=True)
class Fault:
    name: str
    arg: str

    def __str__(self) -> str:
        return f"{self.name}={self.arg}"


def parse_fault(text: str, estate: Estate) -> Fault:
    name, sep, arg = text.partition("=")
    if not sep and name in _DEFAULT_ARGS:
        arg = _DEFAULT_ARGS[name]
    elif not sep or not arg:
        raise FaultError(f"{text!r}: write NAME=ARG, e.g. app-down=oms-app-1")
    if name not in FAULTS:
        raise FaultError(f"unknown fault {name!r} (known: {', '.join(sorted(FAULTS))})")
    if name == "wrong-account" and not (arg.isdigit() and len(arg) == 12):
        raise FaultError(f"{text}: an AWS account id is 12 digits, e.g. 210987654321")
    if name in _NUMERIC:
        return Fault(name, _number(text, arg))
    if name in _WHOLE:
        return Fault(name, _whole(text, arg, *_WHOLE[name]))
    if name in ("backup-fails-at", "sql-drop-at", "alb-5xx"):
        return Fault(name, _percent(text, arg))
    if name == "restore-slow":
        return Fault(name, _factor(text, arg))
    known = _ids_for(name, estate)
    if known is not None and arg not in known:
        listed = ", ".join(known) or "none"
        raise FaultError(f"{text}: {FAULTS[name][0]} {arg!r} not in the plan ({listed})")
    return Fault(name, arg)


def _percent(text: str, arg: str) -> str:
    try:
        value = float(arg)
    except ValueError:
        value = -1.0
    if not 0 < value < 100:
        raise FaultError(f"{text}: write a percent between 0 and 100 (exclusive), e.g. 40")
    return f"{value:g}"


def _factor(text: str, arg: str) -> str:
    try:
        value = float(arg)
    except ValueError:
        value = 0.0
    if not 1 <= value <= 10_000:
        raise FaultError(f"{text}: write how many times slower, from 1 to 10000, e.g. 5")
    return f"{value:g}"


def _whole(text: str, arg: str, low: int, high: int) -> str:
    if not arg.isdigit() or not low <= int(arg) <= high:
        raise FaultError(f"{text}: write a whole number from {low} to {high}")
    return str(int(arg))


def _number(text: str, arg: str) -> str:
    try:
        value = float(arg)
    except ValueError:
        raise FaultError(f"{text}: {arg!r} is not a number") from None
    if value < 0:
        raise FaultError(f"{text}: must not be negative")
    return arg


def _ids_for(name: str, estate: Estate) -> list[str] | None:
    if name in ("app-down", "alb-blocked", "http-hang"):
        return [s.id for s in estate.app_servers]
    if name in ("missing-certificate", "path-missing", "collation-differs",
                "linked-server-missing"):
        return _aws_sql(estate)
    if name == "credential-missing":
        return [e.id for e in estate.sql] + \
            [r.id for ag in estate.availability_groups for r in ag.replicas]
    if name == "seeding-denied":
        return [r.id for ag in estate.availability_groups for r in ag.replicas[1:]]
    if name == "listener-offline":
        return [ag.id for ag in estate.availability_groups]
    if name == "job-scheduled":
        return [WEEKLY_JOB] if estate.databases else []
    if name == "split-horizon":
        return [z.id for z in estate.zones]
    if name == "orphaned-user":
        return list(OMS_USERS) if estate.databases else []
    if name == "ttl-not-lowered":
        return [r.id for r in estate.records]
    if name == "duplicate-name":  # only an instance in EC2 has a Name tag to share
        return [s.id for s in estate.app_servers if s.site == "aws"]
    if name in ("resolver-stale", "dns-timeout", "dns-servfail", "dns-nxdomain"):
        return [r.id for r in estate.resolvers]
    if name == "aws-hang":
        return _SERVICES
    if name == "restore-drops-row":
        return _tables(estate)
    if name == "replica-stuck":  # the primary is never behind itself: secondaries only
        return [r.id for ag in estate.availability_groups for r in ag.replicas[1:]]
    return None


def _aws_sql(estate: Estate) -> list[str]:
    """The SQL Servers in AWS, by endpoint id or replica name."""
    return [e.id for e in estate.sql if e.site == "aws"] + \
        [r.id for ag in estate.availability_groups for r in ag.replicas]


def _tables(estate: Estate) -> list[str]:
    """A plan's tables as written (`dbo.orders`) and by their bare name (`orders`)."""
    tables = [t for db in estate.databases for t in db.tables]
    return tables + [t.partition(".")[2] for t in tables if "." in t]


def describe_faults() -> str:
    """One fault a line: `NAME=<what ARG names>` and what it does."""
    lines = []
    for name, (arg, effect) in FAULTS.items():
        lines.append(f"{name}=<{arg}>")
        lines.append(f"    {effect}")
    return "\n".join(lines)


@dataclass(frozen=True)
class FaultSet:
    faults: tuple[Fault, ...] = ()

    def has(self, name: str, arg: str) -> bool:
        return any(f.name == name and f.arg == arg for f in self.faults)

    def args(self, name: str) -> list[str]:
        return [f.arg for f in self.faults if f.name == name]
