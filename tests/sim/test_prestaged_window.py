"""Phase Two pre-staged, rehearsed on the simulated estate as the engineer runs it: the full
and the logs restored WITH NORECOVERY on every replica before the window, the chain proved
whole, the tail-log fence, the tail restored everywhere, and the new primary holding what
the source held at the fence. A log backup lost on the way stops the window at the chain
gate, before the fence, with the source untouched."""

from __future__ import annotations

from pathlib import Path

from support.audit import entries_named, started_steps
from support.rehearsal import evidence_of, outputs_of, quick_copy, rehearse

REPLICAS = ["oms-sql-1", "oms-sql-2", "oms-sql-3"]


def test_the_window_fences_with_the_tail_and_restores_the_chain_on_every_replica(
    tmp_path: Path,
) -> None:
    session = tmp_path / "session"
    said = rehearse(quick_copy(tmp_path), session)
    assert said.startswith("exit 0"), said

    full = outputs_of(session, "stage-full")["backups"][0]
    logs = outputs_of(session, "ship-logs")["backups"]
    tail_out = outputs_of(session, "tail-log")
    tail = tail_out["backups"][0]
    assert full["type"] == "full" and full["has_backup_checksums"]
    # three rounds of its own, and any the session shipped in the background since
    assert len(logs) >= 3 and {b["type"] for b in logs} == {"log"}
    # a chain: each log starts where the one before ended, the tail where the last did
    assert [b["first_lsn"] for b in logs[1:] + [tail]] == [b["last_lsn"] for b in logs]
    assert all(f"/{entries_named(session, 'session.opened')[0].session}/" in b["keys"][0]
               for b in [full, *logs, tail])  # every key names the session
    assert tail["tail"] is True
    statement = tail_out["statements"][0]
    assert statement.startswith("BACKUP LOG [OMS] TO URL = ") and "NORECOVERY" in statement

    staged = outputs_of(session, "stage-restore")["restored"]
    tail_restored = outputs_of(session, "restore-tail")["restored"]
    assert set(staged) == set(tail_restored) == set(REPLICAS)
    assert all(r["applied"] == full["keys"][:1] for r in staged.values())
    assert all(r["applied"] == tail["keys"] and r["redo_start_lsn"] == tail["last_lsn"]
               for r in tail_restored.values())

    gate = [e for e in entries_named(session, "step.succeeded") if e.step == "chain-whole"]
    evidence = gate[0].detail["evidence"]["sql.chain_continuous"]
    assert {r: v["redo_start_lsn"] for r, v in evidence["replicas"].items()} == \
        dict.fromkeys(REPLICAS, logs[-1]["last_lsn"])
    data = [e for e in entries_named(session, "step.succeeded") if e.step == "data-check"]
    sentinel = outputs_of(session, "sentinel")["sentinel"]
    found = data[0].detail["evidence"]["sql.sentinel_found"]
    assert (found["sentinel"], found["found"]) == (sentinel, 1)  # on the new primary
    compared = data[0].detail["evidence"]["sql.data_matches"]
    assert compared["source"]["dbo.cutover_sentinel"]["stats_rows"] == 1  # before the fence
    assert compared["source"] == tail["data"]  # the source as the fence read it
    assert compared["target"]["dbo.orders"]["rows"] == tail["data"]["dbo.orders"]["rows"]


def test_a_lost_log_backup_stops_at_the_chain_gate_before_the_fence(tmp_path: Path) -> None:
    session = tmp_path / "session"
    said = rehearse(quick_copy(tmp_path), session, "log-gap=2")
    assert said.startswith("exit 1"), said
    failed = entries_named(session, "step.failed")
    assert [e.step for e in failed] == ["chain-whole"]
    reason = str(failed[0].detail["reason"])
    lost = outputs_of(session, "ship-logs")["backups"][1]
    assert (f"the log backup of LSN {lost['first_lsn']} to {lost['last_lsn']} (step ship-logs) "
            f"is missing from s3://oms-cutover-backups/{lost['keys'][0]}") in reason
    assert "oms-sql-1 has rolled forward to" in reason
    assert "tail-log" not in started_steps(session)  # the source was never fenced
    shipping = outputs_of(session, "ship-logs")["restore_failures"]
    rounds = [f["round"] for f in shipping]  # said as it happened, shipping went on:
    assert rounds[:2] == [2, 3] and rounds == list(range(2, 2 + len(rounds)))  # every round


COUNT_AFTER_FULL = '''
[[phases.steps]]
id = "orders-after-full"
title = "Note how many orders the source holds, just after the full backup"
after = ["stage-full"]
until = [{ kind = "sql.query", endpoint = "oms-db-dc", database = "oms", \
query = "SELECT COUNT(*) AS orders FROM dbo.orders", at_least = 1 }]
budget = "1m"
'''


def test_orders_that_arrived_between_the_full_backup_and_the_fence_are_on_the_new_primary(
    tmp_path: Path,
) -> None:
    """The apps keep taking orders after the full backup, until they stop before the fence;
    the logs and the tail carry them, so the new primary holds more orders than the full
    did: exactly the source's at the fence."""
    text = quick_copy(tmp_path).read_text()
    restore = text.index("[[phases.steps]]\nid = \"stage-restore\"")
    plan = tmp_path / "counted.toml"
    plan.write_text(text[:restore] + COUNT_AFTER_FULL.lstrip() + "\n" + text[restore:])
    session = tmp_path / "session"
    said = rehearse(plan, session)
    assert said.startswith("exit 0"), said

    after_full = evidence_of(session, "orders-after-full", "sql.query")["value"]
    at_fence = outputs_of(session, "tail-log")["backups"][0]["data"]["dbo.orders"]["rows"]
    on_primary = evidence_of(session, "data-check", "sql.data_matches")["target"]
    # at least a hundred orders (of the ~160 a minute the profile's log rate stands for)
    # came in while the log was shipped, and every one of them reached the new primary
    assert on_primary["dbo.orders"]["rows"] == at_fence >= after_full + 100
