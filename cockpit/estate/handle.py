"""One handle on the outside world: boto3 clients made once, and where each thing lives.

A handle is opened read-write (the driver) or read-only (checks, watchers that probe).
Read-only is enforced twice: write functions call `require_write`, and a botocore
`before-call` hook refuses every AWS operation that is not Describe/List/Get/Head, so
even a write function that forgot its check cannot change the estate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from cockpit.plan.models import Estate

if TYPE_CHECKING:
    import boto3

READ_PREFIXES = ("Describe", "List", "Get", "Head")
T = TypeVar("T")


class ReadOnlyError(PermissionError):
    """A write was attempted through a read-only estate handle."""


@dataclass(frozen=True)
class Endpoints:
    """Where the estate answers. Empty for a real estate; a rehearsal estate on loopback
    fills it in.

    `health_urls` and `resolvers` override the plan's addresses per id. `http_listeners`
    maps an address and port a URL reaches (`127.0.1.1:80`) to where it really answers: a
    rehearsal estate's load balancers cannot bind port 80 without root. `sql_connect`
    overrides how a SQL endpoint is reached (a DB-API connection factory per endpoint
    id), else pyodbc with the DSN from the plan's environment variable. `sql_disk_root` is
    where paths of BACKUP TO DISK are found from here. `label` names where the estate is
    in place of an AWS profile; `credentials_are_secret` is False only for placeholder
    keys that hide nothing (redacting them would blank every "testing" in the log).
    """

    aws_endpoint_url: str | None = None
    aws_profile: str | None = None
    aws_credentials: dict[str, str] | None = None
    health_urls: dict[str, str] = field(default_factory=dict)
    resolvers: dict[str, tuple[str, int]] = field(default_factory=dict)
    http_listeners: dict[str, tuple[str, int]] = field(default_factory=dict)
    sql_connect: dict[str, Callable[[], Any]] = field(default_factory=dict)
    sql_disk_root: str | None = None
    label: str | None = None
    credentials_are_secret: bool = True
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    max_attempts: int = 3


class EstateHandle:
    """The estate of one plan, reachable through one set of clients."""

    def __init__(self, estate: Estate, endpoints: Endpoints, *, read_only: bool) -> None:
        self.estate = estate
        self.endpoints = endpoints
        self.read_only = read_only
        self._session: boto3.Session | None = None
        self._clients: dict[str, Any] = {}
        self._facts: dict[str, Any] = {}
        self._fetching: dict[str, threading.Lock] = {}  # one fetch of a fact at a time
        self._lock = threading.Lock()
        # Retries botocore made (throttling, 5xx) per service: the panes show them.
        self.retries: dict[str, int] = {}

    def remembered(self, key: str, fetch: Callable[[], T]) -> T:
        """Facts that do not change in a window (ARNs, instance ids), fetched once. Callers
        asking at once wait for the one fetch under way and take its answer: forty target
        groups polled together once asked DescribeInstances forty times, and at 600
        instances those calls alone outlasted the client's read timeout (which made the
        next poll ask forty times again). A fetch that raises leaves the next caller to
        try."""
        with self._lock:
            if key in self._facts:
                return cast(T, self._facts[key])
            gate = self._fetching.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._facts:
                    return cast(T, self._facts[key])
            value = fetch()
            with self._lock:
                self._facts[key] = value
            return value

    def forget(self, key: str) -> None:
        with self._lock:
            self._facts.pop(key, None)

    def require_write(self, operation: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{operation} refused: this estate handle is read-only")

    def client(self, service: str) -> Any:
        """A boto3 client, made once per service and shared (clients are thread-safe)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._make_client(service)
            return self._clients[service]

    def client_at(self, service: str, endpoint_url: str) -> Any:
        """A client of the estate's AWS session at another endpoint (made each call:
        callers keep it), e.g. a mirror bucket kept apart from the estate."""
        return self._make_client(service, endpoint_url)

    def _make_client(self, service: str, endpoint_url: str | None = None) -> Any:
        from botocore.config import Config

        config = Config(
            region_name=self.estate.region,
            connect_timeout=self.endpoints.connect_timeout,
            read_timeout=self.endpoints.read_timeout,
            retries={"max_attempts": self.endpoints.max_attempts, "mode": "standard"},
            max_pool_connections=32,
        )
        session: Any = self._boto_session()
        client = session.client(
            service, config=config, endpoint_url=endpoint_url or self.endpoints.aws_endpoint_url
        )
        if self.read_only:
            client.meta.events.register("before-call.*.*", _refuse_writes)
        client.meta.events.register("after-call.*.*", self._count_retries)
        return client

    def _count_retries(self, parsed: Any = None, event_name: str = "", **_: Any) -> None:
        attempts = (parsed or {}).get("ResponseMetadata", {}).get("RetryAttempts", 0)
        if attempts:
            service = event_name.split(".")[1] if event_name.count(".") >= 2 else "aws"
            service = _SHORT_SERVICE.get(service, service)
            with self._lock:
                self.retries[service] = self.retries.get(service, 0) + int(attempts)

    def _boto_session(self) -> boto3.Session:
        import boto3

        from cockpit.estate.service_models import botocore_session

        if self._session is None:
            creds = self.endpoints.aws_credentials or {}
            profile = None if creds else (self.endpoints.aws_profile or self.estate.aws_profile)
            self._session = boto3.Session(
                aws_access_key_id=creds.get("aws_access_key_id"),
                aws_secret_access_key=creds.get("aws_secret_access_key"),
                aws_session_token=creds.get("aws_session_token"),
                profile_name=profile,
                region_name=self.estate.region,
                botocore_session=botocore_session(),
            )
        return self._session

    @property
    def profile_label(self) -> str:
        if self.endpoints.label:
            return self.endpoints.label
        return self.endpoints.aws_profile or self.estate.aws_profile or "default chain"

    def health_url(self, server_id: str) -> str:
        if server_id in self.endpoints.health_urls:
            return self.endpoints.health_urls[server_id]
        return next(s.health_url for s in self.estate.app_servers if s.id == server_id)

    def resolver_address(self, resolver_id: str) -> tuple[str, int]:
        if resolver_id in self.endpoints.resolvers:
            return self.endpoints.resolvers[resolver_id]
        resolver = next(r for r in self.estate.resolvers if r.id == resolver_id)
        return resolver.address, resolver.port

    def http_address(self, address: str, port: int) -> tuple[str, int]:
        """Where a request to `address`:`port` is sent: there, on a real estate."""
        return self.endpoints.http_listeners.get(f"{address}:{port}", (address, port))

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


# botocore's event names use service ids; the engineer knows the short names.
_SHORT_SERVICE = {"elastic-load-balancing-v2": "elbv2", "route-53": "route53"}


def _refuse_writes(model: Any, **_: Any) -> None:
    name = str(model.name)
    if not name.startswith(READ_PREFIXES):
        raise ReadOnlyError(f"{name} refused: this estate handle is read-only")
