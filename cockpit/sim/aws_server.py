"""moto's AWS on loopback, behind the weather a window really meets.

The sim serves moto's WSGI app itself (as ThreadedMotoServer does) so that it can put a
middleware in front: added latency on every call, a share of calls throttled or answered
503 (botocore retries both with backoff, as against AWS), a service that stops answering,
and credentials that expire mid-window. The sim's own calls (seeding, its simulated SQL
Server's uploads) carry a user-agent mark and pass untouched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

SIM_AGENT_MARK = "cockpit-sim-internal"
SHUTDOWN_POLL_S = 0.1

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class AwsWeather:
    """What the estate's AWS is like today. Times are real seconds (already scaled)."""

    latency_s: float = 0.0
    throttle_percent: float = 0.0
    error_percent: float = 0.0
    hung_services: set[str] = field(default_factory=set)
    hang_s: float = 30.0
    credentials_expire_at: float | None = None
    account: str | None = None  # the account the driver's calls land in (moto's header)
    _calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def calm(self) -> bool:
        return not (self.latency_s or self.throttle_percent or self.error_percent
                    or self.hung_services or self.credentials_expire_at)

    def next_call(self) -> int:
        with self._lock:
            self._calls += 1
            return self._calls


def every(percent: float) -> int:
    """Deterministic share: 25% means every 4th call."""
    return max(1, round(100 / percent)) if percent > 0 else 0


class WeatherMiddleware:
    def __init__(self, app: WsgiApp, weather: AwsWeather) -> None:
        self.app = app
        self.weather = weather

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if SIM_AGENT_MARK in environ.get("HTTP_USER_AGENT", ""):
            return self.app(environ, start_response)
        if self.weather.account is not None:
            # moto keeps each account's resources apart and reads this header per request:
            # the driver lands in an account that holds none of the estate, as with a
            # profile left pointing elsewhere.
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.weather.account
        if self.weather.calm():
            return self.app(environ, start_response)
        service = _service_of(environ)
        weather = self.weather
        if service in weather.hung_services:
            time.sleep(weather.hang_s)  # longer than the client's read timeout
        if weather.latency_s:
            time.sleep(weather.latency_s)
        failure = self._failure(service, weather.next_call())
        if failure is not None:
            return _error(start_response, service, *failure)
        return self.app(environ, start_response)

    def _failure(self, service: str, call: int) -> tuple[int, str, str] | None:
        weather = self.weather
        expires = weather.credentials_expire_at
        if expires is not None and time.monotonic() >= expires:
            return 400, "ExpiredToken", "The security token included in the request is expired"
        throttle, errors = every(weather.throttle_percent), every(weather.error_percent)
        if throttle and call % throttle == 0:
            code = "RequestLimitExceeded" if service == "ec2" else "Throttling"
            return 400, code, "Rate exceeded"
        if errors and call % errors == 1 % errors:  # offset from the throttled calls
            return 503, "ServiceUnavailable", "Service is unavailable, try again"
        return None


def _service_of(environ: dict[str, Any]) -> str:
    """The service from the SigV4 credential scope: `Credential=AK/date/region/ec2/aws4_request`."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    scope = auth.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    return scope[3] if len(scope) > 3 else "unknown"


def _error(start_response: StartResponse, service: str, status: int, code: str,
           message: str) -> list[bytes]:
    # EC2 answers errors in its own envelope; the query and rest-xml services share one.
    if service == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
                "</Error></Errors><RequestID>sim</RequestID></Response>")
    else:
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>sim</RequestId></ErrorResponse>")
    payload = body.encode()
    reason = {400: "Bad Request", 503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "text/xml"),
                                          ("Content-Length", str(len(payload)))])
    return [payload]


class AwsServer:
    """moto's app on 127.0.0.1 (an ephemeral port), with the weather in front."""

    def __init__(self, weather: AwsWeather) -> None:
        self.weather = weather
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = WeatherMiddleware(DomainDispatcherApplication(create_backend_app), self.weather)
        self._server = make_server("127.0.0.1", 0, app, threaded=True,
                                   request_handler=MotoRequestHandler)
        # A stop waits for serve_forever to look again (0.5 s by default): one thread
        # waking ten times a second costs nothing, and an estate stops that much sooner.
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="sim-aws", kwargs={"poll_interval": SHUTDOWN_POLL_S})
        self._thread.start()

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:  # shutdown() of one never served would wait forever
                self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
