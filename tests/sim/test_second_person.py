"""The two-person rule: a step that needs a second person is overridden only with another
login's approval, left with `cockpit approve` from that login.

The test runs as root (CI does): the second engineer is `nobody`, in a forked child that
drops to that uid before leaving its approval, so the approval file is owned by another
login as the kernel sees it. The driver's own approval is refused on the record.
"""

from __future__ import annotations

import os
import pwd
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.audit import log_entries
from support.estate import KEYS_FAULTS, KEYS_PLAN, driver_session, running_sim
from support.plans import load

from cockpit.audit import events
from cockpit.cli import main
from cockpit.runner import approvals
from cockpit.runner.runner import StepRefused

SPEED = 50.0
STEP = "gated-on-app-1"


@pytest.fixture
def spool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A spool every login can write to, as /var/tmp/cockpit-approvals is."""
    root = Path(tempfile.mkdtemp(prefix="cockpit-approvals-", dir="/tmp"))
    os.chmod(root, 0o1777)
    monkeypatch.setenv(approvals.SPOOL_ENV, str(root / "spool"))
    yield root / "spool"
    for path in sorted(root.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    root.rmdir()


def two_person_plan(folder: Path) -> Path:
    text = KEYS_PLAN.read_text(encoding="utf-8")
    old = f'id = "{STEP}"\n'
    assert old in text
    path = folder / "keys.toml"
    path.write_text(text.replace(old, old + "second_person = true\n"), encoding="utf-8")
    return path


def approve_as(uid: int, session: Path, reason: str) -> None:
    """`cockpit approve` from another login: a child that becomes `uid` first."""
    child = os.fork()
    if child == 0:  # pragma: no cover (the child's exit status is the assertion)
        try:
            os.setgid(pwd.getpwuid(uid).pw_gid)
            os.setuid(uid)
            approvals.leave(session, STEP, "override", reason)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as a second login (CI is)")
def test_an_override_needs_another_logins_approval(spool: Path, tmp_path: Path) -> None:
    plan = two_person_plan(tmp_path)
    folder = tmp_path / "session"
    with running_sim(load(plan), speed=SPEED, faults=KEYS_FAULTS) as (_estate, handle):
        session = driver_session(plan, handle, folder, time_scale=SPEED)
        try:
            runner = session.runner  # the step is ready at once; its gate fails (app down)
            with pytest.raises(StepRefused) as nobody_yet:
                runner.run_step(STEP, override_reason="health page down, app is fine")
            assert "needs a second person" in str(nobody_yet.value)
            assert f"cockpit approve {folder} {STEP} --action override" in str(nobody_yet.value)

            said = CliRunner().invoke(main, ["approve", str(folder), STEP, "--reason", "me"])
            assert said.exit_code == 0, said.output  # the driver's own login: left, then
            with pytest.raises(StepRefused):           # refused when it counts
                runner.run_step(STEP, override_reason="health page down, app is fine")

            approve_as(pwd.getpwnam("nobody").pw_uid, folder, "checked the app's own logs")
            state = runner.run_step(STEP, override_reason="health page down, app is fine")
        finally:
            session.close()
    assert state.status.value == "succeeded"
    entries = log_entries(folder)
    refused = [e for e in entries if e.event == events.APPROVAL_REFUSED]
    accepted = [e for e in entries if e.event == events.APPROVAL_ACCEPTED]
    assert [(e.step, e.detail["approver"]) for e in refused] == [(STEP, "root")]
    assert "driver's own login" in refused[0].detail["why"]
    assert [(e.step, e.detail["approver"], e.detail["reason"]) for e in accepted] == [
        (STEP, "nobody", "checked the app's own logs")]
    overridden = [e for e in entries if e.event == events.GATE_OVERRIDDEN]
    assert len(overridden) == 1 and overridden[0].seq > accepted[0].seq


def test_an_approval_is_taken_once(spool: Path, tmp_path: Path) -> None:
    """Pending approvals: a planted symlink, another step's, and a stale one do not count."""
    folder = tmp_path / "session"
    folder.mkdir()
    left = approvals.leave(folder, STEP, "override", "ok")
    other = approvals.leave(folder, "another-step", "override", "ok")
    (approvals.spool_for(folder) / "planted.json").symlink_to(
        approvals.spool_for(folder) / f"{left.id}.json")
    found = approvals.pending(folder, STEP, "override")
    assert [a.id for a in found] == [left.id]
    assert other.id not in [a.id for a in found]
    later = left.at + approvals.FRESH_FOR * 2
    assert approvals.pending(folder, STEP, "override", now=later) == []
