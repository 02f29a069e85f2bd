"""The mirror publishes the panes' recording part by part. A part closed (renamed) by the
recorder between the publisher looking for it and opening the live part leaves the
publisher holding the *next* live part: its bytes must not go out under the closed part's
name and offset, or a replay elsewhere gets another part's lines in its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.estate.mirror_s3 import MirrorAddress
from cockpit.session.folder import SessionFolder
from cockpit.session.mirror import MirrorPublisher, pane_chunk_name
from cockpit.settings import MirrorSettings

CLOSED = b'{"t":1.0,"p":"apps","r":[["ok","dc-app-1","7"]]}\n' * 3
LIVE = b'{"t":2.0,"p":"apps","r":[["ok","dc-app-1","3"]]}\n' * 4


def test_a_part_closed_while_the_live_one_opens_is_published_from_the_closed_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = SessionFolder(tmp_path / "s-1")
    folder.path.mkdir()
    # The recorder has just rotated: part 1 closed, the next live part written to.
    folder.pane_part(1).write_bytes(CLOSED)
    folder.panes.write_bytes(LIVE)
    publisher = MirrorPublisher(folder, MirrorAddress("oms-mirror", ""), s3=None,
                                settings=MirrorSettings(url="s3://oms-mirror"))
    # ...but the publisher looked for part 1 a moment before the rename.
    looked: list[Path] = []
    exists = Path.exists

    def before_the_rename(path: Path) -> bool:
        if path == folder.pane_part(1) and not looked:
            looked.append(path)
            return False
        return exists(path)

    monkeypatch.setattr(Path, "exists", before_the_rename)
    chunk = publisher._next_pane_chunk()

    assert looked, "the publisher did not look for the closed part"
    assert chunk == (pane_chunk_name(1, 0), CLOSED)
