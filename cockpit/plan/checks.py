"""Checks a schema cannot make: ids that clash, references to nothing, a step graph that
cannot run, and credentials pasted into the file.

Each check reads a validated `Plan` (and, for secrets, the raw TOML data) and returns
`Finding`s at the line of the value to change; the loader adds the file's path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cockpit.plan.graph import find_cycles
from cockpit.plan.inline_secrets import find_secret
from cockpit.plan.messages import noun, owner, quoted
from cockpit.plan.models import (
    AddToAg,
    AgHealthy,
    AgSynchronized,
    ChangeInsync,
    Condition,
    DropDatabase,
    Plan,
    RemoveFromAg,
    Step,
    Upsert,
)
from cockpit.plan.schema import ref_of, walk_models
from cockpit.plan.toml_lines import KeyPath, LineMap, line_of

ESTATE_COLLECTIONS = (
    "app_servers",
    "load_balancers",
    "target_groups",
    "zones",
    "records",
    "resolvers",
    "sql",
    "buckets",
    "availability_groups",
    "databases",
)
# `value = "alb:<id>"` names a load balancer, `"ag:<id>"` an availability group (its listener).
VALUE_PREFIXES = {"alb:": "load_balancers", "ag:": "availability_groups"}


@dataclass(frozen=True)
class Finding:
    line: int
    message: str


@dataclass(frozen=True)
class Context:
    """What every check reads: the plan, the TOML data it came from, and key lines."""

    plan: Plan
    data: Any
    lines: LineMap

    def line(self, loc: KeyPath) -> int:
        return line_of(self.lines, loc)

    def at(self, loc: KeyPath, message: str) -> Finding:
        return Finding(self.line(loc), message)

    def step_locs(self) -> Iterator[tuple[KeyPath, Step]]:
        for p, phase in enumerate(self.plan.phases):
            for s, step in enumerate(phase.steps):
                yield ("phases", p, "steps", s), step


Check = Callable[[Context], list[Finding]]


def check_plan(plan: Plan, data: Any, lines: LineMap) -> list[Finding]:
    """Every problem the schema let through, in no particular order."""
    context = Context(plan, data, lines)
    return [finding for check in CHECKS for finding in check(context)]


# --- ids ---------------------------------------------------------------------------------


def duplicate_ids(context: Context) -> list[Finding]:
    groups: list[tuple[str, list[KeyPath]]] = [
        (noun(name), [("estate", name, i) for i in range(len(getattr(context.plan.estate, name)))])
        for name in ESTATE_COLLECTIONS
    ]
    for a, ag in enumerate(context.plan.estate.availability_groups):
        replicas: list[KeyPath] = [("estate", "availability_groups", a, "replicas", r)
                                   for r in range(len(ag.replicas))]
        groups.append(("AG replica", replicas))
    groups.append(("phase", [("phases", p) for p in range(len(context.plan.phases))]))
    groups.append(("step", [loc for loc, _ in context.step_locs()]))
    return [finding for what, locs in groups for finding in _duplicates(context, what, locs)]


def _duplicates(context: Context, what: str, locs: list[KeyPath]) -> list[Finding]:
    first: dict[Any, int] = {}
    findings = []
    for loc in locs:
        ident = _get(context.plan, loc).id
        line = context.line(loc + ("id",))
        if ident in first:
            findings.append(
                Finding(line, f"duplicate {what} id {quoted(ident)} (first at line {first[ident]})")
            )
        first.setdefault(ident, line)
    return findings


def _get(node: Any, loc: KeyPath) -> Any:
    for part in loc:
        node = node[part] if isinstance(part, int) else getattr(node, part)
    return node


# --- references --------------------------------------------------------------------------


def references(context: Context) -> list[Finding]:
    """Every field marked `Ref(collection)` names an existing estate item or step."""
    findings = []
    for loc, model in walk_models(context.plan):
        for name, field in type(model).model_fields.items():
            ref = ref_of(field)
            if ref is not None:
                findings += _check_ref(context, loc + (name,), getattr(model, name), ref.collection)
    return findings


def _check_ref(context: Context, loc: KeyPath, value: Any, collection: str) -> list[Finding]:
    named = value if isinstance(value, list) else [value]
    known = known_ids(context.plan, collection)
    return [
        context.at(
            loc + ((i,) if isinstance(value, list) else ()),
            _unknown(context, loc, collection, ident, known),
        )
        for i, ident in enumerate(named)
        if ident is not None and ident not in known
    ]


def known_ids(plan: Plan, collection: str) -> list[str]:
    if collection == "steps":
        return [step.id for step in plan.steps()]
    items = getattr(plan.estate, collection, [])
    return [item.id for item in items]


def _unknown(context: Context, loc: KeyPath, collection: str, ident: str, known: list[str]) -> str:
    names = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
    choices = f"known: {names}" if known else f"the plan declares no {noun(collection)}s"
    return f"unknown {noun(collection)} {quoted(ident)} in {_holder(context, loc)} ({choices})"


def _holder(context: Context, loc: KeyPath) -> str:
    """`step 'x'` for anything inside a step, else the estate item or table."""
    if loc[:1] == ("phases",) and len(loc) >= 4:
        return owner(loc[:4], context.plan)
    return owner(loc[:-1], context.plan)


def alb_values(context: Context) -> list[Finding]:
    """`value = "alb:<id>"` / `"ag:<id>"` (upsert, resolves-to) must name what it says."""
    findings = []
    for loc, model in walk_models(context.plan):
        value = getattr(model, "value", None)
        if not (getattr(model, "kind", None) and isinstance(value, str)):
            continue
        for prefix, collection in VALUE_PREFIXES.items():
            known = known_ids(context.plan, collection)
            ident = value.removeprefix(prefix)
            if value.startswith(prefix) and ident not in known:
                message = _unknown(context, loc + ("value",), collection, ident, known)
                findings.append(context.at(loc + ("value",), message))
    return findings


# --- the estate ----------------------------------------------------------------------------


def elb_targets_in_aws(context: Context) -> list[Finding]:
    """An ALB target group can only hold EC2 instances: `elb.*` servers must be in aws."""
    sites = {server.id: server.site for server in context.plan.estate.app_servers}
    findings = []
    for loc, model in walk_models(context.plan):
        kind = getattr(model, "kind", "")
        for i, server in enumerate(getattr(model, "servers", [])):
            if (
                isinstance(kind, str)
                and kind.startswith("elb.")
                and sites.get(server) == "datacentre"
            ):
                message = (
                    f"{kind} in {_holder(context, loc + ('servers',))} names datacentre server "
                    f'{quoted(server)}: only site = "aws" app servers can be ALB targets'
                )
                findings.append(context.at(loc + ("servers", i), message))
    return findings


def registered_targets_in_aws(context: Context) -> list[Finding]:
    """A target group's `registered` servers are ALB targets too: EC2 instances only."""
    sites = {server.id: server.site for server in context.plan.estate.app_servers}
    return [
        context.at(
            ("estate", "target_groups", g, "registered", i),
            f"target group {quoted(group.id)} lists datacentre server {quoted(server)} as "
            'registered: only site = "aws" app servers can be ALB targets',
        )
        for g, group in enumerate(context.plan.estate.target_groups)
        for i, server in enumerate(group.registered)
        if sites.get(server) == "datacentre"
    ]


def aws_servers_have_az(context: Context) -> list[Finding]:
    """The sim places an imported instance in its AZ, and `ec2.spread` counts them."""
    example = f'az = "{context.plan.estate.region}a"'
    return [
        context.at(
            ("estate", "app_servers", i),
            f"app server {quoted(server.id)} is in aws but has no 'az' (e.g. {example})",
        )
        for i, server in enumerate(context.plan.estate.app_servers)
        if server.site == "aws" and not server.az
    ]


def checksum_tables_counted(context: Context) -> list[Finding]:
    """A table compared by checksum is one whose rows are counted too."""
    return [
        context.at(
            ("estate", "databases", d, "checksum_tables", i),
            f"checksum table {quoted(table)} of database {quoted(db.id)} is not in its "
            f"'tables' (add it there: every checked table is counted too)",
        )
        for d, db in enumerate(context.plan.estate.databases)
        for i, table in enumerate(db.checksum_tables)
        if table not in db.tables
    ]


def ags_reachable(context: Context) -> list[Finding]:
    """The AG's state is read through a replica's endpoint: an AG condition needs one."""
    reachable = {ag.id for ag in context.plan.estate.availability_groups
                 if any(r.endpoint for r in ag.replicas)}
    known = {ag.id for ag in context.plan.estate.availability_groups}
    return [
        context.at(loc + ("ag",), f"{model.kind} in {_holder(context, loc + ('ag',))}: no "
                   f"replica of availability group {quoted(model.ag)} names an 'endpoint' "
                   "to read its state through")
        for loc, model in walk_models(context.plan)
        if isinstance(model, AgHealthy | AgSynchronized)
        and model.ag in known and model.ag not in reachable
    ]


def ag_actions_on_a_replica(context: Context) -> list[Finding]:
    """ADD/REMOVE DATABASE and joins run on a replica of that AG, not on any server."""
    groups = {ag.id: ag for ag in context.plan.estate.availability_groups}
    findings = []
    for loc, model in walk_models(context.plan):
        if not isinstance(model, AddToAg | RemoveFromAg) or model.ag not in groups:
            continue
        endpoints = [r.endpoint for r in groups[model.ag].replicas if r.endpoint]
        if model.endpoint not in endpoints:
            findings.append(context.at(loc + ("endpoint",), (
                f"{model.kind} in {_holder(context, loc + ('endpoint',))} runs on "
                f"{quoted(model.endpoint)}, which is not a replica of {quoted(model.ag)} "
                f"(its replicas' endpoints: {', '.join(endpoints) or 'none'})")))
    return findings


def never_drop_the_source(context: Context) -> list[Finding]:
    """`sql.drop_database` undoes a restore on a target; on the source it destroys the data."""
    sources = {db.id: db.source for db in context.plan.estate.databases}
    return [
        context.at(loc + ("endpoint",), (
            f"sql.drop_database in {_holder(context, loc + ('endpoint',))} would drop "
            f"database {quoted(model.database)} on its source {quoted(model.endpoint)}: "
            "only a restored copy may be dropped"))
        for loc, model in walk_models(context.plan)
        if isinstance(model, DropDatabase) and sources.get(model.database) == model.endpoint
    ]


# --- steps -------------------------------------------------------------------------------


def duplicate_keys(context: Context) -> list[Finding]:
    """A key pressed in the window must run exactly one step."""
    first: dict[str, tuple[str, int]] = {}
    findings = []
    for loc, step in context.step_locs():
        if step.key is None:
            continue
        line = context.line(loc + ("key",))
        if step.key in first:
            holder, at = first[step.key]
            message = (
                f"key {quoted(step.key)} of step {quoted(step.id)} already runs step "
                f"{quoted(holder)} (line {at})"
            )
            findings.append(Finding(line, message))
        first.setdefault(step.key, (step.id, line))
    return findings


def conditions(context: Context) -> Iterator[tuple[KeyPath, Step, Condition]]:
    """Every gate and `until` condition, with its loc and its step."""
    for loc, step in context.step_locs():
        for field in ("gates", "until"):
            for i, condition in enumerate(getattr(step, field)):
                yield loc + (field, i), step, condition


def insync_has_a_change(context: Context) -> list[Finding]:
    """`route53.insync` without `of` waits for this step's own change: there must be one."""
    return [
        context.at(loc, _insync_message(step.id))
        for loc, step, condition in conditions(context)
        if isinstance(condition, ChangeInsync)
        and condition.of is None
        and not isinstance(step.do, Upsert)
    ]


def _insync_message(step_id: str) -> str:
    return (
        f"route53.insync in step {quoted(step_id)} has no 'of' and the step's 'do' is not "
        'route53.upsert: name the step whose change to wait for (of = "...")'
    )


def insync_of_an_upsert(context: Context) -> list[Finding]:
    """`of = "x"` must name a step that makes a Route 53 change to wait for."""
    steps = {step.id: step for step in reversed(context.plan.steps())}  # first id wins
    return [
        context.at(
            loc + ("of",),
            f"route53.insync of = {quoted(condition.of)} names a step whose 'do' is not "
            "route53.upsert",
        )
        for loc, _, condition in conditions(context)
        if isinstance(condition, ChangeInsync)
        and condition.of in steps
        and not isinstance(steps[condition.of].do, Upsert)
    ]


def dependency_cycles(context: Context) -> list[Finding]:
    """`after` must leave an order to run the steps in."""
    steps: dict[str, tuple[KeyPath, Step]] = {}
    for loc, step in context.step_locs():
        steps.setdefault(step.id, (loc, step))  # a duplicate id is reported on its own
    order = {ident: n for n, ident in enumerate(steps)}
    graph = {
        ident: [dep for dep in step.after if dep in steps] for ident, (_, step) in steps.items()
    }
    findings = []
    for cycle in find_cycles(graph, order):
        loc, step = steps[cycle[0]]
        index = step.after.index(cycle[1 % len(cycle)])
        line = context.line(loc + ("after", index))
        findings.append(Finding(line, "dependency cycle: " + " -> ".join([*cycle, cycle[0]])))
    return findings


# --- secrets -----------------------------------------------------------------------------


def secrets_inline(context: Context) -> list[Finding]:
    """Any string anywhere in the file that holds a credential (dsn_env is the model's)."""
    findings = []
    for loc, text in _strings(context.data, ()):
        what = find_secret(text)
        if what is None:
            continue
        field = next((part for part in reversed(loc) if isinstance(part, str)), "")
        message = (
            f"secret written inline in {quoted(field)}: {what} in {_holder(context, loc)}; "
            "keep it in the environment or a credential store and out of the plan"
        )
        findings.append(context.at(loc, message))
    return findings


def _strings(node: Any, loc: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(node, str):
        yield loc, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, loc + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, loc + (index,))


CHECKS: tuple[Check, ...] = (
    duplicate_ids,
    references,
    alb_values,
    elb_targets_in_aws,
    registered_targets_in_aws,
    aws_servers_have_az,
    checksum_tables_counted,
    ags_reachable,
    ag_actions_on_a_replica,
    never_drop_the_source,
    duplicate_keys,
    dependency_cycles,
    insync_has_a_change,
    insync_of_an_upsert,
    secrets_inline,
)
