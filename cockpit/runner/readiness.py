"""The readiness checks: what `cockpit check` judges before the window, and the verdict.

Two days out, an hour out and at the go/no-go, the failures that cost a window are the
ones found late. The plan's `[[readiness]]` checks (any condition, with the fix to apply)
run side by side, read-only, after the two the cockpit always makes (the AWS account and
the app servers' Name tags, as a session's opening does). Go only if every one holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cockpit.estate import route53
from cockpit.estate.errors import describe_error, probe_errors
from cockpit.estate.handle import EstateHandle
from cockpit.estate.identity import account_problem, aws_identity
from cockpit.plan.messages import printable
from cockpit.plan.models import Plan, Readiness, ReadinessMoment
from cockpit.runner.preflight import aws_servers, names_refusal
from cockpit.runner.probes import ProbeContext, describe, judge, readiness_judge

WORKERS = 8  # checks wait on the network, not the CPU


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    target: str  # what was asked of the estate, in the plan's words
    ok: bool
    seen: str  # what the estate showed, in one line
    fix: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadinessReport:
    at: ReadinessMoment | None
    results: list[CheckResult]

    @property
    def go(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failing(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]


def check_readiness(plan: Plan, handle: EstateHandle,
                    at: ReadinessMoment | None = None) -> ReadinessReport:
    """Every check that applies at `at` (all of them, if None), judged now."""
    checks = [c for c in plan.readiness if at is None or at in c.at]
    runs: list[Callable[[], CheckResult | None]] = [partial(_account, plan, handle),
                                             partial(_names, plan, handle),
                                             partial(_zones, plan, handle)]
    runs += [partial(_judged, check, handle, plan) for check in checks]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda run: run(), runs))
    return ReadinessReport(at, [r for r in results if r is not None])


def _judged(check: Readiness, handle: EstateHandle, plan: Plan) -> CheckResult:
    try:
        verdict = judge(check.check, ProbeContext(handle,
                                                  readiness=readiness_judge(plan, handle)))
    except Exception as exc:  # a check that cannot be made is a no-go, said, not a crash
        return CheckResult(check.id, check.title, describe(check.check), False,
                           f"could not check: {type(exc).__name__}: {exc}", check.fix)
    return CheckResult(check.id, check.title, describe(check.check), verdict.ok,
                       verdict.summary, check.fix, verdict.evidence)


def _account(plan: Plan, handle: EstateHandle) -> CheckResult:
    identity = aws_identity(handle)
    pinned = plan.estate.account_id
    refusal = account_problem(identity, pinned) if pinned else None
    seen = refusal or (f"credentials for account {identity.get('account')}"
                       if "account" in identity else str(identity.get("error")))
    ok = refusal is None and (pinned is not None or "account" in identity)
    return CheckResult(
        "aws-account", "The credentials are for the plan's AWS account",
        f"sts.get_caller_identity() = estate.account_id ({pinned or 'not pinned'})", ok,
        seen if pinned else f"{seen}; pin it with estate.account_id",
        "log in with the profile of the plan's account (aws_profile, AWS_PROFILE)",
        identity)


def _zones(plan: Plan, handle: EstateHandle) -> CheckResult | None:
    """Each zone of the plan in its view, once; and no view of the same name the plan does
    not switch (split-horizon: a public twin keeps whoever resolves through it on the
    datacentre after the window)."""
    if not plan.estate.zones:
        return None
    try:
        views = route53.zone_views(handle)
    except probe_errors() as exc:
        views, error = {}, describe_error(exc)
    else:
        error = ""
    named = {(z.name.rstrip(".").lower() + ".", z.private) for z in plan.estate.zones}
    problems = [error] if error else []
    for name, private in sorted(named):
        ids = views.get(name, {}).get(private, [])
        if len(ids) != 1:
            problems.append(f"{len(ids)} {_view(private)} hosted zone(s) named {name}")
        other = views.get(name, {}).get(not private, [])
        if other and (name, not private) not in named:
            problems.append(f"{name} is also a {_view(not private)} zone ({', '.join(other)}) "
                            "that the plan does not switch")
    seen = "; ".join(problems) or f"{len(named)} zone(s), each once, in the plan's view"
    return CheckResult(
        "dns-zones", "Each zone the plan switches is found once, in its view",
        "route53.list_hosted_zones_by_name(" + "+".join(sorted(n for n, _ in named)) + ")",
        not problems, seen,
        "add the other view to the plan as a zone of its own (private = true or false) with "
        "its records, so the switch changes both; or confirm nobody resolves through it",
        {"views": {n: {_view(k): v for k, v in by.items()} for n, by in views.items()}})


def _view(private: bool) -> str:
    return "private" if private else "public"


def _names(plan: Plan, handle: EstateHandle) -> CheckResult | None:
    servers = aws_servers(plan)
    if not servers:
        return None  # nothing in EC2 to look up: no row
    refusal = names_refusal(plan, handle)
    return CheckResult(
        "ec2-names", "Each app server's Name tag is on one live instance",
        f"ec2.describe_instances(Name={'+'.join(servers)})", refusal is None,
        refusal or f"{len(servers)} Name tag(s), none on two live instances",
        "terminate or re-tag every instance but the app server's")


# --- the go/no-go, as recorded -----------------------------------------------------------------


def recorded(report: ReadinessReport) -> dict[str, Any]:
    """The `readiness.checked` entry's detail: each verdict in a line, evidence left to
    `cockpit check --json` (the log keeps what was decided, and why, not every row read)."""
    return {"at": report.at, "go": report.go, "checks": [
        {"id": r.id, "ok": r.ok, "seen": r.seen, **({"fix": r.fix} if not r.ok else {})}
        for r in report.results]}


# --- the go/no-go, as printed ------------------------------------------------------------------


def render_report(plan: Plan, report: ReadinessReport) -> str:
    """Per check its verdict, what was asked and what was seen, and the fix of a no-go;
    then the verdict. Plain text: it is read over SSH and pasted into the change ticket."""
    when = f" at {report.at}" if report.at else ""
    lines = [f"readiness of {printable(plan.plan.name)}{when}: {len(report.results)} checks", ""]
    width = max((len(r.id) for r in report.results), default=0)
    for result in report.results:
        verdict = "GO" if result.ok else "NO-GO"
        lines.append(f"  {verdict:<6} {result.id:<{width}}  {printable(result.title)}")
        pad = " " * (11 + width)  # under the title
        lines.append(f"{pad}asked: {printable(result.target)}")
        lines.append(f"{pad}seen:  {printable(result.seen)}")
        if result.evidence:
            lines.append(f"{pad}evidence: {printable(_compact(result.evidence))}")
        if not result.ok and result.fix:
            lines.append(f"{pad}fix:   {printable(result.fix)}")
    lines.append("")
    failing = report.failing
    lines.append("GO: every check holds" if not failing else
                 f"NO-GO: {len(failing)} of {len(report.results)} checks failed "
                 f"({', '.join(r.id for r in failing)})")
    return "\n".join(lines)


def _compact(evidence: dict[str, Any], limit: int = 240) -> str:
    """The evidence on one line (all of it: `--json`)."""
    text = json.dumps(evidence, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
