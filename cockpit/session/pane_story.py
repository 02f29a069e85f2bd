"""The export's story of the panes: each step's figures, from the panes' recording.

The recording is played forward once: every step's window (a minute either side of it) is
sampled at a fixed number of moments, all moments sorted, and the panes taken at each. A
long window's recording is read once and only the samples are kept.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

from cockpit.audit import events
from cockpit.audit.pane_story import MARGIN_S, PaneStory, StoryLine
from cockpit.audit.scan import read_log_lines
from cockpit.pictures import sparkline
from cockpit.plan.loader import PlanLoadError, load_plan_text
from cockpit.plan.models import Plan
from cockpit.runner.pane_recording import PanePlayback, read_recording
from cockpit.runner.pane_trends import figure
from cockpit.runner.panes import PANES, PaneView, panes_watched_by

POINTS = 24  # samples across each step's window: the sparkline's width
# Per pane: the cells naming a row, and the figures drawn.
FIGURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "apps": (("server",), ("ms",)),
    "ag": (("replica", "db"), ("send KB", "redo KB")),
    "backup": (("operation",), ("%",)),
}
_ENDS = {events.STEP_SUCCEEDED, events.STEP_FAILED, events.STEP_SKIPPED,
         events.STEP_WITHDRAWN, events.STEP_UNDONE}
Window = tuple[float, float]
Samples = dict[tuple[str, str, str], list[float | None]]  # (step, pane, figure) -> values


def pane_story(plan_copy: Path, audit: Path, parts: list[Path]) -> PaneStory:
    """From a session's plan copy, log and recording parts (a folder's, however it was
    kept); nothing when the panes were not recorded or the plan cannot be read."""
    try:
        plan = load_plan_text(plan_copy.read_text(encoding="utf-8-sig"), plan_copy)
    except (OSError, PlanLoadError):
        return {}
    if not parts:
        return {}
    windows = step_windows(audit)
    playback = read_recording(part.read_bytes() for part in parts)
    return build_story(plan, windows, playback)


def step_windows(audit: Path) -> dict[str, Window]:
    """Each step's last run: its last start to the end that followed it."""
    started: dict[str, float] = {}
    windows: dict[str, Window] = {}
    for line, _ in read_log_lines(audit):
        if line.step is None or line.event not in (events.STEP_STARTED, *_ENDS):
            continue
        when = _epoch(line.ts)
        if line.event == events.STEP_STARTED:
            started[line.step] = when
        elif line.step in started:
            windows[line.step] = (started[line.step], when)
    return windows


def build_story(plan: Plan, windows: dict[str, Window], playback: PanePlayback) -> PaneStory:
    watched = {step.id: sorted(panes_watched_by(step) & FIGURES.keys())
               for step in plan.steps() if step.id in windows}
    moments = sorted((when, index, step) for step, window in windows.items()
                     if watched.get(step)
                     for index, when in enumerate(_moments(*window)))
    samples: Samples = defaultdict(lambda: [None] * POINTS)
    for when, index, step in moments:
        playback.play_to(when)
        views = playback.views()
        for pane in watched[step]:
            if pane in views:
                _sample(samples, step, views[pane], index)
    return _lines(plan, samples)


def _moments(start: float, end: float) -> list[float]:
    """POINTS moments across the step and a margin either side (a quarter of the step, at
    most MARGIN_S, so a short step is not lost among its neighbours), its start and end
    among them, in time order."""
    margin = min(MARGIN_S, (end - start) / 4)
    first, last = start - margin, end + margin
    spread = [first + i * (last - first) / (POINTS - 3) for i in range(POINTS - 2)]
    return sorted([*spread, start, end])


def _sample(samples: Samples, step: str, view: PaneView, index: int) -> None:
    keys, figures = FIGURES[view.pane]
    if not all(c in view.columns for c in (*keys, *figures)):
        return
    for row in view.rows:
        name = " ".join(row.cells[view.columns.index(k)] for k in keys)
        for column in figures:
            value = figure(row.cells[view.columns.index(column)])
            if value is not None:
                samples[(step, view.pane, f"{name} {column}")][index] = value


def _lines(plan: Plan, samples: Samples) -> PaneStory:
    by_step: dict[str, list[StoryLine]] = {}
    for (step, pane, label), values in sorted(samples.items()):
        seen = [v for v in values if v is not None]
        by_step.setdefault(step, []).append(StoryLine(
            PANES.get(pane, pane), label, sparkline(values), f"{min(seen):,.0f}",
            f"{max(seen):,.0f}"))
    return {step.id: by_step[step.id] for step in plan.steps() if step.id in by_step}


def _epoch(ts: str | datetime) -> float:
    when = ts if isinstance(ts, datetime) else datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return when.timestamp()
