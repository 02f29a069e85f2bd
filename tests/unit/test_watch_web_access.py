"""Who may watch from a browser: the bind address, what counts as loopback, the pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.ui.web.access import Bind, WatchPass, is_loopback


@pytest.mark.parametrize(("text", "host", "port", "loopback"), [
    ("127.0.0.1:8023", "127.0.0.1", 8023, True),
    ("localhost:80", "localhost", 80, True),
    ("[::1]:9000", "::1", 9000, True),
    ("127.8.0.1:1", "127.8.0.1", 1, True),
    ("0.0.0.0:8023", "0.0.0.0", 8023, False),
    ("[::]:8023", "::", 8023, False),
    ("10.2.0.7:65535", "10.2.0.7", 65535, False),
    ("jump.example.net:8023", "jump.example.net", 8023, False),
])
def test_a_bind_address_and_whether_it_asks_for_the_token(
        text: str, host: str, port: int, loopback: bool) -> None:
    bind = Bind.parse(text)
    assert (bind.host, bind.port, bind.loopback) == (host, port, loopback)
    assert str(bind) == text


@pytest.mark.parametrize("text", ["8023", ":8023", "localhost:", "localhost:0",
                                  "localhost:65536", "localhost:http", "localhost:-1"])
def test_a_bind_that_is_not_host_and_port_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not HOST:PORT"):
        Bind.parse(text)


def test_a_name_that_merely_starts_like_loopback_is_not() -> None:
    assert not is_loopback("localhost.evil.example")
    assert not is_loopback("127.0.0.1.nip.io")


def test_the_pass_admits_its_token_only_and_never_shows_it() -> None:
    first, second = WatchPass.issue(8023), WatchPass.issue(8023)
    assert first.token != second.token and len(first.token) >= 40
    assert first.admits(first.token)
    assert not first.admits(second.token)
    assert not first.admits(None) and not first.admits("")
    assert first.token not in repr(first)
    assert first.cookie != WatchPass.issue(8024).cookie  # two servers on one host


async def test_a_browser_past_the_cap_gets_no_watcher(tmp_path: Path) -> None:
    """Each watcher is a process: past the cap the websocket is refused (503) before any
    process starts. The command would leave a mark if it ever ran."""
    from aiohttp import WSServerHandshakeError
    from aiohttp.test_utils import TestClient, TestServer

    from cockpit.ui.web.gallery import Gallery

    ran = tmp_path / "a watcher ran"
    gallery = Gallery(f"touch '{ran}'", Bind.parse("127.0.0.1:8023"), watch_pass=None,
                      title="capped", max_watchers=0)
    async with TestClient(TestServer(await gallery._make_app())) as client:
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws")
    assert refused.value.status == 503
    assert not ran.exists()
