"""The observers' gallery: the read-only watcher served to browsers by textual-serve.

Each browser that connects gets a process of its own running `cockpit watch SESSION`, which
reads the session folder and registers no action that changes anything: a key typed in the
page reaches a watcher, never the driver. What is added to textual-serve's server: the
pass check (`access`), page addresses taken from the request (so a tunnel's local port
works), no access log (it would hold the token), a cap on watchers (each is a process), and
every watcher ended when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Middleware
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from cockpit.ui.web.access import Bind, WatchPass, pass_required, this_site_only

# A watcher is a Python process of ~100 MB: a generous bridge call, not a crowd.
MAX_WATCHERS = 32
# How long a watcher has to quit when asked before it is killed.
QUIT_WAIT_S = 5.0

log = logging.getLogger("cockpit.gallery")


class Gallery(Server):
    """Serves `command` (a read-only watcher) to every browser that holds the pass."""

    def __init__(self, command: str, bind: Bind, *, watch_pass: WatchPass | None,
                 title: str, max_watchers: int = MAX_WATCHERS) -> None:
        super().__init__(command, host=bind.host, port=bind.port, title=title)
        self.bind, self.watch_pass, self.max_watchers = bind, watch_pass, max_watchers
        self._watchers: dict[AppService, web.WebSocketResponse] = {}

    def middlewares(self) -> list[Middleware]:
        checks = [this_site_only(self.bind.loopback)]
        if self.watch_pass is not None:
            checks.insert(0, pass_required(self.watch_pass))
        return checks

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=self.middlewares())
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.static("/static", self.statics_path, name="static"),
        ])
        app.on_shutdown.append(self._end_watchers)
        return app

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """textual-serve's page, with addresses from the request rather than the bind
        address: through `ssh -L 9000:127.0.0.1:8023` the browser is on localhost:9000."""
        here = f"{request.scheme}://{request.host}"
        websocket = ("wss" if request.secure else "ws") + f"://{request.host}/ws"
        context: dict[str, Any] = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": websocket,
            "config": {"static": {"url": f"{here}/static/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One watcher process for as long as the browser stays connected."""
        if len(self._watchers) >= self.max_watchers:
            raise web.HTTPServiceUnavailable(
                text=f"{self.max_watchers} watchers already: try again later\n")
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)

        async def close() -> None:  # the watcher quit (q): the page says the session ended
            await websocket.close()

        watcher = AppService(self.command, write_bytes=websocket.send_bytes,
                             write_str=websocket.send_str, close=close,
                             download_manager=self.download_manager)
        self._watchers[watcher] = websocket
        try:
            await watcher.start(to_int(request.query.get("width", "80"), 80),
                                to_int(request.query.get("height", "24"), 24))
            await self._process_messages(websocket, watcher)
        finally:
            del self._watchers[watcher]
            await _end(watcher)
        return websocket

    async def _end_watchers(self, app: web.Application) -> None:
        """Closing a browser's socket ends its message loop, which ends its watcher."""
        for websocket in list(self._watchers.values()):
            await websocket.close(message=b"the server is stopping")

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints its logo and the bind address here; the CLI says where
        to connect instead, once the port is bound."""

    async def run(self, ready: Callable[[], None]) -> None:
        """Serve until SIGINT, SIGTERM or SIGHUP (the SSH session that started it ended)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, stop.set)
        runner = web.AppRunner(await self._make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.bind.host, self.bind.port,
                              shutdown_timeout=QUIT_WAIT_S).start()
            ready()
            await stop.wait()
        finally:
            await runner.cleanup()


async def _end(watcher: AppService) -> None:
    """Ask the watcher to quit; kill it if it has not within QUIT_WAIT_S."""
    try:
        await asyncio.wait_for(watcher.stop(), QUIT_WAIT_S)
    except TimeoutError:
        process = watcher._process  # textual-serve keeps no public handle on it
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
