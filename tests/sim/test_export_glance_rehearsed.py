"""A real rehearsal's record: Phase Two rehearsed on the simulated estate, exported as html
and markdown, and its chart read back against the log; and the live ETAs the header would
have shown while its backup and restore ran, from the progress the runner recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.audit import log_entries
from support.glance import read_chart
from support.plans import MANUAL_NOTE, PHASE_TWO, load

from cockpit.cli import main
from cockpit.runner.state import derive
from cockpit.session.forecast import seconds_left
from cockpit.session.view import SessionView


def cockpit(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("glance") / "session"
    result = cockpit("rehearse", PHASE_TWO, "--sim", "--speed", "100", "--session", folder,
                     "--manual-note", MANUAL_NOTE)
    assert result.exit_code == 0, result.output
    return folder


def export(folder: Path, fmt: str) -> str:
    result = cockpit("audit", "export", folder / "audit.jsonl", "--format", fmt)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_each_step_has_its_bar_from_where_the_log_started_it(rehearsed: Path) -> None:
    chart = read_chart(export(rehearsed, "html"))
    plan = load(PHASE_TWO)
    assert [row.step for row in chart.rows] == [step.id for step in plan.steps()]
    started = {e.step: e.ts.isoformat() for e in log_entries(rehearsed)
               if e.event == "step.started"}
    for row in chart.rows:
        bars = row.shapes_of("actual")
        assert [bar["class"] for bar in bars] == ["actual result-succeeded"], row.step
        assert bars[0]["data-start"] == started[row.step]
        assert row.shapes_of("planned")[0]["data-start"] == started[row.step]
    assert chart.rows[-1].critical  # the last step ends the chain that decided the end


def test_the_point_of_no_return_is_marked_where_the_log_has_it(rehearsed: Path) -> None:
    chart = read_chart(export(rehearsed, "html"))
    passed = [e for e in log_entries(rehearsed) if e.event == "phase.point_of_no_return"]
    assert len(passed) == 1 and passed[0].step == "start-apps"
    marked = {row.step: row.shapes_of("mark-ponr") for row in chart.rows}
    assert [m["data-at"] for m in marked.pop("start-apps")] == [passed[0].ts.isoformat()]
    assert not any(marked.values())
    assert [line["data-at"] for line in chart.lines] == [passed[0].ts.isoformat()]


def test_the_markdown_record_tells_the_same_per_step(rehearsed: Path) -> None:
    md = export(rehearsed, "md")
    table = md[md.index("## Planned against actual"):md.index("## Sessions")]
    rows = [line.split(" | ") for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("| Step")]
    assert [row[0].lstrip("| ") for row in rows] == [s.id for s in load(PHASE_TWO).steps()]
    assert all(row[4] == "succeeded" and row[3].endswith(("under", "over")) for row in rows)
    ponr = next(row for row in rows if row[0] == "| start-apps")
    assert "point of no return of phase-two" in ponr[6]


def test_the_backup_and_restore_etas_come_from_their_progress(rehearsed: Path) -> None:
    """From half-way through each, the time left that the forecast reads off the step's last
    progress sample (SQL Server's estimate, else its rate) is within a third of the step's
    length of the time its statement really had left; its budget (40 and 30 minutes) is
    nowhere near. Really left is to the statement's end by its last sample (that sample's
    estimate, none for a restore): at speed 100 what follows it (the last parts sent to S3,
    the upload completed, the step recorded) takes wall-clock time no sample foretells, a
    tenth of the backup step on a quiet machine and up to a third on a loaded one."""
    plan, entries = load(PHASE_TWO), log_entries(rehearsed)
    last = {e.step: e for e in entries if e.event == "step.progress"}
    starts = {e.step: e.ts for e in entries if e.event == "step.started"}
    checked = {"backup": 0, "restore": 0}
    for count, entry in enumerate(entries, 1):
        if entry.event != "step.progress" or entry.step not in checked \
                or not 50 <= entry.detail.get("percent", 0) < 100:
            continue
        so_far = entries[:count]
        left = seconds_left(SessionView(plan, derive(plan, so_far), so_far), entry.ts)
        ended = last[entry.step].ts + timedelta(
            milliseconds=last[entry.step].detail.get("eta_ms", 0))
        length = (ended - starts[entry.step]).total_seconds()
        really = (ended - entry.ts).total_seconds()
        assert abs(left[entry.step] - really) <= length / 3, (entry.step, entry.detail)
        checked[entry.step] += 1
    assert all(checked.values()), checked
