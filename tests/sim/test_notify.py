"""Milestones told to the people away from the keyboard, through apprise to a webhook on
loopback: in order, each send on the record with its target masked, never the URL's
token; with the webhook down the rehearsal still finishes and the record says what was
not sent. Real `cockpit rehearse` processes, configured as an engineer would (the
COCKPIT_NOTIFY__URLS variable), against the in-process simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.audit import log_entries
from support.plans import PHASE_ONE
from support.webhook import closed_port, webhook

COCKPIT = str(Path(sys.executable).parent / "cockpit")
TOKEN = "T0KEN-4f9c2a7e1b"
PHASE = "App servers to AWS behind the ALB"
PLAN_NAME = "OMS Phase One: app servers to AWS"


def rehearse(session: Path, url: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COCKPIT_NOTIFY__URLS": json.dumps([url]), **settings}
    return subprocess.run(
        [COCKPIT, "rehearse", str(PHASE_ONE), "--sim", "--speed", "50", "--manual-note",
         "told the bridge", "--session", str(session)],
        capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)


def test_the_milestones_reach_the_webhook_in_order_and_are_on_the_record(
        tmp_path: Path) -> None:
    session = tmp_path / "session"
    with webhook() as hook:
        done = rehearse(session, f"json://127.0.0.1:{hook.port}/hooks/{TOKEN}")
        assert done.returncode == 0, done.stdout + done.stderr
        titles = hook.titles()
    assert titles == [f"{PLAN_NAME}: {PHASE} started", f"{PLAN_NAME}: {PHASE} ended",
                      f"{PLAN_NAME}: window complete"]
    assert hook.paths == [f"/hooks/{TOKEN}"] * 3

    sent = [e for e in log_entries(session) if e.event == "notify.sent"]
    assert [e.detail["milestone"] for e in sent] == [
        "phase.started", "phase.ended", "window.complete"]
    assert {e.detail["target"] for e in sent} == {f"json://127.0.0.1:{hook.port}/hooks/****"}
    assert log_entries(session)[-1].event == "session.closed"
    for name in ("audit.jsonl", "state.json"):
        assert TOKEN not in (session / name).read_text(), f"the token reached {name}"
    assert f"notified: {PLAN_NAME}: window complete" in export(session)


def export(session: Path) -> str:
    out = session.parent / "report.md"
    subprocess.run([COCKPIT, "audit", "export", str(session / "audit.jsonl"), "--format",
                    "md", "-o", str(out)], check=True, capture_output=True, timeout=60)
    return out.read_text()


def test_a_webhook_that_is_down_never_stops_the_window_and_the_record_says_so(
        tmp_path: Path) -> None:
    session = tmp_path / "session"
    done = rehearse(session, f"json://127.0.0.1:{closed_port()}/hooks/{TOKEN}",
                    COCKPIT_NOTIFY__RETRY_AFTER_S="0.1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every step succeeded" in done.stdout

    failed = [e for e in log_entries(session) if e.event == "notify.failed"]
    assert [e.detail["milestone"] for e in failed] == [
        "phase.started", "phase.ended", "window.complete"]
    for entry in failed:
        assert entry.detail["attempts"] == 3
        assert "connection error" in entry.detail["error"].lower(), entry.detail
    assert not [e for e in log_entries(session) if e.event == "notify.sent"]
    assert TOKEN not in (session / "audit.jsonl").read_text()
    assert export(session).count("notification not sent") == 3
