"""The lock's heartbeat: a driver that holds a session but stopped answering is named as
hung, and `--take-over` stops it (SIGTERM, then SIGKILL) with the evidence kept; a live
driver, or a pid the kernel says does not hold the lock, is never signalled."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from support.holders import LONG_AGO, holding

from cockpit.runner.lock import DriverLock, LockHeld, LockHung, is_held, read_holder


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    return tmp_path / "session" / "lock"


def test_a_driver_beats_in_its_lock_file_for_watchers(lock: Path) -> None:
    lock.parent.mkdir()
    driver = DriverLock(lock)
    driver.acquire()
    try:
        (lock).write_text("")  # as if the line were lost: the next beat writes it whole
        driver.beat()
        holder = read_holder(lock)
        assert holder is not None and holder.pid == os.getpid()
        silent = holder.silent_s()
        assert silent is not None and silent < 5
        assert not holder.is_hung(30)
    finally:
        driver.release()
    assert lock.read_bytes() == b""
    driver.beat()  # after the release: nothing written, nothing raised
    assert lock.read_bytes() == b""


def test_a_silent_holder_is_named_as_hung_and_not_touched_without_take_over(
        lock: Path) -> None:
    with holding(lock) as hung:
        with pytest.raises(LockHung) as refused:
            DriverLock(lock).acquire()
        said = str(refused.value)
        assert f"pid {hung.pid}" in said and "hung" in said and "--take-over" in said
        assert f"last {LONG_AGO}" in said
        assert hung.poll() is None  # asked nothing of it
        assert is_held(lock)


def test_take_over_stops_a_hung_holder_with_sigterm_and_records_how(lock: Path) -> None:
    with holding(lock) as hung:
        driver = DriverLock(lock)
        driver.acquire(take_over=True)
        try:
            assert hung.wait(timeout=30) == -signal.SIGTERM
            assert driver.previous is not None and driver.previous.pid == hung.pid
            evidence = driver.stopped_hung
            assert evidence is not None
            assert evidence["signals"] == ["SIGTERM"]
            assert evidence["pid"] == hung.pid and evidence["last_beat"] == LONG_AGO
            assert evidence["silent_s"] > 30
            assert json.loads(lock.read_bytes())["pid"] == os.getpid()
        finally:
            driver.release(restore_previous=True)
    assert lock.read_bytes() == b"", "a hung driver that was stopped is not put back"


def test_a_holder_deaf_to_sigterm_is_killed_after_the_grace(lock: Path) -> None:
    with holding(lock, sigterm="ignore") as hung:
        driver = DriverLock(lock, stop_grace_s=0.3)
        driver.acquire(take_over=True)
        try:
            assert hung.wait(timeout=30) == -signal.SIGKILL
            assert driver.stopped_hung is not None
            assert driver.stopped_hung["signals"] == ["SIGTERM", "SIGKILL"]
        finally:
            driver.release()


def test_a_live_holder_is_never_signalled_even_with_take_over(lock: Path) -> None:
    with holding(lock, beat="now") as alive:
        with pytest.raises(LockHeld) as refused:
            DriverLock(lock).acquire(take_over=True)
        assert not isinstance(refused.value, LockHung)
        assert f"pid {alive.pid}" in str(refused.value)
        assert alive.poll() is None


def test_a_pid_that_does_not_hold_the_lock_is_never_signalled(lock: Path) -> None:
    # The line names this very test's process, as a reused pid would: signalling it would
    # stop an innocent process. The kernel's list of flock holders says who really holds it.
    with holding(lock, pid=str(os.getpid())) as holder:
        with pytest.raises(LockHeld) as refused:
            DriverLock(lock).acquire(take_over=True)
        assert f"held by pid(s) [{holder.pid}]" in str(refused.value)
        assert holder.poll() is None
