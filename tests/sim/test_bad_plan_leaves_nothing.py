"""`cockpit run --sim` starts the session's estate before it reads the plan (so the estate
starts while the plan loads); a plan that does not load still gets `file:line: what is
wrong` and leaves no estate running and no session folder behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.processes import running

BAD_PLANS = Path(__file__).parents[1] / "data" / "bad_plans"


def _processes_naming(text: str) -> list[int]:
    """Every live process whose command line names `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and running(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_a_plan_that_does_not_load_leaves_no_estate_and_no_session(tmp_path: Path) -> None:
    plan = tmp_path / "window.toml"
    plan.write_text((BAD_PLANS / "duplicate-step-id.toml").read_text(encoding="utf-8"),
                    encoding="utf-8")
    session = tmp_path / "session"
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "run", str(plan), "--sim", "--session", str(session)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "TMUX": "1"})  # no warning about tmux in what is asserted
    assert done.returncode == 2
    assert done.stderr.startswith(f"{plan}:"), done.stderr
    assert "duplicate" in done.stderr and "Traceback" not in done.stderr
    assert not session.exists()
    assert _processes_naming(str(session)) == []


def test_a_missing_plan_leaves_no_session_in_the_state_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    done = subprocess.run([sys.executable, "-m", "cockpit", "run", str(missing), "--sim"],
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, "TMUX": "1"})
    assert done.returncode == 2
    assert str(missing) in done.stderr and "Traceback" not in done.stderr
    sessions = Path(os.environ["XDG_STATE_HOME"]) / "cockpit" / "sessions"
    assert not sessions.exists() or list(sessions.iterdir()) == []
    # Its full path, which the estate's command line names: the machine may run anything
    # else that says "nowhere" (another checkout's tests, a lingering estate of theirs).
    assert _processes_naming(str(missing)) == []


def test_settings_that_do_not_load_leave_no_demo_estate_and_no_session(
        tmp_path: Path) -> None:
    """The demo's estate starts before the driver reads its settings (their imports take a
    third of a second); settings that do not load still say where they are wrong, and stop
    the estate started meanwhile."""
    session = tmp_path / "session"
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "demo", "--session", str(session)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "TMUX": "1", "COCKPIT_POLLING__PANE_EVERY_S": "soon"})
    assert done.returncode == 2
    assert "COCKPIT_POLLING__PANE_EVERY_S" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not session.exists()
    assert _processes_naming(str(session)) == []
