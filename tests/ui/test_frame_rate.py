"""The cockpit's screens draw up to 120 frames a second: a key's repaint waits at most a
frame (8.3 ms) once its widget has changed. A rate set in the environment wins, as
textual-serve's 60 for the browsers it serves."""

from __future__ import annotations

import os
import subprocess
import sys

ASK = "import cockpit.ui.app; from textual import constants; print(constants.MAX_FPS)"


def _frames_a_second(env: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-c", ASK], capture_output=True, text=True,
                          env=env, check=True, timeout=60)
    return int(done.stdout)


def test_the_cockpit_draws_up_to_120_frames_a_second() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    assert _frames_a_second(env) == 120


def test_a_rate_set_in_the_environment_wins() -> None:
    assert _frames_a_second({**os.environ, "TEXTUAL_FPS": "60"}) == 60
