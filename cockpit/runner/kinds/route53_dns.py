"""Route 53 and what resolvers answer: a change INSYNC, names resolving to the new value;
the UPSERT that switches them.

One module for both because both judge the same records against the same wanted value,
normalised the same way.
"""

from __future__ import annotations

from typing import Any

from cockpit.estate import dns, route53
from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    ActionContext,
    Actions,
    Effects,
    ProbeContext,
    Probes,
    Verdict,
    WatchedBy,
)


def _change_insync(c: m.ChangeInsync, ctx: ProbeContext) -> Verdict:
    source = c.of or ctx.step_id or ""
    change_ids = ctx.outputs.get(source, {}).get("change_ids", [])
    if not change_ids and isinstance(ctx.action, m.Upsert) and c.of is None:
        return _records_hold(ctx.action, ctx)
    if not change_ids:
        return Verdict(False, f"no Route 53 change recorded for step {source}", {})
    statuses = {cid: route53.change_status(ctx.handle, cid) for cid in change_ids}
    evidence = {cid: {"status": s.status, "error": s.error} for cid, s in statuses.items()}
    pending = [f"{cid} {s.error or s.status}"
               for cid, s in statuses.items() if s.status != "INSYNC"]
    if pending:
        return Verdict(False, f"Route 53 change {', '.join(pending)}", evidence)
    return Verdict(True, f"Route 53 change(s) INSYNC: {', '.join(change_ids)}", evidence)


def _records_hold(action: m.Upsert, ctx: ProbeContext) -> Verdict:
    """No change id on record (the driver died before writing it): judge by what Route 53
    holds. An UPSERT is idempotent, so the records holding its value means it happened."""
    held = _holding(action, ctx)
    if not held.ok and "error" in held.evidence:
        return held
    evidence = {"no_change_id": True, **held.evidence}
    if not held.ok:
        return Verdict(False, f"no change id recorded, and {held.summary}", evidence)
    return Verdict(True, "no change id recorded; Route 53 holds the new value(s)", evidence)


def _upserted(a: m.Upsert, ctx: ProbeContext) -> Verdict:
    """The UPSERT took effect when Route 53 holds its value for every record (what
    resolvers answer is an `until`'s to judge)."""
    held = _holding(a, ctx)
    if held.ok:
        return Verdict(True, f"Route 53 holds the new value for {', '.join(a.records)}",
                       held.evidence)
    return held


def _holding(action: m.Upsert, ctx: ProbeContext) -> Verdict:
    snap = route53.record_values(ctx.handle, action.records)
    if snap.error:
        return Verdict(False, f"Route 53: {snap.error}", {"error": snap.error})
    held = {r.record: r.value for r in snap.records}
    try:
        wanted = {r: route53.resolve_value(ctx.handle, r, action.value) for r in action.records}
    except Exception as exc:  # an unreachable ELB API must not escape a probe
        return Verdict(False, f"cannot tell the new value: {exc}", {"error": str(exc)})
    evidence = {"held": held, "wanted": wanted}
    off = [r for r in action.records if _norm(held.get(r) or "") != _norm(wanted[r])]
    if off:
        return Verdict(False, f"{', '.join(off)} not switched", evidence)
    return Verdict(True, "Route 53 holds the new value(s)", evidence)


def _resolves_to(c: m.ResolvesTo, ctx: ProbeContext) -> Verdict:
    try:
        expected = {r: _norm(route53.resolve_value(ctx.handle, r, c.value)) for r in c.records}
        aliased = _alias_addresses(c, ctx)
    except Exception as exc:  # an unreachable ELB API must not escape a probe
        return Verdict(False, f"cannot tell the expected value: {exc}", {"error": str(exc)})
    snap = dns.resolve(ctx.handle, c.records, c.resolvers or None)
    evidence: dict[str, Any] = {"expected": expected, "answers": {}}
    if aliased:
        evidence["alias_addresses"] = {r: sorted(a) for r, a in aliased.items()}
    wrong = []
    for a in snap.answers:
        evidence["answers"].setdefault(a.record, {})[a.resolver] = {
            "value": a.value, "ttl": a.ttl, "error": a.error}
        if a.error:
            wrong.append(f"{a.resolver} says {a.error} for {a.record}")
        elif _is_alias(ctx, a.record, c.value):
            if not set((a.value or "").split(",")) <= aliased.get(a.resolver, set()):
                wrong.append(f"{a.resolver} says {a.value} for {a.record}, not an address "
                             f"it gives for {expected[a.record]}")
        elif _norm(a.value or "") != expected[a.record]:
            wrong.append(f"{a.resolver} says {a.value} for {a.record}")
    if wrong:
        return Verdict(False, "; ".join(wrong), evidence)
    return Verdict(True, f"{len(snap.answers)} answer(s) match", evidence)


def _is_alias(ctx: ProbeContext, record_id: str, value: str) -> bool:
    return route53.alias_of(route53.record(ctx.handle, record_id), value) is not None


def _alias_addresses(c: m.ResolvesTo, ctx: ProbeContext) -> dict[str, set[str]]:
    """For A records switched to an ALB (aliases: Route 53 answers them with the ALB's
    addresses), what each resolver gives a client for the ALB's own name: an alias's
    answer must be among those."""
    aliases = [r for r in c.records if _is_alias(ctx, r, c.value)]
    if not aliases:
        return {}
    name = route53.resolve_value(ctx.handle, aliases[0], c.value)
    resolvers = c.resolvers or [r.id for r in ctx.handle.estate.resolvers]
    found: dict[str, set[str]] = {}
    for resolver in resolvers:
        try:
            found[resolver] = set(dns.addresses(ctx.handle, resolver, name))
        except dns.NoAddress:
            found[resolver] = set()
    return found


def _route53_ttl(c: m.Route53TtlAtMost, ctx: ProbeContext) -> Verdict:
    """An alias has no TTL of its own (Route 53 answers it with its target's: an ALB's is
    60 s): said, not failed; `dns.ttl_at_most` judges what resolvers hand out."""
    snap = route53.record_values(ctx.handle, c.records)
    if snap.error:
        return Verdict(False, f"Route 53: {snap.error}", {"error": snap.error})
    aliases = {r.record: r.value for r in snap.records if r.alias}
    ttls = {r.record: r.ttl for r in snap.records if not r.alias}
    evidence: dict[str, Any] = {"ttl": ttls, "at_most": c.seconds}
    if aliases:
        evidence["aliases"] = aliases
    said = "".join(f"; {record} is an alias of {target}: no TTL of its own, Route 53 answers "
                   "with the target's (an ALB's: 60 s)" for record, target in aliases.items())
    long = [f"{record} {ttl}s" for record, ttl in ttls.items()
            if ttl is None or ttl > c.seconds]
    if long:
        return Verdict(False, f"Route 53 TTL above {c.seconds}s: {', '.join(long)}{said}",
                       evidence)
    return Verdict(True, f"Route 53 TTL at most {c.seconds}s for {len(ttls)} record(s)"
                   f"{said}", evidence)


def _dns_ttl(c: m.DnsTtlAtMost, ctx: ProbeContext) -> Verdict:
    snap = dns.resolve(ctx.handle, c.records, c.resolvers or None)
    evidence: dict[str, Any] = {"at_most": c.seconds, "ttl": {}}
    long = []
    for a in snap.answers:
        evidence["ttl"].setdefault(a.record, {})[a.resolver] = a.error or a.ttl
        if a.error or a.ttl is None or a.ttl > c.seconds:
            long.append(f"{a.resolver} {a.error or f'{a.ttl}s'} for {a.record}")
    if long:
        return Verdict(False, f"TTL above {c.seconds}s: {'; '.join(long)}", evidence)
    return Verdict(True, f"{len(snap.answers)} answer(s) with at most {c.seconds}s to live",
                   evidence)


def _norm(value: str) -> str:
    return ",".join(sorted(v.strip().lower().rstrip(".") + "." for v in value.split(",") if v))


def _upsert(a: m.Upsert, ctx: ActionContext) -> dict[str, Any]:
    """`original` after an UPSERT of this step's is its undo: the record sets it replaced go
    back exactly as they were; else (nothing captured) the plan's datacentre value."""
    captured = ctx.outputs.get("replaced")
    if a.value == "original" and a.ttl is None and isinstance(captured, dict) \
            and all(r in captured for r in a.records):
        return route53.restore(ctx.handle, a.records, captured)
    return route53.upsert(ctx.handle, a.records, a.value, a.ttl,
                          evaluate_target_health=a.evaluate_target_health)


PROBES: Probes = {
    m.ChangeInsync: _change_insync,
    m.ResolvesTo: _resolves_to,
    m.Route53TtlAtMost: _route53_ttl,
    m.DnsTtlAtMost: _dns_ttl,
}

ACTIONS: Actions = {
    m.Upsert: _upsert,
}

EFFECTS: Effects = {
    m.Upsert: _upserted,
}

WATCHED_BY: WatchedBy = {
    m.ChangeInsync: "dns",
    m.ResolvesTo: "dns",
    m.DnsTtlAtMost: "dns",
}
