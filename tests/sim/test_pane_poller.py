"""The session's pane poller: every pane at once, and one failing endpoint shows in its
own pane without holding up or breaking the others."""

from __future__ import annotations

import json
from pathlib import Path

from support.estate import driver_session, running_sim
from support.plans import PHASE_ONE

from cockpit.plan.models import Plan
from cockpit.runner.panes import PANES


def test_a_hung_server_and_a_silent_resolver_show_in_their_rows_and_the_rest_answers(
    phase_one: Plan, tmp_path: Path,
) -> None:
    faults = ["http-hang=oms-app-1", "dns-timeout=dc-dns-1"]
    with running_sim(phase_one, faults=faults) as (_, handle):
        session = driver_session(PHASE_ONE, handle, tmp_path / "session")
        try:
            views = session.poll_panes(list(PANES))
        finally:
            session.close(wait_s=5)
    apps = {row.cells[0]: row for row in views["apps"].rows}
    assert apps["oms-app-1"].status == "bad" and "Timeout" in apps["oms-app-1"].cells[3]
    assert all(row.cells[3] == "200" for name, row in apps.items() if name != "oms-app-1")
    answered = [row.cells for row in views["dns"].rows if row.cells[1] not in ("route53", "")]
    assert {cells[2] for cells in answered if cells[1] == "dc-dns-1"} == {"timeout after 2s"}
    assert all(cells[2] != "timeout after 2s" for cells in answered if cells[1] != "dc-dns-1")
    assert views["targets"].error is None and views["targets"].rows
    published = json.loads((tmp_path / "session" / "state.json").read_text())["panes"]
    assert set(published) == set(PANES)  # watchers see every pane, the failing rows too
