"""Planted secrets never reach the record: not the audit log, state.json, the exports or
the screen; and a session's files are readable by their owner only."""

from __future__ import annotations

import dataclasses
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.estate import driver_session
from support.plans import PHASE_ONE
from support.ui import screen_text
from support.waiting import wait_for

from cockpit.audit.export import export_log
from cockpit.estate.handle import EstateHandle
from cockpit.plan.loader import load_plan
from cockpit.session.driver import DriverSession
from cockpit.session.rehearsal import rehearse
from cockpit.sim.estate import SimEstate
from cockpit.ui.app import make_driver_app

DSN_PASSWORD = "Winter-Sale-2026!"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
AWS_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKENvYXBzb3V0aGVhc3QtMiJHMEUCIQ"
PLANTED = (DSN_PASSWORD, AWS_SECRET, AWS_TOKEN)


@pytest.fixture
def planted_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[
        tuple[DriverSession, EstateHandle]]:
    """A phase-one session whose DSN and AWS credentials hold the planted secrets."""
    monkeypatch.setenv("OMS_DC_DSN", "DRIVER={ODBC Driver 18 for SQL Server};SERVER=sql-dc1;"
                                     f"UID=cutover;PWD={{{DSN_PASSWORD}}};Encrypt=yes")
    plan = load_plan(PHASE_ONE)
    with SimEstate(plan.estate, speed=50) as sim:
        # moto takes any keys: the session runs on the planted ones, as on a real jump host.
        endpoints = dataclasses.replace(sim.endpoints(), credentials_are_secret=True,
                                        label=None, aws_credentials={
            "aws_access_key_id": "ASIAEXAMPLEPLANTED01", "aws_secret_access_key": AWS_SECRET,
            "aws_session_token": AWS_TOKEN})
        handle = EstateHandle(plan.estate, endpoints, read_only=False)
        session = driver_session(PHASE_ONE, handle, tmp_path / "session", time_scale=50,
                                 confirm_manual=lambda _instruction: "confirmed on the bridge")
        try:
            yield session, handle
        finally:
            session.close()
            handle.close()


def leaks(text: str) -> list[str]:
    return [secret for secret in PLANTED if secret in text]


async def test_planted_secrets_reach_no_record_and_no_screen(
    planted_session: tuple[DriverSession, EstateHandle],
) -> None:
    session, _handle = planted_session
    runner = session.runner
    # An engineer pastes them where they should not go: a note, and a skip reason.
    runner.add_note(f"DBA says the password is {DSN_PASSWORD}")
    runner.add_note(f"keys in use: {AWS_SECRET} / {AWS_TOKEN}")
    assert rehearse(runner).succeeded
    app = make_driver_app(session, keymap={})
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: "DNS" in screen_text(app) and "match" in screen_text(app),
                       what="the panes with live data")
        assert leaks(screen_text(app)) == []
    folder = runner.folder
    records = {"audit.jsonl": (folder / "audit.jsonl").read_text(encoding="utf-8"),
               "state.json": (folder / "state.json").read_text(encoding="utf-8")}
    for fmt in ("json", "csv", "md", "html"):
        records[f"export.{fmt}"] = export_log(folder / "audit.jsonl", fmt)
    assert {name: leaks(text) for name, text in records.items()} == {
        name: [] for name in records}
    assert "***" in records["audit.jsonl"]  # the notes are there, the secrets masked


def test_session_files_are_readable_by_their_owner_only(
    planted_session: tuple[DriverSession, EstateHandle],
) -> None:
    runner = planted_session[0].runner
    runner.add_note("checking file modes")
    folder = runner.folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("audit.jsonl", "state.json", "lock", "plan.toml"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
