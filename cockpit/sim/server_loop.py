"""One event loop for the sim's many small loopback servers: every app server, every resolver.

socketserver gives each server a thread, and each connection or datagram another. At the
hundred-times estate (600 app servers, each with the driver's and the ALB checker's
keep-alive connections, and a thread per DNS question sleeping out its latency) that was
some 1,800 threads taking turns at one interpreter lock, and moto's own server, behind
them, stopped accepting connections in time. Here they all wait on one thread's selector.

The servers bind their sockets when they are built (so their addresses are known at
once) and serve from `start`; what they do per request is quick and never blocks, but
for the waits the estate asks for (a hanging server, a slow resolver), which are
`asyncio.sleep`s.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

STOP_WAIT_S = 5.0


class ServerLoop:
    """The loop's thread, started on first use; `stop` ends whatever still runs on it."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="sim-servers")
        self._lock = threading.Lock()
        self._stopped = False
        self._running: set[asyncio.Task[Any]] = set()  # held: the loop keeps weak refs

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """`work` on the loop, from any other thread; its result."""
        with self._lock:
            if self._stopped:
                work.close()
                raise RuntimeError("the sim's server loop has stopped")
            if self._thread.ident is None:
                self._thread.start()
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(STOP_WAIT_S * 2)

    def call(self, callback: Callable[[], object]) -> None:
        """`callback` on the loop's thread, soon; from any thread."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """On the loop's thread: a task that is kept until it ends (a reply being made)."""
        task = self._loop.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    def stop(self) -> None:
        """Every task still waiting (a hung request, a slow answer) is cancelled and the
        thread ends. A loop that never started has nothing to wait for."""
        with self._lock:
            self._stopped, started = True, self._thread.ident is not None
        if started:
            asyncio.run_coroutine_threadsafe(_cancel_all(), self._loop).result(STOP_WAIT_S)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_WAIT_S)
        if not self._loop.is_running():
            self._loop.close()


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
