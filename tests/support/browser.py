"""`cockpit watch --web` served by a real process, and a real browser to look at it.

The browser is Debian's chromium driven headless through Debian's chromedriver (selenium
is told where both are, so it downloads nothing). textual-serve draws the terminal with
xterm.js on a canvas, which holds no text; the page is read from xterm's accessibility
tree instead (one element per terminal row, what a screen reader reads), switched on by a
script the browser runs before the page's own (`SCREEN_READER_ON`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from support.processes import running
from support.waiting import eventually

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

COCKPIT = Path(sys.executable).parent / "cockpit"
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
# CI sets it (.ci/run): there, a machine without the browser fails instead of skipping.
BROWSER_REQUIRED = os.environ.get("COCKPIT_REQUIRE_BROWSER", "") not in ("", "0")

# textual.js keeps its xterm Terminal to itself, but hands it to every addon it loads, and
# each addon stores it with `this._terminal = terminal`. A setter on Object.prototype sees
# that assignment (the first with the public API, `loadAddon`, is the Terminal), keeps the
# value where the addon expects it, and turns on screen reader mode before `open()`.
SCREEN_READER_ON = """
Object.defineProperty(Object.prototype, "_terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "_terminal",
                          {value, writable: true, configurable: true, enumerable: true});
    if (value && typeof value.loadAddon === "function" && !window.cockpitTerminal) {
      window.cockpitTerminal = value;
      value.options.screenReaderMode = true;
    }
  },
});
"""
READ_ROWS = """
return Array.from(document.querySelectorAll(".xterm-accessibility-tree > div"),
                  row => row.textContent).join("\\n");
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    """A `cockpit watch --web` process and what it printed so far."""

    process: subprocess.Popen[bytes]
    output: Path
    port: int

    def printed(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def watchers(self) -> list[int]:
        """The pids of the watcher processes it started and that still run, one per
        browser."""
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                               text=True, check=False)
        return [pid for pid in map(int, found.stdout.split()) if running(pid)]


@contextmanager
def served(session: Path, bind: str, output: Path) -> Iterator[Served]:
    """`cockpit watch SESSION --web --bind BIND`, its output in `output` (never in the
    session folder: the test looks there for the token). Stopped as Ctrl+C stops it, and
    the watchers it started must be gone with it."""
    port = int(bind.rpartition(":")[2])
    with output.open("wb") as out:
        process = subprocess.Popen([str(COCKPIT), "watch", str(session), "--web",
                                    "--bind", bind], stdout=out, stderr=subprocess.STDOUT)
    server = Served(process, output, port)
    try:
        eventually(server.printed, lambda text: "watch in a browser" in text, within=30,
                   what="the server says where to watch")
        yield server
    finally:
        watchers = server.watchers()
        process.terminate()
        try:
            process.wait(timeout=15)
        finally:
            process.kill()  # no-op when it ended; the test still fails on the wait above
            process.wait()
    eventually(lambda: [pid for pid in watchers if running(pid)], lambda alive: not alive,
               within=10, what="the server's watcher processes ended with it")


@contextmanager
def headless_chromium(downloads: Path, width: int = 1600,
                      height: int = 1000) -> Iterator[WebDriver]:
    """Chromium with the accessibility hook installed, saving downloads in `downloads`;
    quit (it and its driver) at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM and CHROMEDRIVER, (
        "COCKPIT_REQUIRE_BROWSER is set but chromium or chromedriver is missing: "
        "apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                               {"source": SCREEN_READER_ON})
        yield driver
    finally:
        service = driver.service.process
        driver.quit()
        assert service is None or service.poll() is not None, "chromedriver still running"


def page_text(driver: WebDriver) -> str:
    """The terminal's rows as the page shows them now."""
    text = driver.execute_script(READ_ROWS)
    return text if isinstance(text, str) else ""


def page_shows(driver: WebDriver, shown: Callable[[str], bool], *, within: float,
               what: str) -> str:
    """Poll the page (WebDriverWait) until `shown(text)`; the text, or fail with the last
    text seen."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.wait import WebDriverWait

    seen = [""]

    def look(browser: WebDriver) -> bool:
        seen[0] = page_text(browser)
        return shown(seen[0])

    try:
        WebDriverWait(driver, within, poll_frequency=0.05).until(look)
    except TimeoutException:
        raise AssertionError(f"{what}: not within {within:g}s; the page showed:\n"
                             f"{seen[0]}") from None
    return seen[0]
