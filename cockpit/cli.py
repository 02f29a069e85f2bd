"""The `cockpit` command line: one function per command.

Heavy imports (boto3, textual, moto) happen inside the commands so that `cockpit --help`
stays fast on a jump host.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cockpit import __version__


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
    from cockpit.plan.loader import PlanLoadError, load_plan
    from cockpit.plan.table import render_plan_table

    try:
        loaded = load_plan(plan_file)
    except PlanLoadError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)
    click.echo(render_plan_table(loaded))


# --- audit ------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """Verify and export audit logs."""


@audit.command("verify")
@click.argument("log", type=click.Path(path_type=Path))
def audit_verify(log: Path) -> None:
    """Check the hash chain of LOG: exit 0 intact, 1 altered or torn, 2 unreadable."""
    from cockpit.audit.verify import verify_log

    report = verify_log(log)
    click.echo(report.describe())
    sys.exit(report.exit_code)


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
    """Export LOG as the change board's record (md, html) or as data (json, csv)."""
    from cockpit.audit.export import export_log
    from cockpit.audit.verify import AuditReadError

    try:
        text = export_log(log, fmt)
    except AuditReadError as exc:
        click.echo(f"{log}: {exc}", err=True)
        sys.exit(2)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        click.echo(f"{output}: cannot write: {exc.strerror or exc}", err=True)
        sys.exit(2)
    click.echo(f"wrote {output}")


# --- rehearse ---------------------------------------------------------------------------


def _fault_help() -> str:
    try:
        from cockpit.sim.faults import describe_faults
    except ImportError:
        return "(install the sim extra to list the faults)"
    return describe_faults()


class _RehearseCommand(click.Command):
    """Prints the list of simulated faults under the options."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Faults for --sim-fault NAME=ARG"):
            formatter.write_text("")
            for line in _fault_help().splitlines():
                formatter.write(f"  {line}\n")


@main.command("rehearse", cls=_RehearseCommand)
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option("--sim", is_flag=True, help="Rehearse against the simulated estate on loopback.")
@click.option("--session", "session_dir", type=click.Path(path_type=Path),
              help="Session folder (default: under $XDG_STATE_HOME/cockpit/sessions).")
@click.option("--speed", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Divide every simulated duration (and the plan's waits) by N.")
@click.option("--sim-fault", "faults", multiple=True, metavar="NAME=ARG",
              help="Inject a fault into the simulated estate (repeatable; listed below).")
@click.option("--take-over", is_flag=True, help="Drive a session whose last driver died.")
@click.option("--sim-endpoints", type=click.Path(path_type=Path),
              help="Reach a simulated estate served by `cockpit sim serve`.")
@click.option("--interrupted", type=click.Choice(["stop", "recheck", "rerun", "resume"]),
              default="stop", show_default=True,
              help="A step a dead driver left running: stop there, re-check its condition, "
                   "run it again, or resume (re-check, and run again only if not done).")
def rehearse(plan_file: Path, sim: bool, session_dir: Path | None, speed: float,
             faults: tuple[str, ...], take_over: bool, sim_endpoints: Path | None,
             interrupted: str) -> None:
    """Run every step of PLAN_FILE headless; exit 0 only if every step succeeded."""
    from cockpit.rehearsal import run_rehearsal

    if (faults or speed != 1.0) and not sim:
        raise click.UsageError("--speed and --sim-fault only apply with --sim")
    sys.exit(run_rehearsal(plan_file, sim=sim, session_dir=session_dir, speed=speed,
                           faults=faults, take_over=take_over, interrupted=interrupted,
                           sim_endpoints=sim_endpoints))


# --- the screens ------------------------------------------------------------------------


@main.command("run")
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option("--session", "session_dir", type=click.Path(path_type=Path),
              help="Session folder (default: under $XDG_STATE_HOME/cockpit/sessions).")
@click.option("--sim", is_flag=True, help="Drive the simulated estate on loopback.")
@click.option("--speed", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="With --sim: divide every simulated duration by N.")
@click.option("--sim-fault", "faults", multiple=True, metavar="NAME=ARG",
              help="With --sim: inject a fault (see `cockpit rehearse --help`).")
@click.option("--sim-endpoints", type=click.Path(path_type=Path),
              help="Reach a simulated estate served by `cockpit sim serve`.")
@click.option("--take-over", is_flag=True, help="Drive a session whose last driver died.")
def run(plan_file: Path, session_dir: Path | None, sim: bool, speed: float,
        faults: tuple[str, ...], sim_endpoints: Path | None, take_over: bool) -> None:
    """Open the driver's cockpit on PLAN_FILE."""
    from cockpit.drive import drive

    if (faults or speed != 1.0) and not sim:
        raise click.UsageError("--speed and --sim-fault only apply with --sim")
    sys.exit(drive(plan_file, sim=sim, session_dir=session_dir, speed=speed, faults=faults,
                   take_over=take_over, sim_endpoints=sim_endpoints))


@main.command("demo")
@click.option("--session", "session_dir", type=click.Path(path_type=Path),
              help="Session folder (default: under $XDG_STATE_HOME/cockpit/sessions).")
def demo(session_dir: Path | None) -> None:
    """The cockpit on the simulated estate: both windows of the OMS migration."""
    from cockpit.drive import demo as run_demo

    sys.exit(run_demo(session_dir))


@main.command("watch")
@click.argument("session_dir", type=click.Path(path_type=Path))
def watch(session_dir: Path) -> None:
    """Watch a session read-only: needs the session folder, no credentials."""
    from cockpit.drive import watch as run_watch

    sys.exit(run_watch(session_dir))


# --- the simulated estate on its own -----------------------------------------------------


@main.group("sim")
def sim_group() -> None:
    """The simulated estate, served by a process of its own."""


@sim_group.command("serve", cls=_RehearseCommand)
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option("--endpoints", "endpoints_file", type=click.Path(path_type=Path), required=True,
              help="Write where the sim answers here (read by --sim-endpoints).")
@click.option("--speed", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Divide every simulated duration by N.")
@click.option("--sim-fault", "faults", multiple=True, metavar="NAME=ARG",
              help="Inject a fault (repeatable; listed below).")
def sim_serve(plan_file: Path, endpoints_file: Path, speed: float,
              faults: tuple[str, ...]) -> None:
    """Serve PLAN_FILE's simulated estate until stopped; drivers may die and come back."""
    from cockpit.launch import SimUnavailable
    from cockpit.plan.loader import PlanLoadError, load_plan
    from cockpit.sim.serve import serve

    try:
        serve(load_plan(plan_file), endpoints_file, speed=speed, faults=faults,
              ready=click.echo)
    except PlanLoadError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)
    except (SimUnavailable, ValueError) as exc:
        click.echo(f"cockpit: {exc}", err=True)
        sys.exit(2)
