"""One asyncio poller per driven session: every pane's calls wait in parallel, on one loop.

The poller owns a thread running an event loop, the pool its boto3 and pyodbc calls run
in, and the one `httpx.AsyncClient` its health checks share. Each pane is polled on a
fixed cadence from the *start* of its last poll (a slow poll does not stretch the period),
faster while a running step waits on that pane; polls of one pane never overlap. Each
view is built here, off the screen's thread, and handed to `on_view`, which must be
quick (it runs on the poller's loop). What is blocking to do with a view (writing
`state.json`) goes through `persist`, in the pool, coalesced: views that arrive while a
write is under way are written together by the next one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from cockpit.estate import http
from cockpit.estate.handle import EstateHandle
from cockpit.plan.models import Plan
from cockpit.runner.calls import BLOCKING_CALLS_AT_ONCE, EstateCalls
from cockpit.runner.panes import PANES, PaneView, gather_pane
from cockpit.runner.state import RunState

T = TypeVar("T")

# How often a pane waiting for its next poll asks again how soon that is: a step that
# starts waiting on it speeds it up within this, not after the slow interval.
RECHECK_S = 0.1

# Every pane's interval now (None: paused), asked before each poll and while waiting.
Cadence = Callable[[str], float | None]


class PanePoller:
    """Polls the estate's panes for one session; `close` ends it (idempotent)."""

    def __init__(self, handle: EstateHandle, plan: Plan, run_state: Callable[[], RunState],
                 on_view: Callable[[PaneView], PaneView],
                 persist: Callable[[], None]) -> None:
        self.handle, self.plan = handle, plan
        self._run_state, self._on_view, self._persist = run_state, on_view, persist
        self.took_s: dict[str, float] = {}  # each pane's last poll, start to view built
        self.polled: dict[str, int] = dict.fromkeys(PANES, 0)
        self.write_problem: str | None = None  # why state.json was last not written
        self._pool = ThreadPoolExecutor(BLOCKING_CALLS_AT_ONCE, thread_name_prefix="estate")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pane-poller",
                                        daemon=True)
        self._calls: EstateCalls | None = None
        self._pane_locks: dict[str, asyncio.Lock] = {}
        self._cycles: list[asyncio.Task[None]] = []
        self._written, self._wanted = 0, 0
        self._write_lock: asyncio.Lock | None = None
        self._closed = False
        self._thread.start()

    @property
    def polls(self) -> int:
        return sum(self.polled.values())

    # --- from any thread but the poller's ------------------------------------------------

    def poll(self, panes: Iterable[str]) -> dict[str, PaneView]:
        """Poll these panes now, all at once; blocks until each is built and written."""
        return self._call(self._poll_now(list(panes)))

    def follow(self, cadence: Cadence) -> None:
        """From now on poll every pane on its own cadence (first polls at once)."""
        self._call(self._follow(cadence))

    def unfollow(self) -> None:
        """Stop polling on a cadence (the screen that asked has gone); `poll` still works
        and `follow` starts again. Does not wait: a poll under way ends on its own."""
        if not self._closed and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._unfollow)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=5)
            except (TimeoutError, RuntimeError):
                pass  # a wedged call must not hold the cockpit open
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        # A boto3 call still in flight ends by its own timeout; nobody waits for it.
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            work.close()
            raise RuntimeError("the pane poller is closed")
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    # --- on the poller's loop ------------------------------------------------------------

    async def _estate(self) -> EstateCalls:
        if self._calls is None:
            self._calls = EstateCalls(self.handle, self._pool, http.async_client())
        return self._calls

    async def _poll_now(self, panes: list[str]) -> dict[str, PaneView]:
        views = await asyncio.gather(*(self._poll_one(p) for p in panes))
        await self._write()
        return dict(zip(panes, views, strict=True))

    async def _poll_one(self, pane: str) -> PaneView:
        """One poll of one pane, never two at once of the same pane."""
        lock = self._pane_locks.setdefault(pane, asyncio.Lock())
        async with lock:
            started = time.perf_counter()
            calls = await self._estate()
            view = await gather_pane(pane, calls, self.plan, self._run_state())
            self.took_s[pane] = time.perf_counter() - started
            self.polled[pane] = self.polled.get(pane, 0) + 1
            self._wanted += 1
            return self._on_view(view)

    async def _follow(self, cadence: Cadence) -> None:
        if not self._cycles:
            self._cycles = [asyncio.create_task(self._cycle(p, cadence), name=f"poll {p}")
                            for p in PANES]

    def _unfollow(self) -> None:
        cycles, self._cycles = self._cycles, []
        for task in cycles:
            task.cancel()

    async def _cycle(self, pane: str, cadence: Cadence) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            if interval_now(cadence, pane) is not None:
                await _never_raises(self._poll_one(pane))
                await self._write()
            await until_due(pane, started, cadence)
            await asyncio.sleep(0)  # a pane overdue at once still lets the others run

    async def _write(self) -> None:
        """Write `state.json` once for every view built so far; a write under way is waited
        for, and one write then covers every view that arrived meanwhile. A failed write
        is kept in `write_problem` (the panes go on) until one succeeds."""
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        wanted = self._wanted
        async with self._write_lock:
            if self._written >= wanted:
                return
            wanted = self._wanted
            try:
                await asyncio.get_running_loop().run_in_executor(self._pool, self._persist)
            except OSError as exc:
                self.write_problem = f"{type(exc).__name__}: {exc}"
                return
            self.write_problem = None
            self._written = wanted

    async def _stop(self) -> None:
        for task in self._cycles:
            task.cancel()
        await asyncio.gather(*self._cycles, return_exceptions=True)
        if self._calls is not None:
            await self._calls.aclose()


async def until_due(pane: str, started: float, cadence: Cadence) -> None:
    """Sleep until `started` + the pane's interval, asking again every RECHECK_S: the
    interval may shorten (a step now waits on it) or polling may pause. While paused the
    pane asks again every RECHECK_S, never at once: its last poll may be long past, and a
    loop that only yields would keep the whole process busy (the screen's thread
    included) for as long as polling stays paused or the screen is gone."""
    loop = asyncio.get_running_loop()
    while True:
        every = interval_now(cadence, pane)
        if every is None:
            await asyncio.sleep(RECHECK_S)
            continue
        left = started + every - loop.time()
        if left <= 0:
            return
        await asyncio.sleep(min(left, RECHECK_S))


def interval_now(cadence: Cadence, pane: str) -> float | None:
    """The pane's interval now; a cadence that fails is asked again shortly (as if
    paused), never allowed to end the pane's polling."""
    try:
        return cadence(pane)
    except Exception:  # asked again within RECHECK_S
        return None


async def _never_raises(work: Awaitable[object]) -> None:
    """A cycle outlives any one poll: a bug in one pane's poll must not stop its polling
    (the pane's view says what failed; see `gather_pane`)."""
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception:  # the next cycle tries again
        pass
