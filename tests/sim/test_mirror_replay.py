"""Replay from the S3 mirror: the driver publishes the panes' recording beside the log, part
by part, and a replay on another host (its own read-only client, no session folder) gets
every part byte for byte and plays the window as a copy of the folder would.

On the simulated estate's S3 (moto's server on loopback, real boto3 calls)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.estate import own_s3_client, running_sim
from support.plans import MANUAL_NOTE, PHASE_ONE, load, write_plan
from support.plans import MANUAL_PHASE as ONE_MANUAL_STEP

from cockpit.cli import main
from cockpit.estate.handle import EstateHandle
from cockpit.estate.mirror_s3 import MirrorAddress
from cockpit.plan.loader import load_plan_file
from cockpit.runner.pane_recording import PaneRecorder
from cockpit.runner.panes import PANES
from cockpit.runner.runner import Pacing
from cockpit.session.driver import DriverSession, start_driver_session
from cockpit.session.folder import SessionFolder
from cockpit.session.mirror_watch import MirrorReader, MirrorRecording
from cockpit.session.rehearsal import rehearse
from cockpit.session.replay import FolderRecording, Replay
from cockpit.settings import MirrorSettings
from cockpit.sim.estate import SimEstate

SPEED = 50.0
PART_BYTES = 500  # small parts, so the window's recording is rotated several times


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[SimEstate, EstateHandle]]:
    with running_sim(load(PHASE_ONE), speed=SPEED) as running:
        yield running


@pytest.fixture
def handle(sim: tuple[SimEstate, EstateHandle]) -> EstateHandle:
    return sim[1]


def watcher_s3(handle: EstateHandle) -> Any:
    return own_s3_client(handle, key="REPLAYKEY")


def _window(tmp_path: Path, handle: EstateHandle, bucket: str) -> DriverSession:
    """A window whose panes were polled over and over, mirrored to `bucket`, closed."""
    handle.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={
        "LocationConstraint": handle.estate.region})
    plan_path, _ = write_plan(tmp_path, ONE_MANUAL_STEP)
    mirror = MirrorSettings(url=f"s3://{bucket}", publish_every_s=0.05, retry_after_s=0.1)
    session = start_driver_session(load_plan_file(plan_path), SessionFolder(tmp_path / "s-1"),
                                   handle, pacing=Pacing(SPEED), mirror=mirror,
                                   ask_manual=lambda _step, _text: MANUAL_NOTE)
    session.recorder.part_bytes = PART_BYTES
    try:
        for _ in range(6):
            for pane in PANES:
                session.poll_pane(pane)
        assert rehearse(session.runner).succeeded
        for pane in PANES:
            session.poll_pane(pane)
    finally:
        session.close()
    assert session.mirror is not None and session.mirror.failure is None
    return session


def _parts(recording: FolderRecording) -> bytes:
    return b"".join(recording.pane_parts())


def test_a_replay_from_the_mirror_has_every_part_of_the_recording(
        tmp_path: Path, handle: EstateHandle) -> None:
    session = _window(tmp_path, handle, "oms-replay-mirror")
    local = FolderRecording(session.folder)
    assert len(session.folder.pane_parts()) >= 3, "the recording was rotated"

    reader = MirrorReader(watcher_s3(handle), MirrorAddress("oms-replay-mirror", "s-1"))
    try:
        mirrored = MirrorRecording(reader)
        assert mirrored.refused is None and reader.pane_problem is None
        assert _parts(mirrored) == _parts(local)  # byte for byte, across the rotations
        assert mirrored.audit_bytes() == local.audit_bytes()
        assert mirrored.how_to_watch == "cockpit replay s3://oms-replay-mirror/s-1"

        here, there = Replay(local), Replay(mirrored)
        for replay in (here, there):
            replay.load()
            replay.seek(replay.end)
        there_view, here_view = there.view(), here.view()
        assert there_view is not None and here_view is not None
        assert there_view.panes == here_view.panes and there_view.panes
    finally:
        reader.close()


def test_a_gap_in_the_mirrored_recording_is_said_and_nothing_after_it_is_shown(
        tmp_path: Path, handle: EstateHandle) -> None:
    _window(tmp_path, handle, "oms-replay-gap")
    s3 = watcher_s3(handle)
    chunks = [o["Key"] for o in s3.list_objects_v2(
        Bucket="oms-replay-gap", Prefix="s-1/panes/")["Contents"]]
    assert len(chunks) >= 3
    s3.delete_object(Bucket="oms-replay-gap", Key=chunks[1])

    reader = MirrorReader(s3, MirrorAddress("oms-replay-gap", "s-1"))
    try:
        mirrored = MirrorRecording(reader)
        assert mirrored.refused is None  # the log is whole: the window can be replayed
        said = reader.pane_problem
        assert said is not None and "has a gap: part 1 ends at byte" in said
        first = s3.get_object(Bucket="oms-replay-gap", Key=chunks[0])["Body"].read()
        assert _parts(mirrored) == first  # up to the gap, nothing stitched across it
    finally:
        reader.close()


def test_replay_refuses_a_mirror_that_fails_verification(
        tmp_path: Path, handle: EstateHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    _window(tmp_path, handle, "oms-replay-altered")
    s3 = watcher_s3(handle)
    segment = s3.list_objects_v2(Bucket="oms-replay-altered",
                                 Prefix="s-1/audit/")["Contents"][0]["Key"]
    body = s3.get_object(Bucket="oms-replay-altered", Key=segment)["Body"].read()
    s3.put_object(Bucket="oms-replay-altered", Key=segment,
                  Body=body.replace(b'"ts":"2', b'"ts":"1', 1))  # a year back, same bytes
    for name, value in {"AWS_ENDPOINT_URL": handle.endpoints.aws_endpoint_url,
                        "AWS_ACCESS_KEY_ID": "REPLAYKEY", "AWS_SECRET_ACCESS_KEY": "replaykey",
                        "AWS_DEFAULT_REGION": handle.estate.region}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    assert "AWS_PROFILE" not in os.environ

    result = CliRunner().invoke(main, ["replay", "s3://oms-replay-altered"])
    assert result.exit_code == 1, result.output
    assert "not replayed: MIRROR FAILS VERIFICATION at seq" in result.output

    missing = CliRunner().invoke(main, ["replay", "s3://oms-replay-altered/nothing-here"])
    assert missing.exit_code == 2 and "holds no mirrored session" in missing.output
    served = CliRunner().invoke(main, ["watch", "s3://oms-replay-altered/nothing-here", "--web"])
    assert served.exit_code == 2 and "holds no mirrored session" in served.output  # not served


def test_a_recording_that_stops_is_said_on_the_drivers_screen(
        tmp_path: Path, handle: EstateHandle) -> None:
    plan_path, _ = write_plan(tmp_path, ONE_MANUAL_STEP)
    session = start_driver_session(load_plan_file(plan_path), SessionFolder(tmp_path / "s-2"),
                                   handle, pacing=Pacing(SPEED),
                                   ask_manual=lambda _step, _text: MANUAL_NOTE)
    try:
        assert session.problem is None
        gone = tmp_path / "disk-gone"  # where every write fails, as on a full disk
        session.recorder = PaneRecorder(gone / "panes.jsonl", lambda n: gone / f"p.{n}.jsonl")
        session.poll_pane("dns")
        view = session.view()
        assert view.problem is not None and "PANES NOT RECORDED since" in view.problem
        assert session.poll_pane("dns").error is None  # the pane itself goes on
    finally:
        session.close()
