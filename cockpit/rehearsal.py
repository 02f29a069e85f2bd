"""`cockpit rehearse`: open the estate and a session, run the plan, print the outcome."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from cockpit.launch import SimUnavailable, open_estate
from cockpit.plan.loader import PlanLoadError, load_plan
from cockpit.runner.lock import LockHeld, StaleLock
from cockpit.runner.rehearse import RehearsalResult, rehearse
from cockpit.runner.runner import Runner
from cockpit.runner.state import StepState
from cockpit.sessions import default_session_dir


def run_rehearsal(plan_file: Path, *, sim: bool, session_dir: Path | None, speed: float,
                  faults: Sequence[str], take_over: bool, interrupted: str = "stop",
                  sim_endpoints: Path | None = None) -> int:
    try:
        plan = load_plan(plan_file)
    except PlanLoadError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        return 2
    folder = session_dir or default_session_dir(plan_file)
    try:
        with open_estate(plan, sim=sim, speed=speed, faults=faults,
                         sim_endpoints=sim_endpoints) as estate:
            if estate.sim is not None:
                injected = f", faults: {', '.join(faults)}" if faults else ""
                click.echo(f"simulated estate up: AWS at {estate.sim.aws_endpoint}, "
                           f"speed x{speed:g}{injected}")
            runner = Runner(plan, plan_file, estate.handle, folder, time_scale=estate.time_scale,
                            confirm_manual=_simulated_confirmation
                            if sim or sim_endpoints else None,
                            take_over=take_over)
            try:
                return _rehearse(runner, interrupted)
            finally:
                runner.close()
    except (SimUnavailable, LockHeld, StaleLock, ValueError) as exc:
        click.echo(f"cockpit: {exc}", err=True)
        return 2


def _rehearse(runner: Runner, interrupted: str) -> int:
    click.echo(f"session: {runner.folder}")
    for warning in runner.warnings:
        click.echo(f"warning: {warning}", err=True)
    result = rehearse(runner, on_step=_print_progress, interrupted=interrupted)
    if result.stopped_at and not result.outcomes and interrupted == "stop":
        click.echo(f"{result.stopped_at} is interrupted: reopen with --interrupted resume "
                   "(re-check, run it again only if not done), recheck (judge its condition "
                   "now) or rerun (run it again)", err=True)
    click.echo()
    click.echo(render_result(result))
    click.echo(f"audit log: {runner.folder / 'audit.jsonl'}")
    return 0 if result.succeeded else 1


def _simulated_confirmation(instruction: str) -> str:
    return f"rehearsal on the simulated estate: assumed done ({instruction})"


def _print_progress(state: StepState) -> None:
    duration = f"{state.duration_s:.1f}s" if state.duration_s is not None else "-"
    click.echo(f"  {state.status.value:<10} {state.step_id:<24} {duration:>8}"
               + (f"  {state.reason}" if state.reason else ""))


def render_result(result: RehearsalResult) -> str:
    rows = [("step", "result", "duration")]
    for state in result.outcomes:
        rows.append((state.step_id, state.status.value,
                     f"{state.duration_s:.1f}s" if state.duration_s is not None else "-"))
    for step_id in result.blocked:
        rows.append((step_id, "not run", "-"))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in width))
    if result.stopped_at:
        lines.append(f"stopped at {result.stopped_at}: nothing after it ran")
    elif result.blocked:
        lines.append(f"{len(result.blocked)} step(s) could not run")
    else:
        lines.append("every step succeeded")
    return "\n".join(lines)
