"""`cockpit watch SESSION --web`: the watcher in a real browser, and the token at the door.

A driver's runner works the keys plan on the simulated estate in this process; a separate
`cockpit watch --web` process serves the session folder; headless chromium opens the page,
which starts one more process, the browser's own watcher. The page must show the window,
follow the driver, and change nothing whatever is typed into it. Off loopback, nothing is
served without the token, and the token is nowhere but in what the server printed.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from support.browser import (
    BROWSER_REQUIRED,
    CHROMIUM,
    free_port,
    headless_chromium,
    page_shows,
    page_text,
    served,
)
from support.estate import driver_source, keys_estate, open_runner
from support.waiting import eventually

from cockpit.plan.models import Plan
from cockpit.runner.runner import Runner

PANES = ("App servers", "ALB targets", "SQL availability group", "Backup and restore", "DNS")
RUNBOOK = ("instances-running", "spread-over-azs", "register-app-2", "gated-on-app-1")
# Every key the driver's screen acts on, and register-app-2's own key ("1").
TYPED = "rgusocmnp1"
# Export: in a browser the report is the browser's download, not a file in the session.
EXPORT = "e"

needs_browser = pytest.mark.skipif(
    CHROMIUM is None and not BROWSER_REQUIRED,
    reason="chromium is not installed (CI installs it and sets COCKPIT_REQUIRE_BROWSER=1)")


@pytest.fixture(scope="module")
def estate() -> Iterator[tuple[Plan, Any]]:
    with keys_estate() as (plan, handle):
        yield plan, handle


@pytest.fixture
def runner(estate: tuple[Plan, Any], tmp_path: Path) -> Iterator[Runner]:
    """A driver part-way through the window: two steps done, register-app-2 ready, and the
    App servers pane published to `state.json`."""
    plan, handle = estate
    runner = open_runner(plan, handle, tmp_path / "session")
    try:
        runner.run_step("instances-running")
        runner.run_step("spread-over-azs")
        driver_source(runner, handle).poll_pane("apps")
        yield runner
    finally:
        runner.close(wait_s=10)


def runbook_row(text: str, status: str, step: str) -> bool:
    """The runbook shows `step` with `status` (its key, if any, between)."""
    return re.search(rf"\b{status}\b[^│\n]*\b{re.escape(step)}\b", text) is not None


def shows_the_window(text: str) -> bool:
    return (all(title in text for title in PANES) and all(s in text for s in RUNBOOK)
            and runbook_row(text, "ready", "register-app-2"))


@needs_browser
def test_a_browser_follows_the_driver_and_its_keys_change_nothing(
        runner: Runner, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    log = runner.folder / "audit.jsonl"
    port = free_port()
    with (served(runner.folder, f"127.0.0.1:{port}", tmp_path / "served.out") as server,
          headless_chromium(tmp_path / "downloads") as browser):
        opened = time.monotonic()
        browser.get(f"http://localhost:{port}/")
        text = page_shows(browser, shows_the_window, within=30,
                          what="the runbook and the five panes")
        print(f"the page showed the window {time.monotonic() - opened:.1f}s after it opened")
        assert " WATCH " in text and "read-only" in text
        assert "503" in text  # the App servers pane as the driver published it
        assert len(server.watchers()) == 1, "one watcher process for the one browser"

        runner.run_step("register-app-2")  # returns once step.succeeded is in the log
        written = time.monotonic()
        page_shows(browser, lambda t: runbook_row(t, "done", "register-app-2"), within=3,
                   what="register-app-2 shown done after the driver wrote it")
        print(f"register-app-2 shown done {time.monotonic() - written:.2f}s after the log had it")

        before, files = log.read_bytes(), sorted(runner.folder.iterdir())
        keyboard = browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
        keyboard.send_keys(TYPED)
        # The keys reach the watcher (its help opens, then closes), and change nothing.
        keyboard.send_keys("?")
        page_shows(browser, lambda t: "Keys (watch mode)" in t, within=5,
                   what="the watcher's help, opened by a key typed in the page")
        keyboard.send_keys("?")
        page_shows(browser, lambda t: "Keys (watch mode)" not in t, within=5,
                   what="the watcher's help closed again")
        keyboard.send_keys(EXPORT)
        page_shows(browser, lambda t: "report sent to your browser" in t, within=10,
                   what="the export's notice")
        report = eventually(lambda: list((tmp_path / "downloads").glob("report-*.html")),
                            within=10, what="the report among the browser's downloads")
        assert "register-app-2" in report[0].read_text(encoding="utf-8")
        assert log.read_bytes() == before, "a key typed in the page changed the audit log"
        assert sorted(runner.folder.iterdir()) == files, "a key typed in the page wrote a file"
        assert runbook_row(page_text(browser), "ready", "gated-on-app-1")

        # q quits the page's watcher: its process ends, the session is left as it was.
        keyboard.send_keys("q")
        eventually(server.watchers, lambda pids: not pids, within=10,
                   what="the page's watcher process ended after q")
        assert log.read_bytes() == before


def test_off_loopback_nothing_is_served_without_the_token(
        runner: Runner, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with served(runner.folder, f"0.0.0.0:{port}", tmp_path / "served.out") as server:
        token = _printed_token(server.printed())
        with httpx.Client(base_url=base) as stranger:
            for path in ("/", "/static/js/textual.js", "/ws", "/?token=not-the-token"):
                refused = stranger.get(path)
                assert refused.status_code == 403, (path, refused.status_code)
                assert token not in refused.text
        assert asyncio.run(_websocket_refused(f"{base}/ws", cookies={}))

        with httpx.Client(base_url=base, follow_redirects=True) as holder:
            page = holder.get(f"/?token={token}")
            assert page.status_code == 200
            assert "token" not in str(page.url), "the token stays in the address bar"
            assert token not in page.text
            assert holder.get("/static/js/textual.js").status_code == 200
            cookies = dict(holder.cookies)
        screen = asyncio.run(_watcher_output(f"{base}/ws", cookies=cookies))
        assert screen, "a websocket with the cookie got no watcher"

    assert server.printed().count(token) == 1, "the token is printed once, at the start"
    for path in (p for p in tmp_path.rglob("*") if p.is_file() and p != server.output):
        assert token.encode() not in path.read_bytes(), f"the token is in {path}"


def test_on_loopback_only_this_hosts_own_page_starts_a_watcher(
        runner: Runner, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with served(runner.folder, f"127.0.0.1:{port}", tmp_path / "served.out") as server:
        printed = server.printed()
        assert f"ssh -N -L {port}:127.0.0.1:{port} " in printed and "token" not in printed
        with httpx.Client(base_url=base) as client:
            assert client.get("/").status_code == 200
            # Through `ssh -L 9000:127.0.0.1:PORT` the browser asks for localhost:9000, and
            # the page must send its websocket there, not to the bound port.
            tunnelled = client.get("/", headers={"Host": "localhost:9000"})
            assert tunnelled.status_code == 200
            assert 'data-session-websocket-url="ws://localhost:9000/ws"' in tunnelled.text
            # A site whose name its owner pointed at 127.0.0.1 (DNS rebinding).
            rebound = client.get("/", headers={"Host": f"rebound.example:{port}"})
            assert rebound.status_code == 403
        assert asyncio.run(_websocket_refused(f"{base}/ws", cookies={},
                                              origin="http://elsewhere.example"))


def _printed_token(printed: str) -> str:
    found = re.search(r"\?token=([A-Za-z0-9_-]+)", printed)
    assert found, f"no token in what the server printed:\n{printed}"
    return found.group(1)


async def _websocket_refused(url: str, cookies: dict[str, str],
                             origin: str | None = None) -> bool:
    async with aiohttp.ClientSession(cookies=cookies) as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url, origin=origin)
        return refused.value.status == 403


async def _watcher_output(url: str, cookies: dict[str, str]) -> bytes:
    """The first bytes the watcher started for this socket sends (its screen)."""
    async with (aiohttp.ClientSession(cookies=cookies) as session,
                session.ws_connect(f"{url}?width=120&height=40") as socket):
        message = await socket.receive(timeout=30)
        while message.type is aiohttp.WSMsgType.TEXT:  # pongs and such before the screen
            message = await socket.receive(timeout=30)
        assert message.type is aiohttp.WSMsgType.BINARY, message
        data: bytes = message.data
        return data
