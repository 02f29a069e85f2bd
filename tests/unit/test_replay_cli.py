"""`cockpit replay`'s refusals, said before any screen opens, and `--at`'s forms."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.cli import main
from cockpit.session.replay import parse_moment

WINDOW_START = datetime(2026, 3, 14, 22, 30, 5, tzinfo=UTC)


def test_a_folder_without_a_session_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["replay", str(tmp_path)])
    assert result.exit_code == 2
    assert "holds no session" in result.output


def test_an_at_that_is_no_time_is_refused(tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").write_text("", encoding="utf-8")
    result = CliRunner().invoke(main, ["replay", str(tmp_path), "--at", "half past one"])
    assert result.exit_code == 2
    assert "--at" in result.output and "HH:MM" in result.output


@pytest.mark.parametrize(("text", "expected"), [
    ("22:45", datetime(2026, 3, 14, 22, 45, tzinfo=UTC)),
    ("23:01:30", datetime(2026, 3, 14, 23, 1, 30, tzinfo=UTC)),
    ("00:15:00", datetime(2026, 3, 15, 0, 15, tzinfo=UTC)),  # the window ran past midnight
    ("2026-03-14T22:40:00+00:00", datetime(2026, 3, 14, 22, 40, tzinfo=UTC)),
    ("2026-03-14T22:40:00", datetime(2026, 3, 14, 22, 40, tzinfo=UTC)),  # read as UTC
])
def test_at_reads_a_time_of_the_window_or_an_iso_time(text: str, expected: datetime) -> None:
    assert parse_moment(text, WINDOW_START) == expected
