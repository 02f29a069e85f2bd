"""How a pane's poll reaches the estate from an event loop: waits in parallel, not in threads.

HTTP health checks go out on one kept connection a server, read by h11 (`health_wire`;
what it cannot read is asked again on one pooled `httpx.AsyncClient`), and each
resolver's DNS questions on one socket, read with dnspython (`dns_socket`), up to
QUESTIONS_AT_ONCE of them in flight at once. boto3 and pyodbc have no async API: their
calls run in one bounded pool of threads, so a 100x estate cannot start hundreds of
threads, and an identical call already in flight is joined rather than made again, so
panes polled at the same moment never repeat a call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import httpx

from cockpit.estate import dns, http
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import AppHealthSnapshot, DnsSnapshot

T = TypeVar("T")

# Calls to AWS and SQL at once. boto3's connection pool holds 32 per client; 16 leaves room
# for the runner's own calls, and 40 target groups (100x) still take three rounds, not forty.
BLOCKING_CALLS_AT_ONCE = 16
# Health checks and DNS questions in flight at once, on the poller's one interpreter. Each
# costs about a millisecond of its CPU to send and read; sent all at once (1,500 questions
# and 600 checks at 100x), the last were read seconds after their answers came, so they
# timed out or measured this process's queue. A 10x refresh (90 questions, 60 checks)
# still goes out in one wave.
QUESTIONS_AT_ONCE = 128


class EstateCalls:
    """The estate as one event loop sees it; made and used on that loop only."""

    def __init__(self, handle: EstateHandle, pool: ThreadPoolExecutor,
                 client: httpx.AsyncClient) -> None:
        self.handle = handle
        self._pool = pool
        self._client = client
        self._wire = http.health_wire()
        self._in_flight: dict[Hashable, asyncio.Future[Any]] = {}
        self._questions = asyncio.Semaphore(QUESTIONS_AT_ONCE)

    @classmethod
    @asynccontextmanager
    async def opened(cls, handle: EstateHandle) -> AsyncIterator[EstateCalls]:
        """Calls with a pool and a client of their own, closed at the end (one-off polls)."""
        pool = ThreadPoolExecutor(BLOCKING_CALLS_AT_ONCE, thread_name_prefix="estate-call")
        calls = cls(handle, pool, http.async_client())
        try:
            yield calls
        finally:
            try:
                await calls.aclose()
            finally:
                pool.shutdown(wait=False, cancel_futures=True)

    async def blocking(self, key: tuple[Hashable, ...], call: Callable[..., T],
                       *args: Any) -> T:
        """`call(handle, *args)` in the pool; while one with the same key is in flight, its
        answer is shared instead."""
        running = self._in_flight.get(key)
        if running is None:
            loop = asyncio.get_running_loop()
            running = loop.run_in_executor(self._pool, call, self.handle, *args)
            self._in_flight[key] = running
            running.add_done_callback(lambda _: self._in_flight.pop(key, None))
        return cast(T, await asyncio.shield(running))

    async def health(self, servers: list[str]) -> AppHealthSnapshot:
        return await http.check_health_async(self._client, self.handle, servers,
                                             self._questions, self._wire)

    async def resolve(self, records: list[str],
                      resolvers: list[str] | None = None) -> DnsSnapshot:
        return await dns.resolve_async(self.handle, records, resolvers, self._questions)

    async def aclose(self) -> None:
        self._wire.close()
        await self._client.aclose()
