"""The plan file's schema: an estate, and phases of steps over it.

A gate, an `until` and a pane all read the same probes, so conditions and actions share
one vocabulary of kinds (`ec2.running`, `elb.register`, ...). Each kind is a pydantic model
in a discriminated union on `kind`; unknown keys are errors everywhere (`extra="forbid"`).

Fields that name another part of the plan carry a `Ref` marker; `plan.checks` walks them so
a reference to an estate resource or a step that does not exist is reported at its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from cockpit.plan.read_sql import read_refusal

# --- shared field types ---------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """Marks a field whose value(s) must name an item of `collection` (an estate list)."""

    collection: str


# Matched against the stripped text, and each unit owns the spaces after it: with a `\s*`
# on each side of every optional part, a run of spaces could be split between them in
# O(n^4) ways, and `budget = "<800 spaces>x"` took minutes to refuse.
_DURATION = re.compile(
    r"(?:(\d+(?:\.\d+)?)h\s*)?(?:(\d+(?:\.\d+)?)m\s*)?(?:(\d+(?:\.\d+)?)s)?"
)


def parse_duration(value: Any) -> Any:
    """Accept seconds as a number, or a string like `90s`, `5m`, `1h30m`."""
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    match = _DURATION.fullmatch(value.strip())
    if match is None or not any(match.groups()):
        raise ValueError(f"{value!r} is not a duration (write e.g. 90s, 5m, 1h30m)")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


# allow_inf_nan=False: TOML can spell `inf` and `nan`, and neither is a time budget.
Seconds = Annotated[float, BeforeValidator(parse_duration), Field(ge=0, allow_inf_nan=False)]
# A step's timeout and budget and the window's budget: zero is never meant (a timeout of 0
# fails at the first poll; a budget of 0 is overrun before the step starts).
PositiveSeconds = Annotated[
    float, BeforeValidator(parse_duration), Field(gt=0, allow_inf_nan=False)
]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]
EnvVarName = Annotated[str, Field(max_length=128)]
ServerRefs = Annotated[list[str], Ref("app_servers"), Field(min_length=1)]
TargetGroupRef = Annotated[str, Ref("target_groups")]
RecordRefs = Annotated[list[str], Ref("records"), Field(min_length=1)]
ResolverRefs = Annotated[list[str], Ref("resolvers")]
SqlRef = Annotated[str, Ref("sql")]
DatabaseRef = Annotated[str, Ref("databases")]
AgRef = Annotated[str, Ref("availability_groups")]
BucketRef = Annotated[str, Ref("buckets")]
# A SQL Server name (database, table) as SQL Server allows it: anything but empty; the
# generated T-SQL quotes it, so `]`, `;` or `'` in a name cannot inject.
SqlName = Annotated[str, Field(min_length=1, max_length=128)]
S3Key = Annotated[str, Field(min_length=1, max_length=1024)]


class Strict(BaseModel):
    """Base for every plan model: unknown keys are errors, values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- the estate -------------------------------------------------------------------------


class AppServer(Strict):
    """An application server, in the datacentre or imported into EC2 (found by Name tag)."""

    id: Identifier
    site: Literal["datacentre", "aws"]
    health_url: str
    az: str | None = None
    instance_type: str = "m5.large"
    address: str | None = None


class LoadBalancer(Strict):
    id: Identifier
    azs: list[str] = Field(min_length=1)
    scheme: Literal["internal", "internet-facing"] = "internet-facing"


class TargetGroup(Strict):
    """`registered`: the targets already in the group when the window opens (a later
    window's plan says so; the simulated estate starts with them registered and healthy)."""

    id: Identifier
    load_balancer: Annotated[str, Ref("load_balancers")]
    port: int = Field(default=8080, ge=1, le=65535)
    health_path: str = "/health"
    interval: Seconds = 10.0
    healthy_threshold: int = Field(default=3, ge=2, le=10)
    unhealthy_threshold: int = Field(default=2, ge=2, le=10)
    deregistration_delay: Seconds = 300.0
    registered: Annotated[list[str], Ref("app_servers")] = []


class HostedZone(Strict):
    id: Identifier
    name: str
    private: bool = False


class DnsRecord(Strict):
    """A name to be switched; `value` is what it answers before the window (datacentre)."""

    id: Identifier
    zone: Annotated[str, Ref("zones")]
    name: str
    type: Literal["A", "CNAME"] = "CNAME"
    ttl: int = Field(default=60, ge=0, le=172800)
    value: str


class Resolver(Strict):
    """A DNS resolver the engineer's users sit behind; each is asked directly."""

    id: Identifier
    address: str
    port: int = Field(default=53, ge=1, le=65535)


class SqlEndpoint(Strict):
    """A SQL Server endpoint; its ODBC connection string lives in the named env variable.

    `server` is its host name, the value a DNS record of the database points at.
    """

    id: Identifier
    dsn_env: EnvVarName
    site: Literal["datacentre", "aws"] = "datacentre"
    server: str | None = None
    # The major version the plan expects (13 is 2016, 15 is 2019, 16 is 2022): a backup to
    # URL from an older one is refused when the plan is loaded. `sql.version` checks it.
    version: int | None = Field(default=None, ge=9, le=99)

    @field_validator("dsn_env")
    @classmethod
    def _names_a_variable(cls, value: str) -> str:
        return check_env_var_name(value)


class Bucket(Strict):
    id: Identifier
    name: str = Field(min_length=3, max_length=63)


class AgReplica(Strict):
    """One replica of an availability group; `id` is its server name (`@@SERVERNAME`)."""

    id: Identifier
    endpoint: Annotated[str | None, Ref("sql")] = None
    availability_mode: Literal["synchronous_commit", "asynchronous_commit"] = (
        "synchronous_commit"
    )
    az: str | None = None


class AvailabilityGroup(Strict):
    """An Always On availability group; `id` is its name, the first replica its primary.

    `listener` is the listener's DNS name: what the database's name is switched to.
    """

    id: Identifier
    listener: str = Field(min_length=1)
    replicas: list[AgReplica] = Field(min_length=1)

    def primary(self) -> AgReplica:
        return self.replicas[0]


class Database(Strict):
    """A database to move: `name` on its `source` endpoint, reached by apps through `record`.

    `tables` (`schema.table`, or `table` in dbo) are counted row by row in the data check;
    `checksum_tables` are also compared by checksum.
    """

    id: Identifier
    name: SqlName
    source: SqlRef
    record: Annotated[str | None, Ref("records")] = None
    tables: list[SqlName] = Field(default=[], max_length=500)
    checksum_tables: list[SqlName] = []


class Estate(Strict):
    region: str = "ap-southeast-2"
    aws_profile: str | None = None
    # The AWS account the window is for: a session whose credentials are for another is
    # refused when it opens, naming both.
    account_id: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    app_servers: list[AppServer] = []
    load_balancers: list[LoadBalancer] = []
    target_groups: list[TargetGroup] = []
    zones: list[HostedZone] = []
    records: list[DnsRecord] = []
    resolvers: list[Resolver] = []
    sql: list[SqlEndpoint] = []
    buckets: list[Bucket] = []
    availability_groups: list[AvailabilityGroup] = []
    databases: list[Database] = []


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOKS_SECRET = re.compile(r"(pwd|password|secret|token|uid)\s*=|;|://[^/]*:[^/]*@", re.I)


def check_env_var_name(value: str) -> str:
    """An env var *name* is expected; a connection string or key pasted here is a leak."""
    if _LOOKS_SECRET.search(value) or "=" in value:
        raise ValueError(
            "secret written inline: put it in an environment variable and write that "
            "variable's name here"
        )
    if not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


# --- conditions (gates, until, panes) --------------------------------------------------


class Ec2Running(Strict):
    """The servers' EC2 instances are running (and pass their status checks)."""

    kind: Literal["ec2.running"]
    servers: ServerRefs


class Ec2Stopped(Strict):
    kind: Literal["ec2.stopped"]
    servers: ServerRefs


class Ec2Spread(Strict):
    """The servers' instances sit in at least `min_azs` availability zones."""

    kind: Literal["ec2.spread"]
    servers: ServerRefs
    min_azs: int = Field(default=2, ge=1)


class HttpHealthy(Strict):
    """Each server's health endpoint answers `status`, its body containing `contains`."""

    kind: Literal["http.healthy"]
    servers: ServerRefs
    status: int = 200
    contains: str | None = None


class HttpGet(Strict):
    """A request as a client makes it: `url`'s host name resolved through the plan's
    resolvers (`resolvers`, else the first the plan names, else this host's), sent to the
    address it gets with `host` (default: the URL's) as the Host header, answered `status`
    with `contains` in the body within `max_latency_ms`. With `load_balancer`, the ALB's
    own DNS name is resolved and asked in place of the URL's host, which stays the Host
    header: the smoke test through the ALB before any name is switched to it. Through the
    ALB's name or a switched record it proves the listener, the security groups and the
    targets' health, not just the targets."""

    kind: Literal["http.get"]
    url: str
    load_balancer: Annotated[str | None, Ref("load_balancers")] = None
    host: str | None = Field(default=None, min_length=1)
    method: Literal["GET", "HEAD"] = "GET"
    status: int = Field(default=200, ge=100, le=599)
    contains: str | None = None
    max_latency_ms: int | float | None = Field(default=None, gt=0, allow_inf_nan=False)
    resolvers: ResolverRefs = []

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        if not sep or scheme.lower() not in ("http", "https") or not host.split(":")[0]:
            raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
        return value

    @model_validator(mode="after")
    def _body_to_read(self) -> HttpGet:
        if self.method == "HEAD" and self.contains is not None:
            raise ValueError("a HEAD answer has no body to hold 'contains': use GET")
        return self


class TargetsHealthy(Strict):
    kind: Literal["elb.targets_healthy"]
    target_group: TargetGroupRef
    servers: ServerRefs


class TargetGroupMatches(Strict):
    """The target group as the ALB has it (port, health check path, interval and
    thresholds, deregistration delay) is the one the plan describes: a drain or a health
    wait timed from the plan's figures is only right if the ALB uses them."""

    kind: Literal["elb.target_group_matches"]
    target_group: TargetGroupRef


class TargetsDrained(Strict):
    """None of the servers is registered or draining in the target group any more."""

    kind: Literal["elb.targets_drained"]
    target_group: TargetGroupRef
    servers: ServerRefs


class ChangeInsync(Strict):
    """The Route 53 change made by this step's action (or by step `of`) is INSYNC."""

    kind: Literal["route53.insync"]
    of: Annotated[str | None, Ref("steps")] = None


class ResolvesTo(Strict):
    """Every named resolver (all, if none named) answers `value` for each record.

    `value` is literal, `alb:<load balancer id>` for the ALB's DNS name, `ag:<availability
    group id>` for its listener's name, or `original` for the record's datacentre value.
    """

    kind: Literal["dns.resolves_to"]
    records: RecordRefs
    value: str
    resolvers: ResolverRefs = []


class Route53TtlAtMost(Strict):
    """Route 53 serves each record with a TTL of at most `seconds`: lowered in time, the
    switch reaches users within that long of the change."""

    kind: Literal["route53.ttl_at_most"]
    records: RecordRefs
    seconds: int = Field(ge=0, le=172800)


class DnsTtlAtMost(Strict):
    """Every named resolver (all, if none named) hands each record out with at most
    `seconds` left to live: a resolver that cached it under the old, long TTL would keep
    users on the datacentre long after the switch."""

    kind: Literal["dns.ttl_at_most"]
    records: RecordRefs
    seconds: int = Field(ge=0, le=172800)
    resolvers: ResolverRefs = []


class MetricHolds(Strict):
    """A CloudWatch metric over the last `minutes` stays within a limit: the ALB's 5xx
    count, its targets' response time, a replica's lag. `load_balancer` adds the ALB's
    `LoadBalancer` dimension (its ARN's tail, looked up). Sum and SampleCount read no data
    as zero (an ALB publishes no count of nothing); the other statistics need data."""

    kind: Literal["cloudwatch.metric"]
    namespace: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    statistic: Literal["Sum", "Average", "Maximum", "Minimum", "SampleCount"]
    dimensions: dict[str, str] = {}
    load_balancer: Annotated[str | None, Ref("load_balancers")] = None
    period: int = Field(default=60, ge=60, le=86400)
    minutes: int = Field(default=15, ge=1, le=1440)
    at_most: int | float | None = None
    at_least: int | float | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> MetricHolds:
        if (self.at_most is None) == (self.at_least is None):
            raise ValueError("give exactly one of at_most, at_least")
        return self


class AgHealthy(Strict):
    """Every replica of the availability group is connected and healthy."""

    kind: Literal["sql.ag_healthy"]
    ag: AgRef


class AgSynchronized(Strict):
    """The database is SYNCHRONIZED on every synchronous-commit replica (and synchronizing,
    healthy, on the asynchronous ones)."""

    kind: Literal["sql.ag_synchronized"]
    ag: AgRef
    database: DatabaseRef


class NoUserSessions(Strict):
    """No user session is left on the database at the endpoint (apps, ETL, reports...)."""

    kind: Literal["sql.no_user_sessions"]
    endpoint: SqlRef
    database: DatabaseRef


class SessionsFrom(Strict):
    """After the switch: every host named has sessions on the database at the endpoint (the
    app servers reconnected to the new primary), and no other host has any (a client left
    pointing at an old name, an ETL job nobody stopped). Hosts as `host_name` shows them."""

    kind: Literal["sql.sessions_from"]
    endpoint: SqlRef
    database: DatabaseRef
    hosts: list[str] = Field(min_length=1)


class DataMatches(Strict):
    """Row counts of every table, and checksums of the chosen ones, equal on both sides.

    `baseline`: a tail-log step whose outputs hold the source as it was read just before
    the fence (the source is RESTORING after it, unreadable): the target is compared with
    that record instead."""

    kind: Literal["sql.data_matches"]
    source: SqlRef
    target: SqlRef
    database: DatabaseRef
    baseline: Annotated[str | None, Ref("steps")] = None


class SqlVersion(Strict):
    """The instance is at least SQL Server `min_major` (15 is 2019, 16 is 2022: BACKUP TO
    URL on S3 needs 16), and of one of `editions` if named (matched as the start of
    SERVERPROPERTY('Edition'), e.g. "Enterprise")."""

    kind: Literal["sql.version"]
    endpoint: SqlRef
    min_major: int = Field(ge=9, le=99)
    editions: list[str] = []


class AgentJobsQuiet(Strict):
    """No enabled SQL Server Agent job with a step in the database is due at the endpoint
    within the next `minutes` (the window): a nightly export or ETL that writes to the
    source mid-cutover makes orders the backup never sees. Next runs are in the server's
    local time, taken as this host's."""

    kind: Literal["sql.agent_jobs"]
    endpoint: SqlRef
    database: DatabaseRef
    minutes: int = Field(default=180, ge=1, le=10080)


class LoginsMatch(Strict):
    """Every user of the database at `source` that logs in through an instance login maps,
    by SID, to a login on each of `targets`: restored there, no user is orphaned (the app
    would fail with "Cannot open database ... The login failed.")."""

    kind: Literal["sql.logins_match"]
    source: SqlRef
    database: DatabaseRef
    targets: Annotated[list[str], Ref("sql")] = Field(min_length=1)


class CertificatesPresent(Strict):
    """If the database at `source` is encrypted with TDE, the certificate that protects its
    key is in master on each of `targets` (by thumbprint): else its restore there fails."""

    kind: Literal["sql.certificates"]
    source: SqlRef
    database: DatabaseRef
    targets: Annotated[list[str], Ref("sql")] = Field(min_length=1)


SqlRefs = Annotated[list[str], Ref("sql"), Field(min_length=1)]
StepRefs = Annotated[list[str], Ref("steps"), Field(min_length=1)]


class RecoveryModel(Strict):
    """The database at `endpoint` is in the `model` recovery model: FULL keeps the log chain
    that log backups, a tail-log fence and ADD DATABASE to an AG all need."""

    kind: Literal["sql.recovery_model"]
    endpoint: SqlRef
    database: DatabaseRef
    model: Literal["FULL", "BULK_LOGGED", "SIMPLE"] = "FULL"


class CollationMatches(Strict):
    """Each of `targets` runs with the collation of the database at `source`: a restored
    database keeps its own, and tempdb takes the instance's, so a temporary table compared
    with the database's columns fails with Msg 468 (collation conflict)."""

    kind: Literal["sql.collation"]
    source: SqlRef
    database: DatabaseRef
    targets: SqlRefs


class CredentialForUrl(Strict):
    """Each of `endpoints` holds a credential that opens the bucket's URL (named by the URL,
    a parent path of it, or the bucket: the most specific wins), and the bucket is in the
    plan's region (the region the statements sign for). Without one, BACKUP and RESTORE
    fail with Msg 3201."""

    kind: Literal["sql.credential_for_url"]
    endpoints: SqlRefs
    bucket: BucketRef


class PathsExist(Strict):
    """The files of the database at `source`, restored without MOVE, land in folders that
    exist on each of `targets` (its default data and log folders, or those its own
    databases' files are in): else the restore fails with Msg 5133 and 3156."""

    kind: Literal["sql.paths_exist"]
    source: SqlRef
    database: DatabaseRef
    targets: SqlRefs


class LinkedServersPresent(Strict):
    """Every linked server at `source` (but those in `ignore`) exists by name on each of
    `targets`, pointing at the same data source: the database's procedures that use one
    fail on the first call otherwise."""

    kind: Literal["sql.linked_servers"]
    source: SqlRef
    targets: SqlRefs
    ignore: list[str] = []


class SeedingReady(Strict):
    """Every secondary of `ag` seeds the way the plan adds the database: its seeding mode
    is `mode`, and for automatic seeding the last seeding the primary ran to it completed.
    The grant it needs (ALTER AVAILABILITY GROUP ... GRANT CREATE ANY DATABASE, on the
    secondary) is in no catalog view: a seeding that worked, the T-48h canary's, is the
    proof; a failed one names its failure."""

    kind: Literal["sql.seeding_ready"]
    ag: AgRef
    mode: Literal["automatic", "manual"] = "automatic"


class ListenerOnline(Strict):
    """The AG's listener exists with the plan's DNS name on `port`, and an address of it is
    ONLINE (a multi-subnet listener has one per subnet; only the primary's is online)."""

    kind: Literal["sql.listener_online"]
    ag: AgRef
    port: int = Field(default=1433, ge=1, le=65535)


class PermissionsHeld(Strict):
    """The login the cockpit connects with at `endpoint` holds each server permission in
    `permissions` (HAS_PERMS_BY_NAME): what its panes read (VIEW SERVER STATE) and what
    the steps do (CREATE ANY DATABASE for a restore, ALTER ANY AVAILABILITY GROUP)."""

    kind: Literal["sql.permissions"]
    endpoint: SqlRef
    permissions: Annotated[list[Annotated[str, Field(pattern=r"^[A-Z][A-Z ]*[A-Z]$")]],
                           Field(min_length=1)]


class ReadOnly(Strict):
    kind: Literal["sql.read_only"]
    endpoint: SqlRef
    database: DatabaseRef


class BackupPresent(Strict):
    """The backup object (or every stripe of it) is in the bucket, at least `min_bytes`."""

    kind: Literal["s3.backup_present"]
    bucket: BucketRef
    key: S3Key
    min_bytes: int = Field(default=1, ge=0)


class SqlQuery(Strict):
    """A runbook's own check: one read-only SELECT at the endpoint (in `database`, if
    named), its result judged: the first column of the first row `equals`, is `at_most`
    or `at_least` a number, or the query returns `no_rows`. Exactly one of these four.
    Anything but one SELECT that changes nothing is refused when the plan is loaded, and
    again before it is sent."""

    kind: Literal["sql.query"]
    endpoint: SqlRef
    query: str
    database: Annotated[str | None, Ref("databases")] = None
    equals: str | int | float | None = None
    at_most: int | float | None = None
    at_least: int | float | None = None
    no_rows: bool = False

    @field_validator("query")
    @classmethod
    def _reads_only(cls, value: str) -> str:
        why = read_refusal(value)
        if why is not None:
            raise ValueError(f"query refused: {why}")
        return value

    @model_validator(mode="after")
    def _one_expectation(self) -> SqlQuery:
        given = [name for name in ("equals", "at_most", "at_least")
                 if getattr(self, name) is not None] + (["no_rows"] if self.no_rows else [])
        if len(given) != 1:
            said = ", ".join(given) if given else "none"
            raise ValueError("say what the query must return with exactly one of equals, "
                             f"at_most, at_least, no_rows = true (given: {said})")
        return self


class SentinelFound(Strict):
    """The marker row the step `written_by` wrote is in the database at `endpoint`."""

    kind: Literal["sql.sentinel_found"]
    endpoint: SqlRef
    database: DatabaseRef
    written_by: Annotated[str, Ref("steps")]


class ChainContinuous(Strict):
    """The log chain the `backups` steps recorded is whole: each log starts where the one
    before ended (first_lsn = last_lsn), no other log backup of the database was taken at
    `source` since the full (msdb.dbo.backupset), every object is in the bucket, and each of
    `replicas` has rolled forward to the last of them (sys.master_files.redo_start_lsn). A
    break names the missing LSN range and the step that should have produced it."""

    kind: Literal["sql.chain_continuous"]
    source: SqlRef
    database: DatabaseRef
    backups: StepRefs
    replicas: SqlRefs


class StepSucceeded(Strict):
    """Each of `steps` succeeded on its own evidence in this session: a step skipped, or
    marked done on the engineer's word, does not count (where the window needs the proof,
    a skip must not pass for it)."""

    kind: Literal["step.succeeded"]
    steps: StepRefs


class ReadinessHolds(Strict):
    """The plan's readiness check `check` holds now, judged as `cockpit check` judges it:
    a go/no-go step gated on the same checks the team ran two days out."""

    kind: Literal["readiness"]
    check: Annotated[str, Ref("readiness")]


Condition = Annotated[
    Ec2Running
    | Ec2Stopped
    | Ec2Spread
    | HttpHealthy
    | HttpGet
    | TargetsHealthy
    | TargetsDrained
    | TargetGroupMatches
    | ChangeInsync
    | ResolvesTo
    | Route53TtlAtMost
    | DnsTtlAtMost
    | AgHealthy
    | AgSynchronized
    | NoUserSessions
    | SessionsFrom
    | DataMatches
    | ReadOnly
    | BackupPresent
    | SqlQuery
    | SqlVersion
    | AgentJobsQuiet
    | LoginsMatch
    | CertificatesPresent
    | RecoveryModel
    | CollationMatches
    | CredentialForUrl
    | PathsExist
    | LinkedServersPresent
    | SeedingReady
    | ListenerOnline
    | PermissionsHeld
    | ChainContinuous
    | SentinelFound
    | MetricHolds
    | StepSucceeded
    | ReadinessHolds,
    Field(discriminator="kind"),
]

# --- actions (do, undo) ----------------------------------------------------------------


class Ec2Start(Strict):
    kind: Literal["ec2.start"]
    servers: ServerRefs


class Ec2Stop(Strict):
    kind: Literal["ec2.stop"]
    servers: ServerRefs


class Register(Strict):
    kind: Literal["elb.register"]
    target_group: TargetGroupRef
    servers: ServerRefs


class Deregister(Strict):
    kind: Literal["elb.deregister"]
    target_group: TargetGroupRef
    servers: ServerRefs


class Upsert(Strict):
    """Route 53 UPSERT of each record to `value` (literal, `alb:<id>`, `ag:<id>`, `original`).

    An A record switched to `alb:<id>` becomes an alias of the ALB, with no TTL of its own;
    `evaluate_target_health` is its EvaluateTargetHealth."""

    kind: Literal["route53.upsert"]
    records: RecordRefs
    value: str
    ttl: int | None = Field(default=None, ge=0, le=172800)
    evaluate_target_health: bool = True


class Manual(Strict):
    """A human does it, then confirms with a note."""

    kind: Literal["manual"]
    instruction: str = Field(min_length=1)


class SetReadOnly(Strict):
    """READ_ONLY and RESTRICTED_USER, rolling back whoever is still connected."""

    kind: Literal["sql.set_read_only"]
    endpoint: SqlRef
    database: DatabaseRef


class SetReadWrite(Strict):
    kind: Literal["sql.set_read_write"]
    endpoint: SqlRef
    database: DatabaseRef


class BackupToUrl(Strict):
    """A full backup straight into S3 (SQL Server 2022's S3 connector).

    `stripes`: how many URLs to split it over; by default, as many as its size needs.
    """

    kind: Literal["sql.backup_to_url"]
    endpoint: SqlRef
    database: DatabaseRef
    bucket: BucketRef
    key: S3Key
    stripes: int | None = Field(default=None, ge=1, le=64)


class BackupToDisk(Strict):
    """For older sources: a backup to `path` (a share the cockpit reads too), then upload."""

    kind: Literal["sql.backup_to_disk"]
    endpoint: SqlRef
    database: DatabaseRef
    path: str = Field(min_length=1, max_length=259)
    bucket: BucketRef
    key: S3Key


class RestoreFromUrl(Strict):
    kind: Literal["sql.restore_from_url"]
    endpoint: SqlRef
    database: DatabaseRef
    bucket: BucketRef
    key: S3Key
    recovery: bool = True


class SqlBackup(Strict):
    """BACKUP of `type` full, diff or log of the database at `endpoint` into the bucket,
    under `prefix/<session>/`: to URL (SQL Server 2022), or with `to = "disk"` to the share
    `path` and then uploaded (any version). CHECKSUM unless `checksum = false`; `copy_only`
    leaves the chain as it was; `tail = true` (a log backup) is the fence: BACKUP LOG ...
    WITH NORECOVERY leaves the source RESTORING, unreadable and unchangeable, and one
    `sql.recover` on it is the rollback. The step records the exact objects and the
    backup's LSNs from msdb.dbo.backupset."""

    kind: Literal["sql.backup"]
    endpoint: SqlRef
    database: DatabaseRef
    type: Literal["full", "diff", "log"] = "full"
    bucket: BucketRef
    prefix: S3Key
    to: Literal["url", "disk"] = "url"
    path: str | None = Field(default=None, min_length=1, max_length=200)
    checksum: bool = True
    copy_only: bool = False
    compression: bool = True
    tail: bool = False
    stripes: int | None = Field(default=None, ge=1, le=64)

    @model_validator(mode="after")
    def _coherent(self) -> SqlBackup:
        if self.tail and self.type != "log":
            raise ValueError("tail = true is a log backup (BACKUP LOG ... WITH NORECOVERY): "
                             'write type = "log"')
        if (self.to == "disk") != (self.path is not None):
            raise ValueError('a backup to disk names the share folder: to = "disk" with path')
        return self


class SqlRestore(Strict):
    """RESTORE, at each of `endpoints`, of exactly the objects the `backups` steps recorded,
    in that order (a full, a differential, logs): WITH NORECOVERY, so more can follow,
    unless `recovery`. A backup already rolled forward on an endpoint (its redo LSN past
    it) is skipped, so a step run again carries on where it stopped. The full's files are
    moved to each endpoint's default data and log folders (RESTORE FILELISTONLY), or to
    `data_path` and `log_path`."""

    kind: Literal["sql.restore"]
    endpoints: SqlRefs
    database: DatabaseRef
    backups: StepRefs
    recovery: bool = False
    data_path: str | None = None
    log_path: str | None = None


class SqlRecover(Strict):
    """RESTORE DATABASE ... WITH RECOVERY at each of `endpoints`: a database left RESTORING
    comes online (the end of a restore chain; on the fenced source, the rollback)."""

    kind: Literal["sql.recover"]
    endpoints: SqlRefs
    database: DatabaseRef


class WriteSentinel(Strict):
    """A marker row into `table` of the database at `endpoint` (a table the DBA created
    with columns `sentinel` and `written_at`), just before the fence: the last write
    there. Found on the new primary (`sql.sentinel_found`), it proves that write came
    across, and every one before it."""

    kind: Literal["sql.write_sentinel"]
    endpoint: SqlRef
    database: DatabaseRef
    table: str = Field(default="dbo.cutover_sentinel", min_length=1, max_length=257)


class ShipLogs(Strict):
    """Log shipping before the window: `rounds` times, every `every`, a log backup of the
    database at `endpoint` into the bucket, restored WITH NORECOVERY at each of `replicas`;
    each backup is recorded as a `sql.backup` step's is. With `keep_shipping`, the step
    ends after its rounds and the session goes on shipping every `every` in the background
    (each round recorded on this step) until the window reaches the log chain: a step that
    judges it (`sql.chain_continuous`) or fences it (`sql.backup` with `tail`)."""

    kind: Literal["sql.ship_logs"]
    endpoint: SqlRef
    database: DatabaseRef
    replicas: SqlRefs
    bucket: BucketRef
    prefix: S3Key
    every: PositiveSeconds = 900.0
    rounds: int = Field(default=4, ge=1, le=1000)
    keep_shipping: bool = False
    to: Literal["url", "disk"] = "url"  # disk: to the share `path`, then uploaded
    path: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _a_share_for_disk(self) -> ShipLogs:
        if (self.to == "disk") != (self.path is not None):
            raise ValueError('log shipping to disk names the share folder: to = "disk" with '
                             "path")
        return self


class DropDatabase(Strict):
    """The undo of a restore on the target. Never allowed on the database's source."""

    kind: Literal["sql.drop_database"]
    endpoint: SqlRef
    database: DatabaseRef


class AddToAg(Strict):
    """`automatic`: ADD DATABASE on the primary, which seeds the secondaries;
    `join`: on a secondary that restored WITH NORECOVERY, join the database to the AG."""

    kind: Literal["sql.add_to_ag"]
    endpoint: SqlRef
    ag: AgRef
    database: DatabaseRef
    seeding: Literal["automatic", "join"] = "automatic"


class RemoveFromAg(Strict):
    kind: Literal["sql.remove_from_ag"]
    endpoint: SqlRef
    ag: AgRef
    database: DatabaseRef


class AbortMultipart(Strict):
    """Abort the open multipart uploads a failed backup left under `key` (and its stripes)."""

    kind: Literal["s3.abort_multipart"]
    bucket: BucketRef
    key: S3Key


Action = Annotated[
    Ec2Start
    | Ec2Stop
    | Register
    | Deregister
    | Upsert
    | Manual
    | SetReadOnly
    | SetReadWrite
    | BackupToUrl
    | BackupToDisk
    | RestoreFromUrl
    | DropDatabase
    | AddToAg
    | RemoveFromAg
    | AbortMultipart
    | SqlBackup
    | SqlRestore
    | SqlRecover
    | ShipLogs
    | WriteSentinel,
    Field(discriminator="kind"),
]

# --- the runbook ------------------------------------------------------------------------


class Step(Strict):
    id: Identifier
    title: str = Field(min_length=1)
    after: Annotated[list[str], Ref("steps")] = []
    gates: list[Condition] = []
    do: Action | None = None
    until: list[Condition] = []
    timeout: PositiveSeconds = 300.0
    undo: Action | None = None
    confirm: bool = False
    # The two-person rule: overriding its gates, skipping it, marking it done or undoing it
    # needs a second engineer's approval, from another login (`cockpit approve`).
    second_person: bool = False
    budget: PositiveSeconds = 60.0
    # Who carries it ("dba", "network", "apps", "comms"): steps of different streams whose
    # dependencies are met run side by side.
    stream: Identifier | None = None
    # Starts by itself the moment it is ready, in the driver: no key, no confirmation (so
    # refused beside `confirm`, `second_person` or a manual action).
    auto: bool = False
    # Digits and F-keys only: letters are the cockpit's own keys (run, undo, skip...).
    key: str | None = Field(default=None, pattern=r"^[1-9]$|^f([2-9]|10)$")


class Phase(Strict):
    """A window's steps. `point_of_no_return` names the step after which a rollback would
    split the brain (the apps started on the new primary): from there the cockpit watches
    the new primary for the first production write, and once it sees one, refuses the
    undos of the phase's steps up to that step (forward-fix only)."""

    id: Identifier
    title: str = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    point_of_no_return: Identifier | None = None
    # The way back while the point of no return has not passed: steps run in order from one
    # key, each with its gates and its budget (the rollback's length is their sum, which
    # sets the window's abort-by). No `after` and no `key` of their own (plan/checks.py).
    rollback: list[Step] = []


ReadinessMoment = Literal["t-48h", "t-1h", "go"]
MOMENTS: tuple[ReadinessMoment, ...] = ("t-48h", "t-1h", "go")


class Readiness(Strict):
    """A check `cockpit check` runs before the window (two days out, an hour out, at the
    go/no-go): any condition, with what to do when it fails."""

    id: Identifier
    title: str = Field(min_length=1)
    check: Condition
    at: list[ReadinessMoment] = Field(default_factory=lambda: list(MOMENTS), min_length=1)
    fix: str = ""


class PlanMeta(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    budget: PositiveSeconds = 3600.0
    # `s3://bucket/prefix`: where the driver mirrors the session for watchers on other
    # hosts; the config's `[mirror] url` wins over it (session/mirror.py).
    mirror: str = Field("", pattern=r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/\S*)?)?$")


class Plan(Strict):
    plan: PlanMeta
    estate: Estate
    phases: list[Phase] = Field(min_length=1)
    readiness: list[Readiness] = []

    def steps(self) -> list[Step]:
        return [step for phase in self.phases for step in phase.steps]

    def rollback_steps(self) -> list[Step]:
        """Every phase's rollback steps: run only by a rollback, never in the window's order."""
        return [step for phase in self.phases for step in phase.rollback]

    def step(self, step_id: str) -> Step:
        """A step of the window or of a rollback path, by id (ids are unique across both)."""
        for step in self.steps() + self.rollback_steps():
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def phase_of(self, step_id: str) -> Phase:
        for phase in self.phases:
            if any(step.id == step_id for step in phase.steps + phase.rollback):
                return phase
        raise KeyError(step_id)

    def is_rollback(self, step_id: str) -> bool:
        return any(step.id == step_id for step in self.rollback_steps())
