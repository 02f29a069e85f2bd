"""What the strip says of each pane, from the pane's rows alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit.runner.pane_summary import (
    pane_count,
    strip_parts,
    summarise_pane,
    summarise_panes,
)
from cockpit.runner.panes import PaneRow, PaneView, RowStatus

NOW = datetime(2026, 11, 28, 2, 15, tzinfo=UTC)
BACKUP_COLUMNS = ["operation", "db", "%", "rate", "ETA", "S3 parts", "bytes"]


def view(pane: str, columns: list[str], *rows: tuple[RowStatus, list[str]],
         age_s: float = 1.0, **extra: object) -> PaneView:
    return PaneView(pane=pane, title=pane, columns=columns, taken_at=NOW - timedelta(
        seconds=age_s), rows=[PaneRow(status=s, cells=c) for s, c in rows], **extra)


def said(v: PaneView | None, pane: str = "") -> tuple[str, str]:
    summary = summarise_pane(pane or (v.pane if v else "apps"), v, NOW, 15.0)
    return summary.text, summary.verdict


def apps(*statuses: RowStatus, age_s: float = 1.0) -> PaneView:
    return view("apps", ["server"], *((s, [f"app-{n}"]) for n, s in enumerate(statuses)),
                age_s=age_s)


def test_all_healthy_is_ok_and_one_down_is_bad() -> None:
    assert said(apps("ok", "ok", "ok", "ok")) == ("apps 4/4", "ok")
    assert said(apps("ok", "bad", "ok", "ok")) == ("apps 3/4", "bad")


def test_not_polled_error_stale_and_not_in_the_plan() -> None:
    assert said(None, "dns") == ("DNS …", "waiting")
    assert said(view("dns", [], error="Timeout")) == ("DNS err", "bad")
    assert said(apps("ok", "ok", age_s=40)) == ("apps 2/2 stale", "warn")
    assert said(view("ag", [], note="no availability group in this plan")) == ("AG n/a", "info")


def test_targets_count_healthy_of_registered_and_warn_while_one_is_initial() -> None:
    targets = view("targets", ["group", "target", "state"],
                   ("ok", ["web", "a", "healthy"]), ("warn", ["web", "b", "initial"]),
                   ("info", ["api", "(no targets)", "-"]))
    assert said(targets) == ("ALB 1/2 healthy", "warn")
    assert said(view("targets", ["group"], ("info", ["web"]))) == ("ALB no targets", "info")


def test_ag_says_sync_or_its_worst_replica() -> None:
    columns = ["AG", "replica", "sync"]
    assert said(view("ag", columns, ("ok", ["ag", "p", "SYNCHRONIZED"]),
                     ("ok", ["ag", "s", "SYNCHRONIZED"]))) == ("AG SYNC", "ok")
    assert said(view("ag", columns, ("ok", ["ag", "p", "SYNCHRONIZED"]),
                     ("bad", ["ag", "s", "NOT SYNCHRONIZING"]))) == ("AG NOT SYNC 1/2", "bad")
    assert said(view("ag", columns, ("ok", ["ag", "p", "-"]), ("ok", ["ag", "s", "-"]))) == \
        ("AG 2/2 up, no db", "ok")


def test_backup_says_percent_while_running_and_none_or_in_s3_when_not() -> None:
    running = view("backup", BACKUP_COLUMNS, ("info", ["backup @ oms-db-dc", "OMS", "51"]))
    assert said(running) == ("backup 51%", "info")
    restoring = view("backup", BACKUP_COLUMNS, ("info", ["restore @ oms-db-aws1", "OMS", "7"]),
                     ("ok", ["in S3: oms/full.bak", "-", "100"]))
    assert said(restoring) == ("restore 7%", "info")
    landed = view("backup", BACKUP_COLUMNS, ("ok", ["in S3: oms/full.bak", "-", "100"]))
    assert said(landed) == ("backup in S3", "ok")
    left = view("backup", BACKUP_COLUMNS, ("warn", ["open upload: oms/full.bak", "-", "-"]))
    assert said(left) == ("backup 1 open upload", "warn")
    assert said(view("backup", BACKUP_COLUMNS, note="no backup running")) == \
        ("backup none", "info")


def test_backup_of_a_prestaged_chain_counts_the_replicas_caught_up() -> None:
    chain = view("backup", BACKUP_COLUMNS,
                 ("ok", ["last log @ oms-db-dc", "OMS", "-", "-", "2 min ago", "LSN 9", "30 MB"]),
                 ("ok", ["restoring @ oms-sql-1", "OMS", "-", "-", "caught up", "LSN 9", "0 MB"]),
                 ("warn", ["restoring @ oms-sql-2", "OMS", "-", "-", "behind 17 min ago",
                           "LSN 7", "30 MB behind"]))
    assert said(chain) == ("backup 1/2 caught up", "warn")
    caught = view("backup", BACKUP_COLUMNS,
                  ("ok", ["restoring @ oms-sql-1", "OMS", "-", "-", "caught up", "LSN 9", "-"]))
    assert said(caught) == ("backup 1/1 caught up", "ok")
    running = view("backup", BACKUP_COLUMNS, ("info", ["restore @ oms-sql-2", "OMS", "40"]),
                   ("warn", ["restoring @ oms-sql-2", "OMS", "-", "-", "behind 1 min ago"]))
    assert said(running) == ("restore 40%", "info")  # a statement running says first


def test_dns_counts_resolver_answers_not_route53_rows() -> None:
    dns = view("dns", ["name", "source", "answer"],
               ("ok", ["orders", "route53", "x"]), ("ok", ["", "dc-dns-1", "x"]),
               ("bad", ["", "vpc-resolver", "SERVFAIL"]))
    assert said(dns) == ("DNS 1/2", "bad")


def test_every_pane_in_layout_order_and_hundreds_of_rows_counted() -> None:
    many = apps(*(["ok"] * 297 + ["bad"] * 3))
    texts = [s.text for s in summarise_panes({"apps": many}, NOW, 15.0)]
    assert texts == ["apps 297/300", "ALB …", "AG …", "backup …", "DNS …"]
    assert pane_count(many) == "297/300"
    assert pane_count(view("dns", [], error="Timeout")) is None


def test_short_of_room_the_strip_says_it_in_fewer_words() -> None:
    targets = view("targets", ["group", "target", "state"], ("ok", ["web", "a", "healthy"]))
    fresh = summarise_panes({"apps": apps("ok"), "targets": targets}, NOW, 15.0)
    assert [t for t, _ in strip_parts(fresh, 80)] == [
        "apps 1/1", "ALB 1/1 healthy", "AG …", "backup …", "DNS …"]
    assert [t for t, _ in strip_parts(fresh, 30)][:2] == ["apps 1/1", "ALB 1/1"]
    old = {p: v.model_copy(update={"taken_at": NOW - timedelta(hours=1)})
           for p, v in {"apps": apps("ok"), "targets": targets}.items()}
    stale = [s for s in summarise_panes(old, NOW, 15.0) if s.pane in old]
    assert [t for t, _ in strip_parts(stale, 80)] == ["apps 1/1 stale", "ALB 1/1 healthy stale"]
    assert strip_parts(stale, 20) == [("stale:", "warn"), ("apps 1/1", "warn"),
                                      ("ALB 1/1", "warn")]
