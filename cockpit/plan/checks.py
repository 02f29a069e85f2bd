"""Checks a schema cannot make: ids that clash, references to nothing, a step graph that
cannot run, steps that prove nothing, and credentials pasted into the file.

They run whether or not the schema held, so one pass reports every problem: each check
reads what could be read. Ids, references and the step graph are read from the raw TOML
data (a step with a bad title still names its dependencies); the other checks judge only
the parts of the plan that validate on their own (`Context.models`), so a part the schema
already refused is not reported twice. A check that needs a list of every id (is this
reference known?) stays silent when that list cannot be read whole: the schema error that
made it unreadable is the one to fix first, not a cascade of "unknown" references.

Each check returns `Finding`s at the line of the value to change; the loader adds the
file's path. Every check is linear in the size of the plan: ids are looked up in sets and
dicts built once, never by a scan of every step per step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from cockpit.plan.graph import find_cycles
from cockpit.plan.inline_secrets import find_secret, secret_key
from cockpit.plan.messages import noun, owner, quoted
from cockpit.plan.models import (
    AddToAg,
    AgHealthy,
    AgSynchronized,
    AppServer,
    AvailabilityGroup,
    BackupToUrl,
    ChangeInsync,
    Database,
    DnsRecord,
    DropDatabase,
    Manual,
    Plan,
    RemoveFromAg,
    ShipLogs,
    SqlBackup,
    SqlEndpoint,
    Step,
    TargetGroup,
    Upsert,
    check_env_var_name,
)
from cockpit.plan.schema import kind_of, members, ref_of, walk_models
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
# Where a phase holds steps: its window's, and its rollback path's.
STEP_LISTS = ("steps", "rollback")
# `value = "alb:<id>"` names a load balancer, `"ag:<id>"` an availability group (its listener).
VALUE_PREFIXES = {"alb:": "load_balancers", "ag:": "availability_groups"}

M = TypeVar("M", bound=BaseModel)
Table = dict[str, Any]
# A table of the raw data, with its loc and the model the schema reads it as.
RawModel = tuple[KeyPath, type[BaseModel], Table]


@dataclass(frozen=True)
class Finding:
    line: int
    message: str


@dataclass(frozen=True)
class Known:
    """The ids of one collection, in file order; `whole` if every item has one (else a name
    not among them may be the id the schema could not read)."""

    ids: list[str]
    names: frozenset[str]
    whole: bool


@dataclass
class Context:
    """What every check reads: the raw TOML data, the key lines, and every part of the plan
    that is valid on its own (all of it, when the schema held), with its loc."""

    data: Any
    lines: LineMap
    models: list[tuple[KeyPath, BaseModel]]
    _by_type: dict[type[BaseModel], list[tuple[KeyPath, BaseModel]]] = field(
        default_factory=dict
    )
    _by_loc: dict[KeyPath, BaseModel] = field(default_factory=dict)
    _known: dict[str, Known] = field(default_factory=dict)
    _raw: list[RawModel] | None = None

    def __post_init__(self) -> None:
        for loc, model in self.models:
            self._by_type.setdefault(type(model), []).append((loc, model))
            self._by_loc[loc] = model

    def line(self, loc: KeyPath) -> int:
        return line_of(self.lines, loc)

    def at(self, loc: KeyPath, message: str) -> Finding:
        return Finding(self.line(loc), message)

    def valid(self, kind: type[M]) -> list[tuple[KeyPath, M]]:
        """Every valid part of the plan of exactly this model, with its loc."""
        found = self._by_type.get(kind, [])
        return [(loc, model) for loc, model in found if isinstance(model, kind)]

    def valid_at(self, loc: KeyPath) -> BaseModel | None:
        return self._by_loc.get(loc)

    def known(self, collection: str) -> Known:
        if collection not in self._known:
            self._known[collection] = _read_ids(self.data, collection)
        return self._known[collection]

    def steps(self) -> list[tuple[KeyPath, Table]]:
        """Every step table in the file, the window's and the rollback paths', in order,
        whatever it holds."""
        return [
            (("phases", p, where, s), step)
            for p, phase in _tables(_get(self.data, "phases"))
            for where in STEP_LISTS
            for s, step in _tables(_get(phase, where))
        ]

    def raw_models(self) -> list[RawModel]:
        """Every table the schema reads as a model, valid or not (`raw_models`), once."""
        if self._raw is None:
            self._raw = raw_models(self.data)
        return self._raw

    def raw_at(self, loc: KeyPath) -> Any:
        """The raw value at `loc` (None where the data holds nothing there)."""
        node = self.data
        for part in loc:
            if isinstance(part, str):
                node = _get(node, part)
            elif isinstance(node, list) and 0 <= part < len(node):
                node = node[part]
            else:
                return None
        return node

    def estate(self, collection: str) -> list[tuple[KeyPath, Table]]:
        """Every item table of one estate collection, in order."""
        return [
            (("estate", collection, i), item)
            for i, item in _tables(_get(_get(self.data, "estate"), collection))
        ]


Check = Callable[[Context], list[Finding]]


def check_plan(plan: Plan | None, data: Any, lines: LineMap) -> list[Finding]:
    """Every problem the schema cannot see, in no particular order. `plan` is None when
    the schema did not hold: then only the parts that validate alone are judged."""
    models = list(walk_models(plan)) if plan is not None else list(_valid_parts(data))
    context = Context(data, lines, models)
    return [finding for check in CHECKS for finding in check(context)]


# --- reading what could be read ----------------------------------------------------------


def _get(node: Any, key: str) -> Any:
    return node.get(key) if isinstance(node, dict) else None


def _tables(node: Any) -> list[tuple[int, Table]]:
    """The tables of a list, with their indexes (anything else in it skipped)."""
    if not isinstance(node, list):
        return []
    return [(i, item) for i, item in enumerate(node) if isinstance(item, dict)]


def _readable(node: Any, *keys: str) -> bool:
    """Absent, or a list of tables each with a string `id` (every level of `keys` too)."""
    if node is None:
        return True
    if not isinstance(node, list):
        return False
    for item in node:
        if not isinstance(item, dict):
            return False
        if not keys and not isinstance(item.get("id"), str):
            return False
        if keys and not _readable(item.get(keys[0]), *keys[1:]):
            return False
    return True


def _read_ids(data: Any, collection: str) -> Known:
    if collection == "readiness":
        node = _get(data, "readiness")
        items = [item for _, item in _tables(node)]
        whole = isinstance(data, dict) and _readable(node)
    elif collection == "steps":
        phases = _get(data, "phases")
        items = [step for _, phase in _tables(phases) for where in STEP_LISTS
                 for _, step in _tables(phase.get(where))]
        whole = isinstance(data, dict) and all(_readable(phases, where) for where in STEP_LISTS)
    else:
        estate = _get(data, "estate")
        node = _get(estate, collection)
        items = [item for _, item in _tables(node)]
        whole = isinstance(estate, dict) and _readable(node)
    ids = list(dict.fromkeys(item["id"] for item in items if isinstance(item.get("id"), str)))
    return Known(ids, frozenset(ids), whole)


@dataclass(frozen=True)
class _Slot:
    """What a field of a model holds, as far as walking raw data needs: tables read as one
    model, or as the member of a tagged union their `kind` names; maybe in a list."""

    is_list: bool
    models: tuple[type[BaseModel], ...]
    kinds: dict[Any, type[BaseModel]]

    def model_for(self, node: Table) -> type[BaseModel] | None:
        """The model this table is read as (None for an unknown kind: the schema says so)."""
        if len(self.models) == 1:
            return self.models[0]
        kind = node.get("kind")
        return self.kinds.get(kind) if isinstance(kind, str) else None


@functools.cache
def _slot(model: type[BaseModel], name: str) -> _Slot | None:
    annotation = model.model_fields[name].annotation
    item = next((args[0] for m in members(annotation) if (args := _list_args(m))), None)
    inner = members(item if item is not None else annotation)
    models = tuple(m for m in inner if isinstance(m, type) and issubclass(m, BaseModel))
    if not models:
        return None
    return _Slot(item is not None, models, {kind_of(m): m for m in models})


@functools.cache
def _slots(model: type[BaseModel]) -> tuple[tuple[str, _Slot], ...]:
    """The fields of a model that hold models, once per model (not once per table)."""
    return tuple((name, slot) for name in model.model_fields if (slot := _slot(model, name)))


def _list_args(annotation: Any) -> tuple[Any, ...]:
    return get_args(annotation) if get_origin(annotation) is list else ()


def _children(model: type[BaseModel], table: Table, loc: KeyPath) -> Iterator[RawModel]:
    """The tables under a table read as `model`, each with the model it is read as."""
    for name, slot in _slots(model):
        node = table.get(name)
        items = enumerate(node) if slot.is_list and isinstance(node, list) else None
        if items is None:
            if isinstance(node, dict) and not slot.is_list:
                child = slot.model_for(node)
                if child is not None:
                    yield loc + (name,), child, node
            continue
        for index, item in items:
            if isinstance(item, dict):
                child = slot.model_for(item)
                if child is not None:
                    yield loc + (name, index), child, item


def raw_models(data: Any) -> list[RawModel]:
    """Every table of the raw data that the schema reads as a model, valid or not, with the
    model it is read as (a table of an unknown kind, and what is under it, is skipped)."""
    if not isinstance(data, dict):
        return []
    found: list[RawModel] = []
    todo: list[RawModel] = [((), Plan, data)]
    while todo:
        loc, model, table = todo.pop()
        found.append((loc, model, table))
        todo.extend(reversed(list(_children(model, table, loc))))
    return found


def _valid_parts(data: Any) -> Iterator[tuple[KeyPath, BaseModel]]:
    """Every part of a plan that failed its schema that validates on its own: the largest
    such parts, and every model inside them (as `walk_models` gives a valid plan's)."""
    if not isinstance(data, dict):
        return
    todo = list(_children(Plan, data, ()))[::-1]
    while todo:
        loc, model, table = todo.pop()
        try:
            valid = model.model_validate(table)
        except ValidationError:
            todo.extend(reversed(list(_children(model, table, loc))))
            continue
        yield from walk_models(valid, loc)


# --- ids ---------------------------------------------------------------------------------


def duplicate_ids(context: Context) -> list[Finding]:
    groups: list[tuple[str, list[tuple[KeyPath, Table]]]] = [
        (noun(name), context.estate(name)) for name in ESTATE_COLLECTIONS
    ]
    for loc, ag in context.estate("availability_groups"):
        replicas = [(loc + ("replicas", r), item) for r, item in _tables(ag.get("replicas"))]
        groups.append(("AG replica", replicas))
    groups.append(("phase", [(("phases", p), phase)
                             for p, phase in _tables(_get(context.data, "phases"))]))
    groups.append(("step", context.steps()))
    groups.append(("readiness check", [(("readiness", r), item) for r, item
                                       in _tables(_get(context.data, "readiness"))]))
    return [finding for what, items in groups for finding in _duplicates(context, what, items)]


def _duplicates(context: Context, what: str, items: list[tuple[KeyPath, Table]]) -> list[Finding]:
    first: dict[str, int] = {}
    findings = []
    for loc, item in items:
        ident = item.get("id")
        if not isinstance(ident, str):
            continue
        line = context.line(loc + ("id",))
        if ident in first:
            findings.append(
                Finding(line, f"duplicate {what} id {quoted(ident)} (first at line {first[ident]})")
            )
        first.setdefault(ident, line)
    return findings


# --- references --------------------------------------------------------------------------


def references(context: Context) -> list[Finding]:
    """Every field marked `Ref(collection)` names an existing estate item or step."""
    findings = []
    for loc, model, table in context.raw_models():
        for name, collection in _refs(model):
            if name in table:
                findings += _check_ref(context, loc + (name,), table[name], collection)
    return findings


@functools.cache
def _refs(model: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    """The fields of a model marked `Ref(collection)`, with their collections."""
    return tuple(
        (name, ref.collection)
        for name, info in model.model_fields.items()
        if (ref := ref_of(info)) is not None
    )


def _check_ref(context: Context, loc: KeyPath, value: Any, collection: str) -> list[Finding]:
    known = context.known(collection)
    if not known.whole:
        return []
    named = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    return [
        context.at(
            loc + ((i,) if i is not None else ()),
            _unknown(context, loc, collection, ident, known.ids),
        )
        for i, ident in named
        if isinstance(ident, str) and ident not in known.names
    ]


def _unknown(context: Context, loc: KeyPath, collection: str, ident: str, known: list[str]) -> str:
    names = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
    choices = f"known: {names}" if known else f"the plan declares no {noun(collection)}s"
    return f"unknown {noun(collection)} {quoted(ident)} in {_holder(context, loc)} ({choices})"


def _holder(context: Context, loc: KeyPath) -> str:
    """`step 'x'` for anything inside a step, else the estate item or table."""
    if loc[:1] == ("phases",) and len(loc) >= 4:
        return owner(loc[:4], context.data)
    return owner(loc[:-1], context.data)


def alb_values(context: Context) -> list[Finding]:
    """`value = "alb:<id>"` / `"ag:<id>"` (upsert, resolves-to) must name what it says."""
    findings = []
    for loc, model, table in context.raw_models():
        value = table.get("value")
        if not ("kind" in model.model_fields and isinstance(value, str)):
            continue
        for prefix, collection in VALUE_PREFIXES.items():
            known = context.known(collection)
            ident = value.removeprefix(prefix)
            if value.startswith(prefix) and known.whole and ident not in known.names:
                message = _unknown(context, loc + ("value",), collection, ident, known.ids)
                findings.append(context.at(loc + ("value",), message))
    return findings


# --- the estate ----------------------------------------------------------------------------


def _sites(context: Context) -> dict[str, str]:
    return {server.id: server.site for _, server in context.valid(AppServer)}


def elb_targets_in_aws(context: Context) -> list[Finding]:
    """An ALB target group can only hold EC2 instances: `elb.*` servers must be in aws."""
    sites = _sites(context)
    findings = []
    for loc, model in context.models:
        kind = getattr(model, "kind", "")
        if not (isinstance(kind, str) and kind.startswith("elb.")):
            continue
        for i, server in enumerate(getattr(model, "servers", [])):
            if sites.get(server) == "datacentre":
                message = (
                    f"{kind} in {_holder(context, loc + ('servers',))} names datacentre server "
                    f'{quoted(server)}: only site = "aws" app servers can be ALB targets'
                )
                findings.append(context.at(loc + ("servers", i), message))
    return findings


def registered_targets_in_aws(context: Context) -> list[Finding]:
    """A target group's `registered` servers are ALB targets too: EC2 instances only."""
    sites = _sites(context)
    return [
        context.at(
            loc + ("registered", i),
            f"target group {quoted(group.id)} lists datacentre server {quoted(server)} as "
            'registered: only site = "aws" app servers can be ALB targets',
        )
        for loc, group in context.valid(TargetGroup)
        for i, server in enumerate(group.registered)
        if sites.get(server) == "datacentre"
    ]


def aws_servers_have_az(context: Context) -> list[Finding]:
    """The sim places an imported instance in its AZ, and `ec2.spread` counts them."""
    region = _get(_get(context.data, "estate"), "region")
    region = region if isinstance(region, str) else "ap-southeast-2"
    example = f'az = "{region}a"'
    return [
        context.at(
            loc, f"app server {quoted(server.id)} is in aws but has no 'az' (e.g. {example})"
        )
        for loc, server in context.valid(AppServer)
        if server.site == "aws" and not server.az
    ]


def checksum_tables_counted(context: Context) -> list[Finding]:
    """A table compared by checksum is one whose rows are counted too."""
    return [
        context.at(
            loc + ("checksum_tables", i),
            f"checksum table {quoted(table)} of database {quoted(db.id)} is not in its "
            f"'tables' (add it there: every checked table is counted too)",
        )
        for loc, db in context.valid(Database)
        for i, table in enumerate(db.checksum_tables)
        if table not in db.tables
    ]


def ags_reachable(context: Context) -> list[Finding]:
    """The AG's state is read through a replica's endpoint: an AG condition needs one."""
    groups = [ag for _, ag in context.valid(AvailabilityGroup)]
    reachable = {ag.id for ag in groups if any(r.endpoint for r in ag.replicas)}
    known = {ag.id for ag in groups}
    conditions: list[tuple[KeyPath, AgHealthy | AgSynchronized]] = [
        *context.valid(AgHealthy), *context.valid(AgSynchronized)
    ]
    return [
        context.at(loc + ("ag",), f"{model.kind} in {_holder(context, loc + ('ag',))}: no "
                   f"replica of availability group {quoted(model.ag)} names an 'endpoint' "
                   "to read its state through")
        for loc, model in conditions
        if model.ag in known and model.ag not in reachable
    ]


def ag_actions_on_a_replica(context: Context) -> list[Finding]:
    """ADD/REMOVE DATABASE and joins run on a replica of that AG, not on any server."""
    groups = {ag.id: ag for _, ag in context.valid(AvailabilityGroup)}
    findings = []
    actions: list[tuple[KeyPath, AddToAg | RemoveFromAg]] = [
        *context.valid(AddToAg), *context.valid(RemoveFromAg)
    ]
    for loc, model in actions:
        if model.ag not in groups:
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
    sources = {db.id: db.source for _, db in context.valid(Database)}
    return [
        context.at(loc + ("endpoint",), (
            f"sql.drop_database in {_holder(context, loc + ('endpoint',))} would drop "
            f"database {quoted(model.database)} on its source {quoted(model.endpoint)}: "
            "only a restored copy may be dropped"))
        for loc, model in context.valid(DropDatabase)
        if sources.get(model.database) == model.endpoint
    ]


URL_NEEDS = 16  # BACKUP ... TO URL on S3: SQL Server 2022 ("backup to URL for S3-compatible")


def backup_to_url_needs_2022(context: Context) -> list[Finding]:
    """A backup to an s3:// URL from a source the plan says is older than 2022 fails on the
    night: say so now, with the way that works on any version."""
    versions = {e.id: e.version for _, e in context.valid(SqlEndpoint) if e.version}
    backups: list[tuple[KeyPath, str]] = [
        *((loc, b.endpoint) for loc, b in context.valid(SqlBackup) if b.to == "url"),
        *((loc, b.endpoint) for loc, b in context.valid(BackupToUrl)),
        *((loc, b.endpoint) for loc, b in context.valid(ShipLogs) if b.to == "url"),
    ]
    return [
        context.at(loc + ("endpoint",), (
            f"{_holder(context, loc + ('endpoint',))} backs up to URL on {quoted(endpoint)}, "
            f"which the plan says is SQL Server version {versions[endpoint]}: BACKUP TO URL "
            f"on S3 needs {URL_NEEDS} (2022) or later. Back up to a disk share and upload it "
            '(sql.backup with to = "disk" and path = "\\\\share\\folder", or '
            "sql.backup_to_disk)"))
        for loc, endpoint in backups
        if versions.get(endpoint) is not None and versions[endpoint] < URL_NEEDS
    ]


# --- steps -------------------------------------------------------------------------------


def duplicate_keys(context: Context) -> list[Finding]:
    """A key pressed in the window must run exactly one step."""
    first: dict[str, tuple[str, int]] = {}
    findings = []
    for loc, step in context.valid(Step):
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


def steps_that_do_nothing(context: Context) -> list[Finding]:
    """A step with no gate, no action and no condition would be recorded as succeeded
    without anything having been done or checked: it proves nothing."""
    return [
        context.at(loc, (
            f"{owner(loc, context.data)} does nothing: it has no 'do', no 'gates' and "
            "no 'until', so running it would record a success that proves nothing; give it "
            "an action (do = { kind = \"manual\", instruction = \"...\" } for a person's "
            "task) or a condition to check ('gates' before it runs, 'until' after)"))
        for loc, step in context.steps()
        if "do" not in step and step.get("gates") in (None, []) and step.get("until") in (None, [])
    ]


def auto_steps_ask_nobody(context: Context) -> list[Finding]:
    """A step that starts by itself cannot wait for anyone: not for a typed confirmation,
    a second engineer's approval, or a person's task."""
    findings = []
    for loc, step in context.valid(Step):
        if not step.auto:
            continue
        asks = [what for what, asked in (
            ("confirm = true", step.confirm), ("second_person = true", step.second_person),
            ("a manual action", isinstance(step.do, Manual))) if asked]
        if asks:
            findings.append(context.at(loc + ("auto",), (
                f"step {quoted(step.id)} has auto = true, which starts it with nobody asked, "
                f"and {' and '.join(asks)}, which asks someone: drop one of them")))
    return findings


def alias_without_ttl(context: Context) -> list[Finding]:
    """An A record switched to `alb:<id>` becomes an alias, which has no TTL of its own
    (Route 53 answers with the ALB's, and refuses a TTL beside an alias target)."""
    a_records = {rec.id for _, rec in context.valid(DnsRecord) if rec.type == "A"}
    return [
        context.at(loc + ("ttl",), (
            f"route53.upsert in {_holder(context, loc + ('ttl',))} makes "
            f"{', '.join(quoted(r) for r in upsert.records if r in a_records)} an alias of "
            "the ALB, which has no TTL of its own (Route 53 answers with the ALB's, 60 s): "
            "drop 'ttl'"))
        for loc, upsert in context.valid(Upsert)
        if upsert.ttl is not None and upsert.value.startswith("alb:")
        and any(r in a_records for r in upsert.records)
    ]


def insync_has_a_change(context: Context) -> list[Finding]:
    """`route53.insync` without `of` waits for this step's own change: there must be one."""
    return [
        context.at(loc, _insync_message(owner(loc[:4], context.data)))
        for loc, condition in context.valid(ChangeInsync)
        if condition.of is None and len(loc) >= 4 and _not_an_upsert(context, loc[:4])
    ]


def _insync_message(step: str) -> str:
    return (
        f"route53.insync in {step} has no 'of' and the step's 'do' is not "
        'route53.upsert: name the step whose change to wait for (of = "...")'
    )


def _not_an_upsert(context: Context, step: KeyPath) -> bool:
    """The step's `do` is surely not route53.upsert: absent, or a valid other action
    (an invalid one is the schema's to report)."""
    if context.raw_at(step + ("do",)) is None:
        return True
    action = context.valid_at(step + ("do",))
    return action is not None and not isinstance(action, Upsert)


def insync_of_an_upsert(context: Context) -> list[Finding]:
    """`of = "x"` must name a step that makes a Route 53 change to wait for."""
    steps: dict[str, KeyPath] = {}
    for loc, table in context.steps():
        ident = table.get("id")
        if isinstance(ident, str):
            steps.setdefault(ident, loc)  # the first of an id wins
    return [
        context.at(
            loc + ("of",),
            f"route53.insync of = {quoted(condition.of)} names a step whose 'do' is not "
            "route53.upsert",
        )
        for loc, condition in context.valid(ChangeInsync)
        if condition.of in steps and _not_an_upsert(context, steps[condition.of])
    ]


def point_of_no_return_in_its_phase(context: Context) -> list[Finding]:
    """A phase's point of no return is one of its own steps."""
    findings = []
    for index, phase in _tables(_get(context.data, "phases")):
        step = phase.get("point_of_no_return")
        ids = [s.get("id") for _, s in _tables(phase.get("steps"))]
        if isinstance(step, str) and step not in ids:
            findings.append(context.at(
                ("phases", index, "point_of_no_return"),
                f"point_of_no_return {step!r} is not a step of phase {phase.get('id')!r} "
                f"(its steps: {', '.join(str(i) for i in ids)})"))
    return findings


def rollback_steps_stand_apart(context: Context) -> list[Finding]:
    """A rollback path runs its steps in the order written, from the one rollback key:
    a rollback step has no `after` and no `key` of its own, and no step of the window waits
    on one (it would wait for a rollback that is never meant to run)."""
    findings, rollback_ids = [], set()
    for p, phase in _tables(_get(context.data, "phases")):
        for s, step in _tables(phase.get("rollback")):
            loc: KeyPath = ("phases", p, "rollback", s)
            rollback_ids.add(step.get("id"))
            for key, why in (("after", "runs in the order the rollback path lists"),
                             ("key", "starts from the rollback key, with the path")):
                if key in step:
                    findings.append(context.at(loc + (key,), (
                        f"{owner(loc, context.data)} has {key!r}: a rollback step {why}; "
                        f"drop {key!r}")))
    window = [(at, step) for at, step in context.steps() if at[2] == "steps"]
    only_rollback = rollback_ids - {step.get("id") for _, step in window}  # else a duplicate
    for at, step in window:
        after = step.get("after")
        if not isinstance(after, list):
            continue
        for i, dep in enumerate(after):
            if isinstance(dep, str) and dep in only_rollback:
                findings.append(context.at(at + ("after", i), (
                    f"{owner(at, context.data)} comes after {quoted(dep)}, a rollback "
                    "step, which runs only in a rollback: name a step of the window")))
    return findings


def dependency_cycles(context: Context) -> list[Finding]:
    """`after` must leave an order to run the steps in."""
    steps: dict[str, tuple[KeyPath, list[Any]]] = {}
    for loc, table in context.steps():
        ident, after = table.get("id"), table.get("after", [])
        if isinstance(ident, str) and ident not in steps:  # a duplicate is reported apart
            steps[ident] = (loc, after if isinstance(after, list) else [])
    order = {ident: n for n, ident in enumerate(steps)}
    graph = {
        ident: [dep for dep in after if isinstance(dep, str) and dep in steps]
        for ident, (_, after) in steps.items()
    }
    findings = []
    for cycle in find_cycles(graph, order):
        loc, after = steps[cycle[0]]
        index = after.index(cycle[1 % len(cycle)])
        line = context.line(loc + ("after", index))
        findings.append(Finding(line, "dependency cycle: " + " -> ".join([*cycle, cycle[0]])))
    return findings


# --- secrets -----------------------------------------------------------------------------


def secrets_inline(context: Context) -> list[Finding]:
    """Any string anywhere in the file that holds a credential (dsn_env is the model's), or
    any value under a key that names one (`aws_session_token = "..."`)."""
    findings = []
    for loc, text in _strings(context.data):
        field_name = next((part for part in reversed(loc) if isinstance(part, str)), "")
        by_key = secret_key(loc[-1]) if loc and isinstance(loc[-1], str) else None
        what = (by_key if text.strip() else None) or find_secret(text)
        if what is None or _the_schema_says_so(loc, text):
            continue
        message = (
            f"secret written inline in {quoted(field_name)}: {what} in "
            f"{_holder(context, loc)}; keep it in the environment or a credential store "
            "and out of the plan"
            + (" (AWS keys and tokens: in the profile 'aws_profile' names)"
               if what.startswith("an AWS") else "")
        )
        findings.append(context.at(loc, message))
    return findings


def _the_schema_says_so(loc: KeyPath, text: str) -> bool:
    """A secret in an sql endpoint's `dsn_env` that its model refuses as one (reported
    once, by the schema)."""
    if not (len(loc) == 4 and loc[:2] == ("estate", "sql") and loc[3] == "dsn_env"):
        return False
    try:
        check_env_var_name(text)
    except ValueError as exc:
        return str(exc).startswith("secret written inline") and len(text) <= 128
    return False


def _strings(data: Any) -> Iterator[tuple[KeyPath, str]]:
    """Every string in the data with its loc, in file order. Iterative: TOML tables may
    nest far deeper than Python's recursion limit (`a.b.c... = 1`, `[a.b.c...]`)."""
    stack: list[tuple[KeyPath, Any]] = [((), data)]
    while stack:
        loc, node = stack.pop()
        if isinstance(node, str):
            yield loc, node
        elif isinstance(node, dict):
            stack.extend((loc + (key,), value) for key, value in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((loc + (i,), value) for i, value in reversed(list(enumerate(node))))


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
    backup_to_url_needs_2022,
    duplicate_keys,
    dependency_cycles,
    point_of_no_return_in_its_phase,
    rollback_steps_stand_apart,
    steps_that_do_nothing,
    auto_steps_ask_nobody,
    alias_without_ttl,
    insync_has_a_change,
    insync_of_an_upsert,
    secrets_inline,
)
