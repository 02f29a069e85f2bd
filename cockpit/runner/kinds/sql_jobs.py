"""A long statement run as a one-off SQL Agent job, followed to its end.

The step starts the job, or finds the one a driver before it started (the job's name holds
the session, the step, the endpoint and what it does) and follows that instead of starting
the work again. While it runs, the step samples its progress; when it ends, the step reads
the outcome from msdb and deletes the job. An engineer's cancel KILLs the job's session and
says which; a cockpit that is stopping (a signal, the terminal gone) leaves the job running
for the next driver to re-attach to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from cockpit.estate import agent_jobs
from cockpit.estate.agent_jobs import JobRun, JobStep
from cockpit.runner.kinds.base import ActionContext, ActionFailed
from cockpit.runner.kinds.sql_progress import in_sql_words

FOLLOW_EVERY_S = 0.5  # how often msdb is asked whether the job has ended


@dataclass(frozen=True)
class Followed:
    job: JobRun | None  # None: it succeeded and deleted itself
    reattached: bool  # started by a driver before this one


def run_as_job(ctx: ActionContext, endpoint: str, what: str, steps: list[JobStep],
               proof: Callable[[], bool], sample: Callable[[], None] | None = None) -> Followed:
    """Run the statements as one job on the endpoint and wait for it. A job gone from msdb
    succeeded (it deletes itself then) if `proof` finds its work done in the estate;
    ActionFailed with the failed step's message (SQL Server's words) otherwise."""
    handle = ctx.handle
    name = agent_jobs.job_name(ctx.session_id or "no-session", ctx.step_id or "step",
                               endpoint, what)
    found = in_sql_words(handle, lambda: agent_jobs.look(handle, endpoint, name))
    if found is not None and found.started is None:  # created, never started: a crash
        in_sql_words(handle, lambda: agent_jobs.delete(handle, endpoint, name))
        found = None
    if found is None:
        in_sql_words(handle, lambda: agent_jobs.start(handle, endpoint, name, steps))
        _tell(ctx, f"{endpoint}: Agent job started: {name}", name, endpoint, "started")
    else:
        state = "running" if found.running else "ended"
        _tell(ctx, f"{endpoint}: re-attached to Agent job {name} ({state}, started "
                   f"{found.started}); not started again", name, endpoint, "re-attached")
    ended = _follow(ctx, endpoint, name, sample)
    if ended is None:
        if not in_sql_words(handle, proof):
            raise ActionFailed(f"{endpoint}: Agent job {name} is gone from msdb and its work "
                               "is not in the estate: re-check the step",
                               {"job": name, "endpoint": endpoint})
        return Followed(None, found is not None)
    in_sql_words(handle, lambda: agent_jobs.delete(handle, endpoint, name))
    if ended.status != agent_jobs.SUCCEEDED:
        raise ActionFailed(f"{endpoint}: Agent job {name} failed: {ended.message}",
                           {"job": name, "endpoint": endpoint, "message": ended.message})
    return Followed(ended, found is not None)


def _follow(ctx: ActionContext, endpoint: str, name: str,
            sample: Callable[[], None] | None) -> JobRun | None:
    """The job once it has ended; None once it is gone (it deleted itself)."""
    handle = ctx.handle
    every = max(0.05, min(FOLLOW_EVERY_S, ctx.progress_every_s))
    while True:
        job = in_sql_words(handle, lambda: agent_jobs.look(handle, endpoint, name))
        if job is None or (not job.running and job.status is not None):
            return job
        if ctx.cancelled is not None and ctx.cancelled.is_set():
            _cancel(ctx, endpoint, job)
        if sample is not None and ctx.progress is not None:
            sample()
        (ctx.cancelled or threading.Event()).wait(every)


def _cancel(ctx: ActionContext, endpoint: str, job: JobRun) -> None:
    """Stopping: leave the job to the next driver. The engineer's cancel: KILL it."""
    handle = ctx.handle
    if ctx.stopping():
        raise ActionFailed(f"{endpoint}: the cockpit stopped; Agent job {job.name} left "
                           "running: the next driver re-attaches to it",
                           {"job": job.name, "endpoint": endpoint, "left_running": True})
    session = in_sql_words(handle, lambda: agent_jobs.kill(handle, endpoint, job))
    _until_ended(ctx, endpoint, job.name)
    in_sql_words(handle, lambda: agent_jobs.delete(handle, endpoint, job.name))
    raise ActionFailed(f"{endpoint}: cancelled: KILL {session} ended Agent job {job.name}",
                       {"job": job.name, "endpoint": endpoint, "killed_session": session})


def _until_ended(ctx: ActionContext, endpoint: str, name: str, wait_s: float = 10.0) -> None:
    """A KILLed statement ends at its next look at the session: the job's history then
    says so, and only then is the job deleted (its history with it)."""
    handle, pause = ctx.handle, threading.Event()
    for _ in range(int(wait_s / FOLLOW_EVERY_S)):
        job = in_sql_words(handle, lambda: agent_jobs.look(handle, endpoint, name))
        if job is None or not job.running:
            return
        pause.wait(FOLLOW_EVERY_S)


def _tell(ctx: ActionContext, message: str, name: str, endpoint: str, what: str) -> None:
    if ctx.progress is not None:
        ctx.progress(message, {"job": name, "endpoint": endpoint, "agent": what})
