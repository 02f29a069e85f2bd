"""The estate at one, ten and a hundred times the demo, written as a plan file and loaded
like any other.

The demo estate has four app servers, one target group of two targets, two names and two
resolvers. Ten times that, as the benchmark issue sets it out:

- 20 datacentre app servers and 40 AWS app servers over three AZs (a, b, c). The issue
  asks for 40 app servers, half of them in AWS, and for target groups of 40 targets. An
  ALB keys a target by (instance, port), so in life 20 instances each serving on two ports
  would make 40 targets; but moto (`FakeTargetGroup.targets`) and the sim's health model
  (`GroupHealth.targets`) both key a group's targets by instance id alone, and the second
  registration of an instance replaces the first. 40 distinct instances is the only way to
  get 40 targets per group that the sim really serves, so the AWS side has 40 (the apps
  pane then has 60 rows: more work than asked, never less).
- 4 target groups on one ALB (web, api, fulfilment, admin), each with all 40 instances
  registered (healthy since the last window, as a Phase Two plan starts).
- 30 DNS names in one private zone, each a CNAME to the datacentre; 3 resolvers.
- The SQL side (20 databases in one availability group of 3 replicas) only with
  `sql=True`, once the plan schema and the sim have it (see `sql_available`).

The cost curve (`--curve`, see `bench.curve`) adds two presets beside it:

- 1x, the demo's own size: 2 datacentre and 2 AWS app servers, one target group (oms-web)
  of those 2 targets, the demo's names (orders, fulfilment, and the canary in place of the
  demo's omsdb, whose record the sim ties to the database) on its 2 resolvers, 1 database.
- 100x: 600 app servers (200 datacentre, 400 AWS), 40 target groups, 300 DNS names (the
  SERVICES names, then each again with a number: `orders-2`) on 5 resolvers, 50 databases
  on 3 replicas. Each group has 40 targets, not all 400 instances: the AWS servers are ten
  blocks of 40 and each block sits in 4 groups, as the ten-times estate's 40 sit in its 4.
  So the targets grow tenfold per step as the servers do (2, 160, 1,600), where
  every instance in every group would make 16,000: a hundred times the ten-times estate's,
  sixteen times the 1,000 targets AWS lets one ALB have (1,600 is past it already: in life
  two ALBs; moto does not hold the sim to the quota, and one ALB keeps the panes the same).
  40 targets is what one `DescribeTargetHealth` answers at 10x, so the single call the
  refresh is held against stays the same call.

The runbook has a first step that switches one name (`canary`) and waits for the Route 53
change: once it has run, the DNS pane also asks for that change's status, as an engineer
runs `get-change`.

    python -m bench.scale [--out PLAN.toml] [--sql] [--preset 1x|10x|100x]
    python -m bench.scale --curve [--runs 5] [--presses 60] [--cycles 20]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from cockpit.plan.loader import PlanLoadError, load_plan
from cockpit.plan.models import Plan

REGION = "ap-southeast-2"
AZS = [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
GROUPS = ["oms-web", "oms-api", "oms-fulfil", "oms-admin"]
RESOLVERS = ["dc-dns-1", "dc-dns-2", "vpc-resolver"]
MORE_RESOLVERS = ["dc-dns-3", "vpc-resolver-2"]  # the hundred-times estate's 4th and 5th
SERVICES = [
    "orders", "fulfilment", "payments", "inventory", "pricing", "catalogue", "customers",
    "returns", "shipping", "invoices", "promotions", "loyalty", "stores", "warehouse",
    "suppliers", "purchasing", "reports", "search", "basket", "checkout", "notify",
    "tax", "fraud", "giftcards", "reviews", "ledger", "audit", "admin", "api", "canary",
]
ZONE = "oms.retail.example."
DATACENTRE_TARGET = "oms-web.dc1.retail.example."
CANARY = "canary"


@dataclass(frozen=True)
class Scale:
    dc_servers: int = 20
    aws_servers: int = 40
    names: int = 30
    health_interval_s: float = 10.0  # the ALB's health-check interval for every group
    sql: bool = False
    databases: int = 20
    replicas: int = 3
    groups: int = len(GROUPS)
    targets_per_group: int = 40  # each group takes the next block of this many AWS servers
    resolvers: int = len(RESOLVERS)
    label: str = "ten times"

    def describe(self) -> str:
        sql = (f", {self.databases} databases on {self.replicas} replicas" if self.sql
               else ", no SQL side")
        return (f"{self.dc_servers + self.aws_servers} app servers ({self.dc_servers} "
                f"datacentre, {self.aws_servers} AWS over {len(AZS)} AZs), {self.groups} "
                f"target groups of {self.targets_per_group} targets, {self.names} DNS names "
                f"on {self.resolvers} resolvers{sql}")


PRESETS = {
    "1x": Scale(dc_servers=2, aws_servers=2, names=3, databases=1, groups=1,
                targets_per_group=2, resolvers=2, label="the size of"),
    "10x": Scale(),
    "100x": Scale(dc_servers=200, aws_servers=400, names=300, databases=50, groups=40,
                  resolvers=5, label="a hundred times"),
}
DEMO_NAMES = ["orders", "fulfilment", CANARY]


def _ids(prefix: str, count: int) -> list[str]:
    width = max(2, len(str(count)))  # dc-app-01 at 10x, as ever; dc-app-001 at 100x
    return [f"{prefix}-{n:0{width}d}" for n in range(1, count + 1)]


def dc_ids(scale: Scale) -> list[str]:
    return _ids("dc-app", scale.dc_servers)


def aws_ids(scale: Scale) -> list[str]:
    return _ids("oms-app", scale.aws_servers)


def names(scale: Scale) -> list[str]:
    """The last `names` of the services, the canary last; past 30, each again numbered."""
    if scale.names == len(DEMO_NAMES):
        return list(DEMO_NAMES)
    others = [s for s in SERVICES if s != CANARY]
    extra = [f"{s}-{k}" for k in range(2, scale.names // len(SERVICES) + 2) for s in others]
    every = extra + SERVICES
    return every[-scale.names:]


def group_ids(scale: Scale) -> list[str]:
    if scale.groups <= len(GROUPS):
        return GROUPS[:scale.groups]
    more = [f"oms-{s}" for s in SERVICES if f"oms-{s}" not in GROUPS]
    more += [f"oms-{s}-2" for s in SERVICES]
    return (GROUPS + more)[:scale.groups]


def registered(scale: Scale, group: int) -> list[str]:
    """The group's targets: the next block of AWS servers, round the fleet again."""
    servers, size = aws_ids(scale), scale.targets_per_group
    blocks = max(1, len(servers) // size)
    start = (group % blocks) * size
    return servers[start:start + size]


def resolver_ids(scale: Scale) -> list[str]:
    if scale.resolvers == 2:
        return ["dc-dns-1", "vpc-resolver"]  # the demo's pair: one each side
    return (RESOLVERS + MORE_RESOLVERS)[:scale.resolvers]


def plan_text(scale: Scale) -> str:
    parts = [_header(scale), _servers(scale), _balancing(scale), _dns(scale)]
    if scale.sql:
        parts.append(_sql(scale))
    parts.append(_runbook(scale))
    return "\n".join(parts)


def _header(scale: Scale) -> str:
    return f'''# Generated by bench/scale.py: the demo estate at {scale.label} its size.
[plan]
name = "OMS at {scale.label} the demo"
description = "A benchmark estate: every pane at scale."
budget = "2h"

[estate]
region = "{REGION}"
aws_profile = "oms-cutover"
'''


def _servers(scale: Scale) -> str:
    out = []
    for n, server in enumerate(dc_ids(scale), 1):
        out.append(f'''[[estate.app_servers]]
id = "{server}"
site = "datacentre"
address = "10.20.1.{n}"
health_url = "http://10.20.1.{n}:8080/health"
''')
    for n, server in enumerate(aws_ids(scale)):
        az = AZS[n % len(AZS)]
        out.append(f'''[[estate.app_servers]]
id = "{server}"
site = "aws"
az = "{az}"
instance_type = "m5.xlarge"
health_url = "http://10.{60 + n // 200}.{n % len(AZS) + 1}.{n % 200 + 11}:8080/health"
''')
    return "\n".join(out)


def _balancing(scale: Scale) -> str:
    out = [f'''[[estate.load_balancers]]
id = "oms-alb"
azs = [{", ".join(f'"{az}"' for az in AZS)}]
scheme = "internal"
''']
    for n, group in enumerate(group_ids(scale)):
        port, servers = 8080 + n, ", ".join(f'"{s}"' for s in registered(scale, n))
        out.append(f'''[[estate.target_groups]]
id = "{group}"
load_balancer = "oms-alb"
port = {port}
health_path = "/health"
interval = {scale.health_interval_s}
healthy_threshold = 3
unhealthy_threshold = 2
deregistration_delay = "60s"
registered = [{servers}]
''')
    return "\n".join(out)


def _dns(scale: Scale) -> str:
    out = [f'''[[estate.zones]]
id = "oms"
name = "{ZONE}"
private = true
''']
    for name in names(scale):
        out.append(f'''[[estate.records]]
id = "{name}"
zone = "oms"
name = "{name}.{ZONE}"
type = "CNAME"
ttl = 60
value = "{DATACENTRE_TARGET}"
''')
    for n, resolver in enumerate(resolver_ids(scale), 2):
        out.append(f'''[[estate.resolvers]]
id = "{resolver}"
address = "10.20.0.{n}"
''')
    return "\n".join(out)


def _sql(scale: Scale) -> str:
    out = ['''[[estate.sql]]
id = "oms-db-dc"
site = "datacentre"
server = "sql-dc1.dc1.retail.example."
dsn_env = "OMS_DC_DSN"

[[estate.sql]]
id = "oms-sql-1"
site = "aws"
server = "oms-sql-1.oms.retail.example."
dsn_env = "OMS_SQL1_DSN"

[[estate.buckets]]
id = "oms-backups"
name = "oms-cutover-backups"

[[estate.availability_groups]]
id = "oms-ag"
listener = "oms-ag-listener.oms.retail.example."
''']
    for n in range(1, scale.replicas + 1):
        endpoint = 'endpoint = "oms-sql-1"\n' if n == 1 else ""
        mode = "synchronous_commit" if n < 3 else "asynchronous_commit"
        out.append(f'''[[estate.availability_groups.replicas]]
id = "OMS-SQL-{n}"
{endpoint}availability_mode = "{mode}"
az = "{AZS[(n - 1) % len(AZS)]}"
''')
    for n in range(1, scale.databases + 1):
        out.append(f'''[[estate.databases]]
id = "oms-db-{n:02d}"
name = "OMS{n:02d}"
source = "oms-db-dc"
tables = ["dbo.customers", "dbo.orders", "dbo.order_lines"]
''')
    return "\n".join(out)


def _runbook(scale: Scale) -> str:
    steps = [f'''[[phases]]
id = "window"
title = "The window at scale"

[[phases.steps]]
id = "switch-canary"
title = "Switch the canary name to the ALB and wait for Route 53"
do = {{ kind = "route53.upsert", records = ["{CANARY}"], value = "alb:oms-alb" }}
until = [{{ kind = "route53.insync" }}]
undo = {{ kind = "route53.upsert", records = ["{CANARY}"], value = "original" }}
timeout = "5m"
budget = "2m"
key = "1"
''']
    for n, group in enumerate(group_ids(scale)):
        servers = ", ".join(f'"{s}"' for s in registered(scale, n))
        key = f'key = "{n + 2}"\n' if n + 2 <= 9 else ""  # the keys run out at 9
        steps.append(f'''[[phases.steps]]
id = "{group}-healthy"
title = "Every target of {group} healthy"
after = ["switch-canary"]
until = [{{ kind = "elb.targets_healthy", target_group = "{group}", servers = [{servers}] }}]
budget = "1m"
{key}''')
    if scale.sql:
        steps += [_sql_steps(n) for n in range(1, scale.databases + 1)]
    for n in range(1, 9):
        steps.append(f'''[[phases.steps]]
id = "check-{n}"
title = "Manual check {n} of the runbook"
after = ["switch-canary"]
do = {{ kind = "manual", instruction = "check {n}: look, then confirm" }}
budget = "1m"
''')
    return "\n".join(steps)


def _sql_steps(n: int) -> str:
    """Database n into the AG: backup to S3, restore on the primary, join with seeding."""
    db, key = f"oms-db-{n:02d}", f"oms/OMS{n:02d}-full.bak"
    return f'''[[phases.steps]]
id = "backup-{n:02d}"
title = "Back up OMS{n:02d} into S3"
do = {{ kind = "sql.backup_to_url", endpoint = "oms-db-dc", database = "{db}", \
bucket = "oms-backups", key = "{key}" }}
budget = "5m"

[[phases.steps]]
id = "restore-{n:02d}"
title = "Restore OMS{n:02d} on the primary"
after = ["backup-{n:02d}"]
do = {{ kind = "sql.restore_from_url", endpoint = "oms-sql-1", database = "{db}", \
bucket = "oms-backups", key = "{key}", recovery = true }}
budget = "5m"

[[phases.steps]]
id = "join-{n:02d}"
title = "OMS{n:02d} into the availability group, seeded"
after = ["restore-{n:02d}"]
do = {{ kind = "sql.add_to_ag", endpoint = "oms-sql-1", ag = "oms-ag", database = "{db}", \
seeding = "automatic" }}
until = [{{ kind = "sql.ag_synchronized", ag = "oms-ag", database = "{db}" }}]
timeout = "10m"
budget = "5m"
'''


def sql_step_ids(scale: Scale) -> list[str]:
    """In the order they can run: each database's backup, restore, join."""
    return [f"{kind}-{n:02d}" for n in range(1, scale.databases + 1)
            for kind in ("backup", "restore", "join")]


def sql_available() -> tuple[bool, str]:
    """Whether the SQL side can be measured: the schema has it, the phase-two plan
    validates, and the panes show it (not the placeholder an estate without SQL gets)."""
    from cockpit.plan import models
    from cockpit.runner import panes

    if not {"availability_groups", "databases"} <= set(models.Estate.model_fields):
        return False, "the plan schema has no availability_groups/databases yet"
    try:
        load_plan(Path(__file__).resolve().parent.parent / "plans/oms-phase2-simple.toml")
    except PlanLoadError as exc:
        return False, f"plans/oms-phase2-simple.toml does not validate: {exc.problems[0]}"
    placeholders = [p for p in ("ag", "backup")
                    if getattr(panes._BUILDERS[p], "__name__", "") == "<lambda>"]
    if placeholders:
        return False, (f"cockpit/runner/panes.py still shows a placeholder for the "
                       f"{'/'.join(placeholders)} pane(s): there is no SQL pane to time")
    return True, "the schema, the phase-two plan and the SQL panes are there"


def write_plan(scale: Scale, folder: Path) -> Path:
    path = folder / "oms-ten-times.toml"
    path.write_text(plan_text(scale), encoding="utf-8")
    return path


def build(scale: Scale, folder: Path) -> tuple[Path, Plan]:
    """Write the plan into `folder` and load it as the cockpit does."""
    path = write_plan(scale, folder)
    return path, load_plan(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the plan here (default: a temp dir)")
    parser.add_argument("--sql", action="store_true", help="include the SQL side")
    parser.add_argument("--preset", choices=list(PRESETS), default="10x")
    parser.add_argument("--curve", action="store_true",
                        help="measure the cost curve at 1x, 10x and 100x (see bench.curve)")
    args, rest = parser.parse_known_args(argv)
    if args.curve:
        from bench import curve

        return curve.main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    scale = replace(PRESETS[args.preset], sql=args.sql)
    folder = args.out.parent if args.out else Path(tempfile.mkdtemp(prefix="bench-scale-"))
    path = write_plan(scale, folder)
    if args.out:
        path.replace(args.out)
        path = args.out
    plan = load_plan(path)
    print(f"{path}: {scale.describe()}; {len(plan.steps())} steps; loads and validates")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
