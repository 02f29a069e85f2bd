"""The simulated estate: real servers on loopback, built from a plan's estate section.

moto's server holds the AWS side (VPC, subnets, the imported instances, the ALB and its
target groups, the hosted zones, the buckets); loopback HTTP servers play the app servers;
dnslib servers play the resolvers. Whatever a plan names is built, so any plan can be
rehearsed. `speed` divides every simulated duration.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import httpx

from cockpit.estate.handle import Endpoints
from cockpit.estate.service_models import whole_botocore_session
from cockpit.estate.tls import tls_context
from cockpit.plan.models import AppServer, DnsRecord, Estate, HostedZone, Plan
from cockpit.sim import moto_hooks
from cockpit.sim.alb_metrics import AlbMetrics
from cockpit.sim.appservers import AppServer as AppServerProcess
from cockpit.sim.appservers import AppServerState
from cockpit.sim.aws_server import SIM_AGENT_MARK, AwsServer, AwsWeather
from cockpit.sim.backup_engine import Throughput
from cockpit.sim.dns_server import CachingResolver, ResolverServer, ResolverWeather
from cockpit.sim.elb_health import GroupHealth, HealthChecker, TargetHealth
from cockpit.sim.faults import Fault, FaultSet, parse_fault
from cockpit.sim.load_balancers import FailShare, Listener, Pool, Target
from cockpit.sim.plan_data import sentinel_tables
from cockpit.sim.route53_changes import PROPAGATION_S, ChangeLedger, RecordData
from cockpit.sim.server_loop import ServerLoop
from cockpit.sim.sql_estate import AppView, SimSqlEstate
from cockpit.sim.sql_wire import SqlWireServer

SIM_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
ACCOUNT_ID = "123456789012"
IMPORTED_AMI = "ami-0a1b2c3d4e5f67890"  # VM Import gives each server an AMI of its own
NOT_LOWERED_TTL = 3600  # a typical production TTL, before anyone lowers it for a window
IDLE_TIMEOUT_S = 60.0  # how long an ALB waits on a target's answer (its default idle timeout)

_one_at_a_time = threading.Lock()


@functools.cache
def _sim_session() -> boto3.Session:
    """One session for the sim's own clients: each model read once, whole, by msgspec."""
    return boto3.Session(botocore_session=whole_botocore_session())


class SimEstate:
    """Start with `start()` (or as a context manager); `endpoints()` tells a handle where."""

    def __init__(self, estate: Estate, *, speed: float = 1.0, faults: Iterable[Fault] = (),
                 throughput: Throughput | None = None,
                 sentinels: Mapping[str, Sequence[str]] | None = None):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.estate = estate
        # The tables the plan's sql.write_sentinel steps write to, by database id
        # (`plan_data.sentinel_tables`): the estate section does not name them.
        self.sentinels = dict(sentinels or {})
        self.throughput = throughput or Throughput()
        self.speed = float(speed)
        self.faults = FaultSet(tuple(faults))
        self._moto: Any = None
        self._endpoint = ""
        self._apps: dict[str, AppServerProcess] = {}
        self._resolvers: dict[str, ResolverServer] = {}
        self._servers = ServerLoop()  # the app servers' and resolvers' one thread
        self._ledgers: dict[str, ChangeLedger] = {}
        self._instance_ids: dict[str, str] = {}
        self._instances: dict[str, Any] = {}  # moto's Instance objects, by instance id
        self._checker: HealthChecker | None = None
        self._listeners: list[Listener] = []
        self._book: dict[str, list[str]] = {}
        self._metrics: AlbMetrics | None = None
        self.sql: SimSqlEstate | None = None
        self._sql_wire: dict[str, SqlWireServer] = {}
        self._owned_lock = False

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> SimEstate:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        # moto's backends are global to the process: two sims at once would share them.
        if not _one_at_a_time.acquire(blocking=False):
            raise RuntimeError("a simulated estate is already running in this process")
        self._owned_lock = True
        moto_hooks.install()
        self._start_moto()
        self._seed_aws()
        self._start_sql()
        self._start_app_servers()
        self._start_resolvers()
        self._start_health_checks()
        self._start_listeners()
        self._bring_weather()

    def stop(self) -> None:
        if self._checker:
            self._checker.stop()
        if self._metrics is not None:
            self._metrics.stop()
        served: list[AppServerProcess | ResolverServer] = [*self._apps.values(),
                                                            *self._resolvers.values()]
        for server in served:
            server.stop()
        self._servers.stop()
        # Each listener waits out its own poll interval to stop: stop them together.
        with ThreadPoolExecutor(max_workers=max(1, len(self._listeners))) as pool:
            list(pool.map(lambda listener: listener.stop(), self._listeners))
        for wire in self._sql_wire.values():  # first: a statement running ends, answered
            wire.stop()
        self._sql_wire.clear()
        if self.sql is not None:
            self.sql.stop()
            self.sql = None
        for arn in [g.arn for g in (self._checker.groups if self._checker else [])]:
            moto_hooks.GROUPS.pop(arn, None)
        for zone_id in self._ledgers:
            moto_hooks.LEDGERS.pop(zone_id, None)
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._owned_lock:
            self._owned_lock = False
            _one_at_a_time.release()

    def endpoints(self) -> Endpoints:
        return Endpoints(
            aws_endpoint_url=self._endpoint,
            aws_credentials=dict(SIM_CREDENTIALS),
            health_urls={server: app.url for server, app in self._apps.items()},
            resolvers={rid: server.address for rid, server in self._resolvers.items()},
            http_listeners={listener.stands_for: listener.bound for listener in self._listeners},
            sql_connect={e.id: self.sql.connector(e.id) for e in self.estate.sql}
            if self.sql else {},
            sql_disk_root=str(self.sql.disk_root) if self.sql else None,
            label="simulated", credentials_are_secret=False,
        )

    def sql_servers(self) -> dict[str, tuple[str, int]]:
        """Where each simulated SQL Server answers over loopback TCP, for other processes."""
        return {eid: wire.address for eid, wire in self._sql_wire.items()}

    @property
    def aws_endpoint(self) -> str:
        return self._endpoint

    # --- AWS ------------------------------------------------------------------------

    def _start_moto(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = AwsServer(AwsWeather())  # calm while the sim seeds; weather comes after
        self._moto.start()
        self._endpoint = self._moto.endpoint
        httpx.post(f"{self._endpoint}/moto-api/reset", timeout=10, verify=tls_context())

    def _bring_weather(self) -> None:
        """The faults that make AWS slow, throttled, failing, silent or expired."""
        weather, faults = self._moto.weather, self.faults
        weather.latency_s = sum(float(ms) for ms in faults.args("aws-latency")) / 1000
        weather.throttle_percent = sum(float(p) for p in faults.args("aws-throttle"))
        weather.error_percent = sum(float(p) for p in faults.args("aws-5xx"))
        weather.hung_services = set(faults.args("aws-hang"))
        weather.account = next(iter(faults.args("wrong-account")), None)
        expiry = faults.args("aws-credentials-expire")
        if expiry:
            weather.credentials_expire_at = time.monotonic() + float(expiry[0]) / self.speed

    def client(self, service: str) -> Any:
        from botocore.config import Config

        # Marked, so the weather the sim makes for the cockpit never falls on the sim itself.
        session: Any = _sim_session()  # typed per service; the sim's callers take Any
        return session.client(
            service, endpoint_url=self._endpoint, region_name=self.estate.region,
            config=Config(user_agent_extra=SIM_AGENT_MARK), **SIM_CREDENTIALS)

    def _seed_aws(self) -> None:
        subnets = self._seed_network()
        self._seed_instances(subnets)
        self._seed_load_balancers(subnets)
        self._seed_zones()
        s3 = self.client("s3")
        for bucket in self.estate.buckets:
            s3.create_bucket(Bucket=bucket.name, CreateBucketConfiguration={
                "LocationConstraint": self.estate.region})

    def _seed_network(self) -> dict[str, str]:
        ec2 = self.client("ec2")
        self._vpc_id = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
        subnets: dict[str, str] = {}
        for index, az in enumerate(sorted(self._azs())):
            subnet = ec2.create_subnet(VpcId=self._vpc_id, AvailabilityZone=az,
                                       CidrBlock=f"10.60.{index + 1}.0/24")
            subnets[az] = subnet["Subnet"]["SubnetId"]
        return subnets

    def _azs(self) -> set[str]:
        azs = {s.az for s in self.estate.app_servers if s.az}
        azs.update(az for lb in self.estate.load_balancers for az in lb.azs)
        return azs or {f"{self.estate.region}a"}

    def _seed_instances(self, subnets: dict[str, str]) -> None:
        ec2 = self.client("ec2")
        for server in self._aws_servers():
            subnet = subnets[server.az or sorted(subnets)[0]]
            launched = ec2.run_instances(
                ImageId=IMPORTED_AMI, MinCount=1, MaxCount=1, SubnetId=subnet,
                InstanceType=server.instance_type,
                TagSpecifications=[{"ResourceType": "instance",
                                    "Tags": [{"Key": "Name", "Value": server.id}]}],
            )
            self._instance_ids[server.id] = launched["Instances"][0]["InstanceId"]
            if self.faults.has("duplicate-name", server.id):
                # A test instance from the import rehearsal, never terminated.
                ec2.run_instances(
                    ImageId=IMPORTED_AMI, MinCount=1, MaxCount=1, SubnetId=subnet,
                    InstanceType="t3.micro",
                    TagSpecifications=[{"ResourceType": "instance", "Tags": [
                        {"Key": "Name", "Value": server.id},
                        {"Key": "Purpose", "Value": "import test"}]}])

    def _aws_servers(self) -> list[AppServer]:
        return [s for s in self.estate.app_servers if s.site == "aws"]

    def _seed_load_balancers(self, subnets: dict[str, str]) -> None:
        elbv2 = self.client("elbv2")
        lb_arns = {}
        for lb in self.estate.load_balancers:
            created = elbv2.create_load_balancer(
                Name=lb.id, Subnets=[subnets[az] for az in lb.azs], Scheme=lb.scheme,
                Type="application")
            lb_arns[lb.id] = created["LoadBalancers"][0]["LoadBalancerArn"]
        self._metrics = AlbMetrics(
            self.client("cloudwatch"),
            [arn.split(":loadbalancer/", 1)[1] for arn in lb_arns.values()],
            sum(float(p) for p in self.faults.args("alb-5xx")))
        self._metrics.start()
        self._group_arns: dict[str, str] = {}
        for group in self.estate.target_groups:
            arn = self._create_target_group(elbv2, group.id)
            self._group_arns[group.id] = arn
            if group.registered:  # a later window's plan starts with them in the group
                elbv2.register_targets(TargetGroupArn=arn, Targets=[
                    {"Id": self._instance_ids[s], "Port": group.port} for s in group.registered])
            elbv2.create_listener(LoadBalancerArn=lb_arns[group.load_balancer], Protocol="HTTP",
                                  Port=80 + len(self._group_arns) - 1,
                                  DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}])

    def _create_target_group(self, elbv2: Any, group_id: str) -> str:
        group = next(g for g in self.estate.target_groups if g.id == group_id)
        created = elbv2.create_target_group(
            Name=group.id, Protocol="HTTP", Port=group.port, VpcId=self._vpc_id,
            HealthCheckPath=group.health_path,
            HealthCheckIntervalSeconds=max(5, min(300, int(group.interval))),
            HealthyThresholdCount=group.healthy_threshold,
            UnhealthyThresholdCount=group.unhealthy_threshold, TargetType="instance")
        arn = str(created["TargetGroups"][0]["TargetGroupArn"])
        elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[{
            "Key": "deregistration_delay.timeout_seconds",
            "Value": str(int(group.deregistration_delay))}])
        return arn

    def _seed_zones(self) -> None:
        for zone in self.estate.zones:
            if self.faults.has("split-horizon", zone.id):
                # The same name in the other view (a public zone beside the private one, or
                # the reverse), created first: a lookup by name alone finds it first. No
                # simulated resolver answers from it: the plan's resolvers see the plan's view.
                self._create_zone(zone, private=not zone.private, tag="twin")
            zone_id = self._create_zone(zone, private=zone.private, tag="plan")
            ledger = ChangeLedger(zone.name, self.speed, self._propagation_s())
            records = [r for r in self.estate.records if r.zone == zone.id]
            for r in records:
                ledger.seed(r.name, r.type, r.value, self._ttl_of(r))
            self._ledgers[zone_id] = ledger
            moto_hooks.LEDGERS[zone_id] = ledger

    def _propagation_s(self) -> float:
        """How long a Route 53 change stays PENDING: as `route53-slow` says, if told."""
        told = [float(s) for s in self.faults.args("route53-slow")]
        return max(told) if told else PROPAGATION_S

    def _create_zone(self, zone: HostedZone, *, private: bool, tag: str) -> str:
        """A hosted zone holding the plan's records for it; a private one is associated
        with the sim's VPC (Route 53 requires one)."""
        route53 = self.client("route53")
        vpc = {"VPC": {"VPCRegion": self.estate.region, "VPCId": self._vpc_id}} if private else {}
        created = route53.create_hosted_zone(
            Name=zone.name, CallerReference=f"sim-{zone.id}-{tag}",
            HostedZoneConfig={"Comment": f"simulated ({tag})", "PrivateZone": private}, **vpc)
        zone_id = str(created["HostedZone"]["Id"]).removeprefix("/hostedzone/")
        records = [r for r in self.estate.records if r.zone == zone.id]
        if records:
            route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
                "Changes": [{"Action": "CREATE", "ResourceRecordSet": {
                    "Name": r.name, "Type": r.type, "TTL": self._ttl_of(r),
                    "ResourceRecords": [{"Value": r.value}]}} for r in records]})
        return zone_id

    def _ttl_of(self, record: DnsRecord) -> int:
        """The TTL the record is served with: the plan's, or an hour if nobody lowered it."""
        return NOT_LOWERED_TTL if self.faults.has("ttl-not-lowered", record.id) else record.ttl

    # --- SQL Server ---------------------------------------------------------------------

    def _start_sql(self) -> None:
        self.sql = SimSqlEstate(
            self.estate, speed=self.speed, faults=self.faults, s3=self.client("s3"),
            throughput=self.throughput, sentinels=self.sentinels,
            s3_host=self._endpoint.split("://", 1)[1],
            apps=AppView(running_apps=self._running_aws_apps, resolve=self._published_value))
        self.sql.start()
        # Each endpoint also on a loopback port, for drivers in other processes.
        used = self.sql.engine.throughput  # as the faults left it (a slowed restore)
        size = used.database_bytes
        longest = max(used.backup_s(size), used.restore_s(size), used.seeding_s()) / self.speed
        for endpoint in self.estate.sql:
            wire = SqlWireServer(self.sql.servers[endpoint.id], longest_statement_s=longest)
            wire.start()
            self._sql_wire[endpoint.id] = wire

    def _running_aws_apps(self) -> list[str]:
        return [s.id for s in self._aws_servers() if self.instance_running(s.id)]

    # --- app servers, resolvers, health checks ----------------------------------------

    def _start_app_servers(self) -> None:
        for server in self.estate.app_servers:
            app = AppServerProcess(self._app_state(server.id, server.site), self._servers)
            app.start()
            self._apps[server.id] = app

    def _app_state(self, server: str, site: str) -> AppServerState:
        return AppServerState(
            server=server, site=site,
            is_running=lambda: self.instance_running(server),
            is_down=lambda: self.faults.has("app-down", server),
            hangs=lambda: self.faults.has("http-hang", server),
            database=self._database_status,
        )

    def _database_status(self) -> str:
        return self.sql.database_status() if self.sql is not None else "ok"

    def instance_running(self, server: str) -> bool:
        """Datacentre servers always run; an EC2 server runs when moto says so."""
        instance_id = self._instance_ids.get(server)
        if instance_id is None:
            return True
        instance = self._moto_instance(instance_id)
        return instance is not None and instance.state == "running"

    def _moto_instance(self, instance_id: str) -> Any:
        """moto's Instance, looked up once: starting or stopping it changes its state in
        place. moto's own lookup copies every reservation, and the SQL side's tick and the
        ALB's checker ask for every server many times a second: at 40 instances those
        copies were most of the sim's CPU, and they grow with the square of the estate."""
        instance = self._instances.get(instance_id)
        if instance is None:
            from moto.ec2.models import ec2_backends

            backend = ec2_backends[ACCOUNT_ID][self.estate.region]
            instance = backend.get_instance_by_id(instance_id)
            if instance is not None:
                self._instances[instance_id] = instance
        return instance

    def _start_resolvers(self) -> None:
        self._book = book = self._address_book()
        for resolver in self.estate.resolvers:
            caching = CachingResolver(self._lookup, self._holds, self.speed,
                                      stale=self._stale_check(resolver.id),
                                      weather=self._resolver_weather(resolver.id),
                                      addresses=book.get)
            server = ResolverServer(resolver.id, caching, self._servers)
            server.start()
            self._resolvers[resolver.id] = server
            for record in self.estate.records:  # users have been asking: caches are warm
                caching._answer(record.name.lower().rstrip(".") + ".", record.type)

    def _address_book(self) -> dict[str, list[str]]:
        """The names the sim serves outside its zones, each on a loopback address of its
        own: the ALBs (127.0.1.n), the AG listeners (127.0.2.n), the datacentre hosts the
        records name (127.0.3.n) and the SQL servers' host names (127.0.4.n)."""
        def dotted(name: str) -> str:
            return name.rstrip(".").lower() + "."

        balancers = self.client("elbv2").describe_load_balancers()["LoadBalancers"]
        groups: list[list[str]] = [
            [lb["DNSName"] for lb in balancers],
            [ag.listener for ag in self.estate.availability_groups],
            [r.value for r in self.estate.records
             if r.type == "CNAME" and not self._holds(dotted(r.value))],
            [e.server for e in self.estate.sql if e.server],
        ]
        book: dict[str, list[str]] = {}
        for block, names in enumerate(groups, start=1):
            for n, name in enumerate(dict.fromkeys(dotted(x) for x in names), start=1):
                book.setdefault(name, [f"127.0.{block}.{n}"])
        return book

    def _resolver_weather(self, resolver_id: str) -> ResolverWeather:
        latency = sum(float(ms) for ms in self.faults.args("dns-latency")) / 1000
        failure = next((name.removeprefix("dns-") for name in
                        ("dns-timeout", "dns-servfail", "dns-nxdomain")
                        if self.faults.has(name, resolver_id)), None)
        return ResolverWeather(latency_s=latency, failure=failure)

    def _stale_check(self, resolver_id: str) -> Callable[[], bool]:
        return lambda: self.faults.has("resolver-stale", resolver_id)

    def _lookup(self, name: str, rtype: str) -> RecordData | None:
        for ledger in self._ledgers.values():
            if ledger.holds(name):
                return ledger.lookup(name, rtype)
        return None

    def _published_value(self, name: str) -> str | None:
        """What a name answers now at the source (CNAME or A), before any resolver cache."""
        data = self._lookup(name, "CNAME") or self._lookup(name, "A")
        return data.value if data else None

    def _holds(self, name: str) -> bool:
        return any(ledger.holds(name) for ledger in self._ledgers.values())

    def _start_health_checks(self) -> None:
        by_instance = {iid: server for server, iid in self._instance_ids.items()}
        groups = []
        for group in self.estate.target_groups:
            health = GroupHealth(
                spec=group, arn=self._group_arns[group.id], speed=self.speed,
                health_url=lambda iid: self._url_of(by_instance.get(iid)),
                is_running=lambda iid: self.instance_running(by_instance.get(iid, "")),
            )
            for server in group.registered:  # in the group, and healthy, since the last window
                iid = self._instance_ids[server]
                health.targets[iid] = TargetHealth(iid, group.port, state="healthy",
                                                   passes=group.healthy_threshold)
            moto_hooks.GROUPS[health.arn] = health
            groups.append(health)
        self._checker = HealthChecker(groups, self._registered_targets)
        self._checker.start()

    def _url_of(self, server: str | None) -> str | None:
        """Where the ALB checks a target; None when it cannot reach it at all."""
        if server is None or self.faults.has("alb-blocked", server):
            return None
        app = self._apps.get(server)
        return app.url if app else None

    # --- the load balancers' listeners ------------------------------------------------------

    def _start_listeners(self) -> None:
        """Each ALB listener moto holds, on the ALB's loopback address; and the datacentre's
        load balancer, in front of its app servers, on the address of each name it answers
        for."""
        timeout = IDLE_TIMEOUT_S / self.speed
        fail = FailShare(sum(float(p) for p in self.faults.args("alb-5xx")))
        for address, port, group in self._alb_listeners():
            self._listeners.append(Listener(group.spec.load_balancer, address, port,
                                            self._alb_pool(group), timeout_s=timeout,
                                            fail=fail))
        for name in self._datacentre_fronts():
            self._listeners.append(Listener(name, self._book[name][0], 80, self._dc_pool,
                                            timeout_s=timeout, server_header="dc1-lb"))
        for listener in self._listeners:
            listener.start()

    def _alb_listeners(self) -> list[tuple[str, int, GroupHealth]]:
        """(the ALB's address, the listener's port, its target group's health) as moto
        holds each listener that forwards to a group the sim checks."""
        elbv2 = self.client("elbv2")
        groups = {g.arn: g for g in (self._checker.groups if self._checker else [])}
        found = []
        for lb in elbv2.describe_load_balancers()["LoadBalancers"]:
            address = self._book[lb["DNSName"].rstrip(".").lower() + "."][0]
            for listener in elbv2.describe_listeners(
                    LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
                arn = listener["DefaultActions"][0].get("TargetGroupArn")
                if arn in groups:
                    found.append((address, int(listener["Port"]), groups[arn]))
        return found

    def _alb_pool(self, group: GroupHealth) -> Pool:
        by_instance = {iid: server for server, iid in self._instance_ids.items()}

        def pool() -> list[Target]:
            servers = [by_instance.get(iid, iid) for iid in group.routable()]
            return [Target(s, self._target_address(s)) for s in servers]

        return pool

    def _target_address(self, server: str) -> tuple[str, int] | None:
        """Where the ALB reaches a target; None when its security group lets it nowhere."""
        app = self._apps.get(server)
        return None if app is None or self.faults.has("alb-blocked", server) else app.address

    def _datacentre_fronts(self) -> list[str]:
        """The datacentre names the web records point at (not a database's record): the
        datacentre's load balancer answers on each."""
        database_records = {db.record for db in self.estate.databases}
        names = [r.value.rstrip(".").lower() + "." for r in self.estate.records
                 if r.type == "CNAME" and r.id not in database_records]
        return [n for n in dict.fromkeys(names) if n in self._book and not self._holds(n)]

    def _dc_pool(self) -> list[Target]:
        return [Target(s.id, self._apps[s.id].address) for s in self.estate.app_servers
                if s.site == "datacentre" and self._apps[s.id].state.healthy()]

    def _registered_targets(self, arn: str) -> dict[str, Any]:
        from moto.elbv2.models import elbv2_backends

        group = elbv2_backends[ACCOUNT_ID][self.estate.region].target_groups.get(arn)
        return dict(group.targets) if group else {}


def start_sim(plan: Plan, speed: float, faults: Sequence[str],
              profile: dict[str, float] | None = None) -> SimEstate:
    """The plan's simulated estate, started, with the named faults (ValueError if one is
    unknown or names nothing in the plan) and the durations of `profile` (Throughput's)."""
    parsed = [parse_fault(text, plan.estate) for text in faults]
    sim = SimEstate(plan.estate, speed=speed, faults=parsed,
                    throughput=Throughput(**profile) if profile else None,
                    sentinels=sentinel_tables(plan))
    try:
        sim.start()
    except BaseException:  # a start cut short (a stop signal, a port taken): none half up
        sim.stop()
        raise
    return sim
