"""Log shipping goes on after its step, in the background, until the window reaches the chain.

The pre-staged plan's `ship-logs` keeps shipping: after its own rounds, the session ships a
log backup every `every` and restores it on every replica, each round recorded on the step,
so the replicas stay minutes behind through the days before the window. Here the step is
cut to one round two simulated minutes apart (2.4 s at x50): the test waits for two rounds
in the background, then the window runs; shipping stops before the chain gate, whose
evidence then counts the background rounds as part of the chain, and nothing is shipped
after it.
"""

from __future__ import annotations

from pathlib import Path

from support.audit import log_entries
from support.estate import driver_session, running_sim
from support.plans import load
from support.rehearsal import shipping_copy, stage
from support.waiting import eventually

from cockpit.estate import sql, tsql
from cockpit.session.rehearsal import rehearse

SPEED = 50.0


def shipping_every_two_minutes(folder: Path) -> Path:
    return shipping_copy(folder, 'every = "2m", rounds = 1, keep_shipping = true')


def background_rounds(folder: Path) -> list[dict[str, object]]:
    return [e.detail for e in log_entries(folder) if e.step == "ship-logs"
            and e.event == "step.progress" and e.detail.get("background")
            and "outputs" in e.detail]


def test_shipping_goes_on_in_the_background_until_the_chain_gate(tmp_path: Path) -> None:
    plan = shipping_every_two_minutes(tmp_path)
    folder = tmp_path / "session"
    with running_sim(load(plan), speed=SPEED) as (_estate, handle):
        session = driver_session(plan, handle, folder, time_scale=SPEED,
                                 confirm_manual=lambda _instruction: "done")
        try:
            stage(session.runner)
            # The step has ended; the session ships on by itself.
            eventually(lambda: background_rounds(folder), lambda r: len(r) >= 2,
                       what="two rounds shipped in the background", within=60)
            result = rehearse(session.runner)
        finally:
            session.close()
    assert result.succeeded, result.render()

    entries = log_entries(folder)
    gate = next(i for i, e in enumerate(entries)
                if e.step == "chain-whole" and e.event == "step.started")
    shipped_after = [e for e in entries[gate:] if e.step == "ship-logs"]
    assert shipped_after == []  # shipping stopped before the chain was judged
    rounds = background_rounds(folder)
    backups = rounds[-1]["outputs"]["backups"]  # type: ignore[index]
    assert len(backups) == 1 + len(rounds)  # the step's own round, then the background's
    lsns = [(int(b["first_lsn"]), int(b["last_lsn"])) for b in backups]
    assert all(prev[1] == nxt[0] for prev, nxt in zip(lsns, lsns[1:], strict=False))
    judged = next(e for e in entries[gate:] if e.step == "chain-whole"
                  and e.event == "step.succeeded")
    assert str(lsns[-1][1]) in str(judged.detail)  # the gate saw the last background log


def test_a_log_backup_a_dead_driver_did_not_record_is_adopted_when_shipping_resumes(
    tmp_path: Path,
) -> None:
    """A round cut short with its driver: the Agent finished the log backup, the log never
    recorded it. The next driver's shipping reads it back from msdb, restores it on every
    replica and records it, so the recorded chain has no hole."""
    plan = shipping_every_two_minutes(tmp_path)
    folder = tmp_path / "session"
    with running_sim(load(plan), speed=SPEED) as (_estate, handle):
        session = driver_session(plan, handle, folder, time_scale=SPEED,
                                 confirm_manual=lambda _instruction: "done")
        try:
            stage(session.runner)
        finally:
            session.close()  # shipping stops with the driver
        key = f"oms/{log_entries(folder)[0].session}/OMS-log-unrecorded.trn"
        url = sql.backup_urls(handle, "oms-cutover-backups", [key])[0]
        sql.execute(handle, "oms-db-dc", "sql.backup", [tsql.backup(
            "OMS", [url], tsql.BackupOptions(kind="log"), to_url=True,
            region=handle.estate.region)])
        reopened = driver_session(plan, handle, folder, time_scale=SPEED)  # ships on
        try:
            rounds = eventually(lambda: background_rounds(folder), what="a round after it")
        finally:
            reopened.close()
    resumed = [e for e in log_entries(folder) if e.step == "ship-logs"
               and "resumed by this driver" in str(e.detail.get("message"))]
    assert len(resumed) == 1
    backups = rounds[0]["outputs"]["backups"]  # type: ignore[index]
    assert [b.get("adopted", False) for b in backups] == [False, True, False]
    assert backups[1]["keys"] == [key]
    lsns = [(int(b["first_lsn"]), int(b["last_lsn"])) for b in backups]
    assert all(prev[1] == nxt[0] for prev, nxt in zip(lsns, lsns[1:], strict=False))
    assert rounds[0]["outputs"]["restore_failures"] == []  # type: ignore[index]
