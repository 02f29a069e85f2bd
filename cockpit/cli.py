"""The `cockpit` command line: one function per command.

Heavy imports (boto3, textual, moto) happen inside the commands so that `cockpit --help`
stays fast on a jump host.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click

from cockpit import __version__

if TYPE_CHECKING:
    from cockpit.audit.pane_story import PaneStory
    from cockpit.plan.loader import LoadedPlan
    from cockpit.plan.models import ReadinessMoment, Step
    from cockpit.runner.state import StepState
    from cockpit.session.estate_choice import EstateChoice
    from cockpit.session.folder import SessionFolder
    from cockpit.session.mirror_watch import MirrorReader
    from cockpit.session.opening import DriverOpening
    from cockpit.session.rehearsal import RehearsalResult
    from cockpit.session.replay import SessionRecording
    from cockpit.session.served_sim import ServedSim
    from cockpit.session.shutdown import Stop
    from cockpit.settings import CockpitSettings
    from cockpit.ui.web.access import Bind, WatchPass

F = TypeVar("F", bound=Callable[..., Any])
DEMO_PLAN = Path(__file__).parent / "demo" / "oms-demo.toml"
DEMO_SPEED = 4.0
# `watch --web`: loopback, reached through an SSH tunnel.
WEB_BIND = "127.0.0.1:8023"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cockpit")
def main() -> None:
    """Drive a migration outage window: live estate panes, a keyed runbook, an audit log."""


# --- plan -------------------------------------------------------------------------------


@main.group()
def plan() -> None:
    """Check and show plan files."""


@plan.command("validate")
@click.argument("plans", nargs=-1, required=True, type=click.Path(path_type=Path))
def plan_validate(plans: tuple[Path, ...]) -> None:
    """Check PLAN files; print `file:line: problem` for each problem (exit 2)."""
    from cockpit.plan.loader import validate_files

    problems = validate_files(plans)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        sys.exit(2)
    for path in plans:
        click.echo(f"{path}: ok")


@plan.command("show")
@click.argument("plan_file", type=click.Path(path_type=Path))
def plan_show(plan_file: Path) -> None:
    """Print the phases, steps, kinds and dependencies of PLAN_FILE as a table."""
    from cockpit.plan.table import render_plan_table

    click.echo(render_plan_table(load_plan_or_exit(plan_file).plan))


@plan.command("budget")
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option("--from", "sessions", metavar="SESSION", multiple=True, required=True,
              type=click.Path(path_type=Path),
              help="A rehearsal's session folder (or its audit.jsonl); give it again for more.")
@click.option("--scale", type=click.FloatRange(min=0.1, max=100), default=1.0,
              show_default=True, help="Budget = the worst rehearsed time times this.")
@click.option("--write", is_flag=True,
              help="Write the proposed budgets into PLAN_FILE, each with where it came from.")
def plan_budget(plan_file: Path, sessions: tuple[Path, ...], scale: float, write: bool) -> None:
    """Propose each step's budget from rehearsals: its median and worst time, and the
    worst times --scale, rounded up; with --write, put them in PLAN_FILE."""
    from cockpit.audit.durations import UnusableLog, rehearsal_times
    from cockpit.plan.budgets import propose, step_budgets

    loaded = load_plan_or_exit(plan_file)
    try:
        # The same rehearsal named twice (its folder and its log) counts once.
        logs = {(s / "audit.jsonl" if s.is_dir() else s).resolve(): s for s in sessions}
        rehearsals = [rehearsal_times(session) for session in logs.values()]
    except UnusableLog as exc:
        click.echo(f"cockpit: {exc}", err=True)
        sys.exit(2)
    times: dict[str, list[float]] = {}
    for rehearsal in rehearsals:
        for note in rehearsal.left_out:
            click.echo(note, err=True)
        for step_id, seconds in rehearsal.seconds.items():
            times.setdefault(step_id, []).extend(seconds)
    budgets_now = step_budgets(loaded.raw.decode("utf-8"))
    proposals = propose(budgets_now, times, scale)
    for step_id in budgets_now:
        if step_id not in times:
            click.echo(f"{step_id}: no successful run in these rehearsals, budget kept", err=True)
    click.echo(_budget_table(proposals))
    if write:
        _write_budgets(loaded, proposals, [r.name for r in rehearsals], scale)


def _budget_table(proposals: list[Any]) -> str:
    from cockpit.plan.budgets import seconds_text

    rows = [("step", "runs", "median", "worst", "budget now", "proposed")]
    rows += [(p.step, str(p.runs), f"{p.median:.1f}s", f"{p.worst:.1f}s",
              f"{seconds_text(p.budget_now)}s", f"{seconds_text(p.budget)}s")
             for p in proposals]
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[n]) for n, cell in enumerate(row)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _write_budgets(loaded: LoadedPlan, proposals: list[Any], names: list[str],
                   scale: float) -> None:
    """The new text is loaded as a plan before it replaces the file: a write that broke the
    plan is refused, and the file stays as it was."""
    from cockpit.plan.budgets import BudgetLineError, provenance, write_budgets
    from cockpit.plan.loader import PlanLoadError, load_plan_text

    path = loaded.path
    budgets = {p.step: (p.budget, provenance(p, names, scale)) for p in proposals}
    try:
        text = write_budgets(loaded.raw.decode("utf-8"), budgets)
        load_plan_text(text, path)
    except BudgetLineError as exc:
        click.echo(f"{path}:{exc.line}: {exc}", err=True)
        sys.exit(2)
    except PlanLoadError as exc:
        for problem in exc.problems:
            click.echo(f"not written: {problem}", err=True)
        sys.exit(2)
    staged = path.with_name(f".{path.name}.budget")
    staged.write_bytes(text.encode("utf-8"))
    staged.chmod(path.stat().st_mode & 0o777)
    os.replace(staged, path)
    click.echo(f"wrote {len(budgets)} budget(s) into {path}")


# --- audit ------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """Verify and export audit logs."""


@audit.command("verify")
@click.argument("log")
@click.option("--against", metavar="s3://BUCKET/PREFIX",
              help="Also compare LOG (a log file or a session folder) line for line with "
                   "its S3 mirror: a rewritten, re-chained log differs from it.")
def audit_verify(log: str, against: str | None) -> None:
    """Check the hash chain of LOG (a file, a session folder, or an S3 mirror
    s3://bucket/prefix[/session]): exit 0 intact, 1 altered or torn, 2 unreadable."""
    from cockpit.audit.verify import verify_log

    if log.startswith("s3://"):
        if against:
            raise click.UsageError("--against compares a local log with a mirror")
        sys.exit(_verify_mirror(log))
    path = Path(log)
    path = path / "audit.jsonl" if path.is_dir() else path
    report = verify_log(path)
    click.echo(report.describe())
    if against and report.exit_code == 0:
        sys.exit(_compare_with_mirror(path, against))
    sys.exit(report.exit_code)


def _verify_mirror(url: str) -> int:
    from cockpit.estate.mirror_s3 import watcher_client
    from cockpit.session.mirror_watch import verify_mirror_at

    try:
        verdict = verify_mirror_at(watcher_client(), url)
    except Exception as exc:  # no such bucket, no access, S3 unreachable: unreadable
        click.echo(f"{url}: UNREADABLE: {_said(exc)}", err=True)
        return 2
    click.echo(verdict.describe())
    return verdict.exit_code


def _compare_with_mirror(log: Path, url: str) -> int:
    from cockpit.estate.mirror_s3 import watcher_client
    from cockpit.session.mirror_watch import compare_with_mirror

    try:
        said = compare_with_mirror(watcher_client(), log.read_bytes(), str(log),
                                   log.parent.name, url)
    except Exception as exc:
        click.echo(f"{url}: UNREADABLE: {_said(exc)}", err=True)
        return 2
    click.echo(said.said)
    return said.exit_code


def _said(exc: Exception) -> str:
    from cockpit.estate.errors import describe_error

    return describe_error(exc)


@audit.command("export")
@click.argument("log", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "md", "html"]),
    default="md",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write here, not stdout.")
def audit_export(log: Path, fmt: str, output: Path | None) -> None:
    """Export LOG as the change board's record (md, html) or as data (json, csv). The html
    shows what the panes showed around each step when the panes' recording is beside LOG."""
    from cockpit.audit.export import export_chunks
    from cockpit.audit.verify import AuditReadError

    try:
        chunks = export_chunks(log, fmt, _story_beside(log) if fmt == "html" else None)
    except AuditReadError as exc:
        click.echo(f"{log}: {exc}", err=True)
        sys.exit(2)
    if output is None:
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    try:
        _write_private(output, chunks)
    except OSError as exc:
        click.echo(f"{output}: cannot write: {exc.strerror or exc}", err=True)
        sys.exit(2)
    click.echo(f"wrote {output}")


def _story_beside(log: Path) -> PaneStory:
    from cockpit.session.folder import SessionFolder

    folder = SessionFolder(log.parent)
    parts = folder.pane_parts() if folder.audit == log else []
    if not parts:  # a log alone: none of the panes' machinery is loaded for it
        return {}
    from cockpit.session.pane_story import pane_story

    return pane_story(folder.plan, log, parts)


def _write_private(path: Path, chunks: Iterable[str]) -> None:
    """The record is readable by its owner only, like the session it comes from; an
    existing file is replaced and its mode tightened. Written as it is rendered: a long
    log's record is never held whole."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8", newline="") as out:
        os.fchmod(out.fileno(), 0o600)
        out.writelines(chunks)


# --- what several commands share --------------------------------------------------------


def load_plan_or_exit(plan_file: Path) -> LoadedPlan:
    """The plan, or every problem in it as `file:line: message` and exit 2."""
    from cockpit.plan.loader import PlanLoadError, load_plan_file

    try:
        return load_plan_file(plan_file)
    except PlanLoadError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)


def settings_or_exit() -> CockpitSettings:
    from cockpit.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def _fault_help() -> str:
    from cockpit.session.estate import describe_faults

    return describe_faults()


class _FaultsListed(click.Command):
    """Prints the list of simulated faults under the options."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Faults for --sim-fault NAME=ARG"):
            formatter.write_text("")
            for line in _fault_help().splitlines():
                formatter.write(f"  {line}\n")


def session_option(command: F) -> F:
    return click.option(
        "--session", "session_dir", type=click.Path(path_type=Path),
        help="Session folder (default: under $XDG_STATE_HOME/cockpit/sessions).")(command)


def estate_options(command: F) -> F:
    """--sim, --speed, --sim-fault, --sim-endpoints and --take-over, said once."""
    command = click.option("--take-over", is_flag=True,
                           help="Drive a session whose last driver died (recorded).")(command)
    return sim_options(command)


def sim_options(command: F) -> F:
    """--sim, --speed, --sim-fault and --sim-endpoints."""
    for option in reversed([
        click.option("--sim", is_flag=True, help="Use the simulated estate on loopback."),
        click.option("--speed", type=click.FloatRange(min=0.01), default=1.0,
                     show_default=True,
                     help="With --sim: divide every simulated duration (and the plan's "
                          "waits) by N."),
        click.option("--sim-fault", "faults", multiple=True, metavar="NAME=ARG",
                     help="With --sim: inject a fault (repeatable; listed below)."),
        click.option("--sim-endpoints", type=click.Path(path_type=Path),
                     help="Reach a simulated estate that `sim serve` serves in another process."),
    ]):
        command = option(command)
    return command


def estate_choice(sim: bool, speed: float, faults: tuple[str, ...],
                  sim_endpoints: Path | None) -> EstateChoice:
    """`--sim` of `run` and `rehearse` serves the estate for the session (`sim.json` in
    its folder), so that it outlives a driver that dies, as a real estate does."""
    from cockpit.session.estate_choice import EstateChoice

    if (faults or speed != 1.0) and not sim:
        raise click.UsageError("--speed and --sim-fault only apply with --sim")
    return EstateChoice(sim=sim, speed=speed, faults=faults, endpoints_file=sim_endpoints,
                        lasting=True)


def folder_for(session_dir: Path | None, plan_file: Path) -> SessionFolder:
    from cockpit.session.folder import SessionFolder

    return SessionFolder.at_or_new(session_dir, plan_file)


# --- rehearse ---------------------------------------------------------------------------


@main.command("rehearse", cls=_FaultsListed)
@click.argument("plan_file", type=click.Path(path_type=Path))
@session_option
@estate_options
@click.option("--interrupted", type=click.Choice(["stop", "recheck", "rerun", "resume"]),
              default="stop", show_default=True,
              help="A step a dead driver left running: stop there, re-check its condition, "
                   "run it again, or resume (re-check, and run again only if not done).")
@click.option("--manual-note", metavar="TEXT",
              help="Confirm every manual step with this note (unattended rehearsals); "
                   "without it a manual step is asked on the terminal, or refused.")
@click.option("--rollback", "rollback_phase", metavar="PHASE",
              help="Run the window up to PHASE's point of no return (exclusive), then "
                   "PHASE's rollback path: its length is measured.")
def rehearse(plan_file: Path, session_dir: Path | None, sim: bool, speed: float,
             faults: tuple[str, ...], sim_endpoints: Path | None, take_over: bool,
             interrupted: str, manual_note: str | None, rollback_phase: str | None) -> None:
    """Run every step of PLAN_FILE headless; exit 0 only if every step succeeded."""
    from cockpit.runner.lock import LockHeld, StaleLock
    from cockpit.session.driver import OpeningCancelled
    from cockpit.session.estate import SimUnavailable
    from cockpit.session.heartbeat import beating
    from cockpit.session.opening import DriverOpening
    from cockpit.session.rehearsal import rehearse as rehearse_plan
    from cockpit.session.rehearsal import rehearse_rollback
    from cockpit.session.served_sim import ServedSimFailed
    from cockpit.session.shutdown import Stop, TerminalWatch

    choice = estate_choice(sim, speed, faults, sim_endpoints)
    loaded, folder = load_plan_or_exit(plan_file), folder_for(session_dir, plan_file)
    opening = DriverOpening(loaded, folder, choice, settings=settings_or_exit(),
                            take_over=take_over)
    # SIGTERM, SIGHUP, SIGINT (or the terminal gone): the running step is cancelled and
    # ends on the record, the session closes (the stop thread does it, bounded), and no
    # step starts after it; the exit status says which signal it was.
    stop = Stop(opening)
    opening.ask_manual = _interruptible(_manual_answer(manual_note), stop)
    result: RehearsalResult | None = None
    with stop, TerminalWatch(stop.terminal_lost):
        try:
            try:
                session = opening.open()
                if session.estate is not None and session.estate.where:
                    injected = f", faults: {', '.join(faults)}" if faults else ""
                    click.echo(f"{session.estate.where}, speed x{speed:g}{injected}")
                click.echo(f"session: {folder}")
                for warning in session.warnings:
                    click.echo(f"warning: {warning}", err=True)
                with beating(session, opening.settings.runner.heartbeat_every_s):
                    if rollback_phase is not None:
                        result = rehearse_rollback(session.runner, rollback_phase,
                                                   on_step=stop.checked(_print_progress))
                    else:
                        result = rehearse_plan(session.runner,
                                               on_step=stop.checked(_print_progress),
                                               interrupted=interrupted)
            finally:
                opening.close()
        except BaseException as exc:
            # Once stopped, whatever broke off the rehearsal (Stopped between steps, a prompt
            # interrupted, a write to a terminal that is gone, the session closed under a
            # step) is the stop's doing: it is said below.
            if stop.reason is not None:
                pass
            # LockHung is a LockHeld: named as hung
            elif isinstance(exc, SimUnavailable | ServedSimFailed | LockHeld | StaleLock
                            | OpeningCancelled | ValueError):
                click.echo(f"cockpit: {exc}", err=True)
                sys.exit(2)
            else:
                raise
    _say_parting(opening)
    if stop.reason is not None or result is None:
        _say_stopped(stop, folder.audit)
    if result.stopped_at and not result.outcomes and interrupted == "stop":
        # interrupted, or failed a re-check since: either way not yet run to an end
        click.echo(f"{result.stopped_at} was cut short and is not recovered yet: reopen "
                   "with --interrupted resume "
                   "(re-check, run it again only if not done), recheck (judge its condition "
                   "now) or rerun (run it again)", err=True)
    click.echo()
    click.echo(result.render())
    click.echo(f"audit log: {folder.audit}")
    sys.exit(0 if result.succeeded else 1)


def _say_parting(opening: DriverOpening) -> None:
    """Where the session's simulated estate is left, and how far its mirror got, once
    the driver has closed."""
    session = opening.session
    estate = session.estate if session is not None else None
    said = [estate.parting(opening.settings.sim.linger_s) if estate is not None else ""]
    if session is not None and session.mirror is not None:
        said.append(session.mirror.parting())
    for line in filter(None, said):
        with suppress(OSError):  # after a hang-up there may be nothing to say it on
            click.echo(f"cockpit: {line}", err=True)


def _interruptible(ask: Callable[[Step, str], str | None],
                   stop: Stop) -> Callable[[Step, str], str | None]:
    """A prompt on the terminal gives up when the rehearsal is stopped (as Ctrl-C did)."""

    def answer(step: Step, instruction: str) -> str | None:
        with stop.interruptible():
            return ask(step, instruction)

    return answer


def _say_stopped(stop: Stop, log: Path) -> NoReturn:
    """The end of a rehearsal a signal stopped: said (if there is a terminal), and the exit
    status a shell gives a process that signal ended."""
    reason = stop.reason
    assert reason is not None
    with suppress(OSError):  # after a hang-up there may be nothing to say it on
        click.echo(f"cockpit: stopped by {reason.name}: every running step was cancelled and "
                   f"the session closed; resume with --interrupted resume", err=True)
        if stop.error is not None:
            click.echo(f"cockpit: closing the session: {stop.error}", err=True)
        click.echo(f"audit log: {log}")
    sys.exit(reason.exit_code)


def _manual_answer(note: str | None) -> Callable[[Step, str], str | None]:
    """Who confirms a manual step in a headless run: the note given, the person at the
    terminal, or nobody (the step is refused, and stays ready). Steps of two streams may
    ask at once: one question at a time on the terminal."""
    asking = threading.Lock()

    def answer(step: Step, instruction: str) -> str | None:
        with asking:
            return ask(step, instruction)

    def ask(step: Step, instruction: str) -> str | None:
        click.echo(f"  MANUAL     {step.id}: {instruction}")
        if note is not None:
            click.echo(f"             confirmed with --manual-note: {note}")
            return note
        if not sys.stdin.isatty():
            click.echo(f"cockpit: {step.id} is a manual step and there is no terminal to ask "
                       "on: run on a terminal, or give --manual-note TEXT", err=True)
            return None
        typed = click.prompt("             done? say what happened (empty: not done)",
                             default="", show_default=False).strip()
        return typed or None

    return answer


def _print_progress(state: StepState) -> None:
    duration = f"{state.duration_s:.1f}s" if state.duration_s is not None else "-"
    click.echo(f"  {state.status.value:<10} {state.step_id:<24} {duration:>8}"
               + (f"  {state.reason}" if state.reason else ""))


# --- check ------------------------------------------------------------------------------


@main.command("check", cls=_FaultsListed)
@click.argument("plan_file", type=click.Path(path_type=Path))
@sim_options
@click.option("--at", "moment", type=click.Choice(["t-48h", "t-1h", "go"], case_sensitive=False),
              help="Only the checks that apply then (default: every check).")
@click.option("--json", "as_json", is_flag=True, help="Every result with its evidence, as JSON.")
@click.option("--session", "session_dir", type=click.Path(path_type=Path),
              help="Record the verdicts in this session's audit log (created if new); the "
                   "driver shows the last ones when it opens the session.")
def check(plan_file: Path, sim: bool, speed: float, faults: tuple[str, ...],
          sim_endpoints: Path | None, moment: str | None, as_json: bool,
          session_dir: Path | None) -> None:
    """Judge PLAN_FILE's readiness checks on its estate, read-only, and print the go/no-go:
    exit 0 go, 1 no-go, 2 the plan is invalid or the estate cannot be opened."""
    import json
    from dataclasses import asdict

    from cockpit.runner.readiness import render_report
    from cockpit.session.estate import SimUnavailable
    from cockpit.session.readiness import check_plan

    choice = estate_choice(sim, speed, faults, sim_endpoints)
    loaded = load_plan_or_exit(plan_file)
    folder = folder_for(session_dir, plan_file) if session_dir is not None else None
    # click's Choice has narrowed it to one of the plan's moments
    at = cast("ReadinessMoment | None", moment.lower() if moment else None)
    try:
        report, recorded = check_plan(loaded, choice, settings=settings_or_exit(), at=at,
                                      folder=folder)
    except (SimUnavailable, ValueError) as exc:
        click.echo(f"cockpit: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps({"plan": loaded.plan.plan.name, "at": at, "go": report.go,
                               "checks": [asdict(r) for r in report.results],
                               "recorded": recorded}, indent=1, default=str))
    else:
        click.echo(render_report(loaded.plan, report))
        if recorded:
            click.echo(recorded)
    sys.exit(0 if report.go else 1)


# --- the screens ------------------------------------------------------------------------


@main.command("run", cls=_FaultsListed)
@click.argument("plan_file", type=click.Path(path_type=Path))
@session_option
@estate_options
def run(plan_file: Path, session_dir: Path | None, sim: bool, speed: float,
        faults: tuple[str, ...], sim_endpoints: Path | None, take_over: bool) -> None:
    """Open the driver's cockpit on PLAN_FILE."""
    choice = estate_choice(sim, speed, faults, sim_endpoints)
    sys.exit(_drive(plan_file, session_dir, choice, take_over=take_over))


@main.command("demo")
@session_option
def demo(session_dir: Path | None) -> None:
    """The cockpit on the simulated estate: both windows of the OMS migration."""
    from cockpit.session.estate_choice import EstateChoice

    sys.exit(_drive(DEMO_PLAN, session_dir, EstateChoice(sim=True, speed=DEMO_SPEED,
                                                         apart=True)))


def _drive(plan_file: Path, session_dir: Path | None, choice: EstateChoice, *,
           take_over: bool = False) -> int:
    folder = folder_for(session_dir, plan_file)
    _warn_if_not_multiplexed()
    # The estate first: it loads the plan itself, so its start need not wait for ours.
    early = _start_sim_early(plan_file, folder.path, choice)
    with _discarded_if_failing(early):
        settings, loaded = settings_or_exit(), load_plan_or_exit(plan_file)
    from cockpit.session.opening import DriverOpening
    from cockpit.ui.app import drive, make_opening_app

    # estate_wait_s=0: a stop while the estate still opens does not wait for it (see there)
    opening = DriverOpening(loaded, folder, choice, settings=settings, take_over=take_over,
                            estate_wait_s=0, early=early)
    try:
        ended = drive(make_opening_app(opening, settings=settings), opening)
    finally:
        opening.close()  # drive closed it: this only waits, if anything is still closing
    if ended.stopped is None or not ended.stopped.hangup:
        _say_parting(opening)
    if ended.stopped is not None:
        if not ended.stopped.hangup:  # after a hang-up there is no terminal to say it on
            click.echo(f"cockpit: stopped by {ended.stopped.name}; the session is closed: "
                       f"{folder}", err=True)
        return ended.stopped.exit_code
    if ended.error:
        click.echo(f"cockpit: {ended.error}", err=True)
        return 2
    click.echo(f"session: {folder}\naudit log: {folder.audit}")
    return 0


def _start_sim_early(plan_file: Path, session_dir: Path,
                     choice: EstateChoice) -> ServedSim | None:
    """A served sim starts now, before the session layer and the screen are imported (a
    second of the interpreter's time): it starts on the other core meanwhile, and the
    opening waits for it. Its own errors are the opening's to say. Before the driver's
    settings too (a third of a second of imports), unless they hold what it needs: a
    lasting estate's linger; the demo's is fixed."""
    from cockpit.session.served_sim import APART_LINGER_S, request_for, start_for_session

    linger_s = settings_or_exit().sim.linger_s if choice.lasting else APART_LINGER_S
    request = request_for(choice, plan_file, session_dir, linger_s)
    return None if request is None else start_for_session(request)


@contextmanager
def _discarded_if_failing(early: ServedSim | None) -> Iterator[None]:
    """Settings or a plan that do not load (or a Ctrl-C while they load) stop the estate
    just started for them, and leave nothing of it behind (their problems are ours to
    say)."""
    try:
        yield
    except BaseException:
        if early is not None and not early.reused:
            early.discard()
        raise


def _warn_if_not_multiplexed() -> None:
    if os.environ.get("TMUX") or os.environ.get("STY") or not sys.stdin.isatty():
        return
    click.echo("warning: not inside tmux or screen. If this SSH connection drops, the cockpit "
               "stops waiting (the running step is recorded as cancelled) and the window "
               "loses its driver until you reconnect and reopen the session. Run it inside "
               "`tmux new -s cutover` and re-attach with `tmux attach -t cutover`.", err=True)


@main.command("approve")
@click.argument("session_dir", type=click.Path(path_type=Path))
@click.argument("step")
@click.option("--action", type=click.Choice(["override", "skip", "mark-done", "undo"]),
              default="override", show_default=True, help="What the driver may then do.")
@click.option("--reason", required=True, help="Why: recorded in the audit log.")
def approve(session_dir: Path, step: str, action: str, reason: str) -> None:
    """Approve, as the second person, what the driver asks to do to STEP.

    Run from your own login on the jump host: the driver accepts an approval only from a
    login other than its own, and records who and why. It is good for 30 minutes."""
    from cockpit.runner import approvals

    try:
        left = approvals.leave(session_dir, step, action, reason)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"approval of {action} of {step} left for the driver of {session_dir}, as "
               f"{left.approver} (good until {(left.at + approvals.FRESH_FOR):%H:%M}Z)")


@main.command("watch")
@click.argument("session_dir", metavar="SESSION_DIR|s3://BUCKET/PREFIX[/SESSION]")
@click.option("--web", is_flag=True,
              help="Serve the watcher to browsers: each gets its own read-only watcher.")
@click.option("--bind", metavar="HOST:PORT", default=None,
              help=f"With --web: where to listen [default: {WEB_BIND}]. Loopback is reached "
                   "through an SSH tunnel; any other address asks for a token.")
@click.option("--approver", is_flag=True,
              help="Be the second person: a key (a) approves, as your login, what the "
                   "driver waits on (the driver refuses its own login).")
def watch(session_dir: str, web: bool, bind: str | None, approver: bool) -> None:
    """Watch a session read-only: needs the session folder (no credentials), or read
    access to its S3 mirror."""
    from cockpit.session.approving import Approver
    from cockpit.session.folder import SessionFolder
    from cockpit.session.watch import SessionReader
    from cockpit.ui.app import make_watch_app

    if bind is not None and not web:
        raise click.UsageError("--bind only applies with --web")
    if approver and (web or session_dir.startswith("s3://")):
        raise click.UsageError("--approver approves from the jump host: a session folder, "
                               "not --web or a mirror")
    if session_dir.startswith("s3://"):
        if web:  # each browser's watcher reads the mirror itself: say now if it cannot
            _mirror_reader(session_dir).close()
            sys.exit(_watch_in_browsers(session_dir, bind or WEB_BIND))
        sys.exit(_watch_mirror(session_dir))
    folder = SessionFolder(Path(session_dir))
    if not folder.holds_session():
        click.echo(f"cockpit: {session_dir} holds no session (no audit.jsonl)", err=True)
        sys.exit(2)
    settings = settings_or_exit()
    if web:
        sys.exit(_watch_in_browsers(str(Path(session_dir).resolve()), bind or WEB_BIND))
    reader = SessionReader(folder, hung_after_s=settings.runner.hung_after_s)
    approving = Approver(Path(session_dir)) if approver else None
    make_watch_app(reader, settings=settings, approver=approving).run()


def _watch_mirror(url: str) -> int:
    """The watcher's own credentials (the standard chain): read access to the prefix."""
    from cockpit.ui.app import make_watch_app

    settings = settings_or_exit()
    reader = _mirror_reader(url, hung_after_s=settings.runner.hung_after_s)
    try:
        make_watch_app(reader, settings=settings).run()
    finally:
        reader.close()
    return 0


def _mirror_reader(url: str, **options: Any) -> MirrorReader:
    """A reader of the one session at `url`, or exit 2 saying why there is none."""
    from cockpit.estate.mirror_s3 import MirrorAddress, MirrorUrlError, watcher_client
    from cockpit.session.mirror_watch import MirrorNotFound, MirrorReader, find_session

    try:
        s3 = watcher_client()
        return MirrorReader(s3, find_session(s3, MirrorAddress.parse(url)), **options)
    except (MirrorUrlError, MirrorNotFound) as exc:
        click.echo(f"cockpit: {exc}", err=True)
    except Exception as exc:  # no access, S3 unreachable
        click.echo(f"cockpit: cannot read {url}: {_said(exc)}", err=True)
    sys.exit(2)


@main.command("replay")
@click.argument("session_dir", metavar="SESSION_DIR|s3://BUCKET/PREFIX[/SESSION]")
@click.option("--at", "at", metavar="TIME", default=None,
              help="Start at this time of the window: HH:MM[:SS] (UTC) or an ISO time.")
@click.option("--speed", type=click.FloatRange(min=0.1, max=1000), default=1.0,
              show_default=True, help="Play N times faster than the window ran.")
def replay(session_dir: str, at: str | None, speed: float) -> None:
    """Play a window back from its session folder (or a copy), or from its S3 mirror:
    read-only, no estate."""
    from datetime import UTC, datetime

    from cockpit.session.replay import Replay, parse_moment
    from cockpit.ui.app import make_replay_app

    if at is not None:
        try:
            parse_moment(at, datetime.now(UTC))  # its form only: the window's day comes later
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--at") from exc
    settings = settings_or_exit()
    with _recording(session_dir) as recording:
        played = Replay(recording)
        played.speed = speed
        make_replay_app(played, at=at, settings=settings).run()


@contextmanager
def _recording(where: str) -> Iterator[SessionRecording]:
    """A session folder, or a mirror fetched whole into a private cache (gone after)."""
    from cockpit.session.folder import SessionFolder
    from cockpit.session.replay import FolderRecording

    if not where.startswith("s3://"):
        folder = SessionFolder(Path(where))
        if not folder.holds_session():
            click.echo(f"cockpit: {where} holds no session (no audit.jsonl)", err=True)
            sys.exit(2)
        yield FolderRecording(folder)
        return
    from cockpit.session.mirror_watch import MirrorRecording

    reader = _mirror_reader(where)
    try:
        recording = MirrorRecording(reader)
        if recording.refused is not None:
            click.echo(f"cockpit: not replayed: {recording.refused}", err=True)
            sys.exit(1)
        if reader.pane_problem:
            click.echo(f"cockpit: {reader.pane_problem}; the panes are shown up to it",
                       err=True)
        yield recording
    finally:
        reader.close()


def _watch_in_browsers(session: str, bind_text: str) -> int:
    """Serve `cockpit watch SESSION` (a folder's absolute path, or a mirror's address) to
    browsers until stopped."""
    import asyncio
    import shlex

    from cockpit.ui.web.access import Bind, WatchPass
    from cockpit.ui.web.gallery import Gallery

    try:
        bind = Bind.parse(bind_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bind") from None
    watch_pass = None if bind.loopback else WatchPass.issue(bind.port)
    # exec: the shell textual-serve starts it with gives way, so ending it ends the watcher
    command = "exec " + shlex.join([sys.executable, "-m", "cockpit", "watch",
                                    session])
    gallery = Gallery(command, bind, watch_pass=watch_pass,
                      title=f"cockpit watch {session.rstrip('/').rsplit('/', 1)[-1]}")
    try:
        asyncio.run(gallery.run(ready=lambda: _say_where_to_watch(bind, watch_pass)))
    except OSError as exc:
        click.echo(f"cockpit: cannot listen on {bind}: {exc.strerror or exc}", err=True)
        return 2
    return 0


def _say_where_to_watch(bind: Bind, watch_pass: WatchPass | None) -> None:
    import getpass
    import socket

    if watch_pass is None:
        url = f"http://localhost:{bind.port}/"
        click.echo(f"watch in a browser on this host: {url}\n"
                   f"from your own machine, open a tunnel first:\n"
                   f"  ssh -N -L {bind.port}:{bind} {getpass.getuser()}@{socket.getfqdn()}\n"
                   f"then open {url}")
    else:
        host = socket.getfqdn() if bind.host in ("0.0.0.0", "::") else bind.host
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"watch in a browser: http://{shown}:{bind.port}/?token={watch_pass.token}\n"
                   "the token is shown this once: whoever has this URL can watch. Plain "
                   "http: share it on a network you trust, or use the SSH tunnel instead.")
    click.echo("each browser gets its own read-only watcher; Ctrl+C stops serving")


# --- the simulated estate on its own -----------------------------------------------------


@main.group("sim")
def sim_group() -> None:
    """The simulated estate, served by a process of its own."""


@sim_group.command("serve", cls=_FaultsListed)
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option("--endpoints", "endpoints_file", type=click.Path(path_type=Path), required=True,
              help="Write where the sim answers here (read by --sim-endpoints).")
@click.option("--speed", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Divide every simulated duration by N.")
@click.option("--sim-fault", "faults", multiple=True, metavar="NAME=ARG",
              help="Inject a fault (repeatable; listed below).")
@click.option("--session", "session_dir", type=click.Path(path_type=Path),
              help="Serve for this session folder: stop once no driver has held it for "
                   "--linger seconds.")
@click.option("--linger", type=click.FloatRange(min=1), default=900.0, show_default=True,
              help="With --session: seconds without a driver before the sim stops itself.")
@click.option("--driver-pid", type=click.IntRange(min=1),
              help="Stop once this process, the driver that started the sim, has ended.")
def sim_serve(plan_file: Path, endpoints_file: Path, speed: float,
              faults: tuple[str, ...], session_dir: Path | None, linger: float,
              driver_pid: int | None) -> None:
    """Serve PLAN_FILE's simulated estate until stopped; drivers may die and come back.
    `run --sim` and `rehearse --sim` start one for their session by themselves."""
    from cockpit.session.estate import SimUnavailable, serve_sim
    from cockpit.session.served_sim import stop_when_orphaned

    if driver_pid is not None:  # first: the plan and the estate take seconds to load
        stop_when_orphaned(driver_pid)
    loaded = load_plan_or_exit(plan_file)
    try:
        serve_sim(loaded.plan, endpoints_file, speed=speed, faults=faults, ready=click.echo,
                  plan_sha256=loaded.sha256, session_dir=session_dir, linger_s=linger,
                  profile=settings_or_exit().sim.profile())
    except (SimUnavailable, ValueError) as exc:
        click.echo(f"cockpit: {exc}", err=True)
        sys.exit(2)
    # Stopped: its servers are closed and its folders removed. The interpreter's teardown
    # (collecting moto's backends) would keep the process, and a driver waiting for it to
    # end, most of a second more for nothing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
