"""A session this process drives: estate handle, runner, pane poller, publisher, hooks.

`open_driver_session` is the one assembly of a driver, used alike by `cockpit run` and
`demo` (through `DriverOpening`, off the UI thread), by `cockpit rehearse`, by the
benchmarks and by the tests. The screen gets the `DriverSession` through the Protocols
in `session/protocols.py` and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace

from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import utcnow
from cockpit.notify.sender import Notifier
from cockpit.plan.loader import LoadedPlan
from cockpit.plan.models import Plan, Step
from cockpit.runner import rollback
from cockpit.runner.lock import DriverLock
from cockpit.runner.milestones import Slip
from cockpit.runner.opening import PlanRecord, open_as_driver
from cockpit.runner.pane_recording import PaneRecorder
from cockpit.runner.pane_trends import PaneTrends
from cockpit.runner.panes import PANES, PaneView, panes_watched_by
from cockpit.runner.poll_process import PollProcess, can_poll_apart
from cockpit.runner.poller import PanePoller
from cockpit.runner.preflight import check_before_opening
from cockpit.runner.runner import Pacing, Runner, StepRefused
from cockpit.runner.state import Status, StepState
from cockpit.session.approving import approval_lines
from cockpit.session.estate import OpenEstate, open_estate
from cockpit.session.estate_choice import EstateChoice
from cockpit.session.folder import ReadsFolder, SessionFolder
from cockpit.session.forecast import forecast
from cockpit.session.mirror import MirrorPublisher, open_mirror
from cockpit.session.protocols import CommandRefused, ManualPrompt, PaneCadence
from cockpit.session.served_sim import ServedSim, request_for
from cockpit.session.view import SessionView
from cockpit.settings import CockpitSettings, MirrorSettings, NotifySettings, RunnerSettings

MIRROR_CLOSE_WAIT_S = 10.0  # the last publish at a close: S3 down must not hold the exit


class DriverSession(ReadsFolder):
    """One driven session. Everything here may block (fsync, boto3, httpx, dnspython):
    the screen calls it from worker threads only."""

    def __init__(self, loaded: LoadedPlan, folder: SessionFolder, handle: EstateHandle,
                 runner: Runner) -> None:
        self.loaded, self.folder, self.handle, self.runner = loaded, folder, handle, runner
        self.estate: OpenEstate | None = None  # set when this session opened the estate
        self.hung_up = False
        self.mirror: MirrorPublisher | None = None
        # Only a driver records the panes: a watcher or a replay never writes the folder.
        self.recorder = PaneRecorder(folder.panes, folder.pane_part)
        self.trends = PaneTrends()
        self.slip: Slip | None = None  # told when the projected end slips (with a notifier)
        self._panes: dict[str, PaneView] = {}
        self._lock = threading.Lock()
        self._poller: PanePoller | None = None
        self._apart: PollProcess | None = None  # the poller the screen follows, if apart
        self._cadence: PaneCadence | None = None
        self._handed_over = False  # the process polls what the screen follows
        self._apart_after: set[str] | None = None  # panes to show before it starts
        self._show_pane: Callable[[PaneView], None] | None = None
        self._watched: tuple[int, set[str]] = (-1, set())

    @property
    def plan(self) -> Plan:
        return self.loaded.plan

    # --- what every screen reads ----------------------------------------------------------

    @property
    def how_to_watch(self) -> str:
        """From another host, the mirror is the way in (no shell on the jump host)."""
        folder = super().how_to_watch
        return folder if self.mirror is None else f"{folder} (other hosts: " \
            f"cockpit watch {self.mirror.where})"

    @property
    def problem(self) -> str | None:
        """The mirror's failure, while publishing fails: the driver must know watchers on
        other hosts are falling behind (the steps go on regardless); and a recording of the
        panes that stopped (a full disk): the replay of the window will end there."""
        said = [p for p in (self.mirror.failure if self.mirror is not None else None,
                            self.recorder.failed) if p]
        return "; ".join(said) if said else None

    @property
    def warnings(self) -> list[str]:
        said = list(self.runner.warnings)
        apart = self._apart
        if apart is not None and apart.problem is not None:
            said.append(apart.problem)
        for poller in (self._poller, apart):
            if poller is not None and poller.write_problem is not None:
                said.append("state.json not written (watchers see older panes): "
                            f"{poller.write_problem}")
        return said

    def view(self) -> SessionView:
        with self._lock:
            panes = dict(self._panes)
        entries = self.runner.entries
        return SessionView(plan=self.plan, run=self.runner.state(),
                           entries=entries, panes=panes,
                           driver=self.runner.driver_label(), problem=self.problem,
                           time_scale=self.runner.time_scale,
                           approvals=approval_lines(self.runner.folder, entries))

    # --- the panes --------------------------------------------------------------------------

    @property
    def poller(self) -> PanePoller:
        """The session's one pane poller, started on first use."""
        with self._lock:
            if self._poller is None:
                self._poller = PanePoller(self.handle, self.plan, self.runner.state,
                                          self._settle, self._publish_panes)
            return self._poller

    def poll_pane(self, pane: str) -> PaneView:
        """Probe one pane now; published to `state.json` and recorded for replay (when it
        changed) before this returns, so watchers see what the driver sees."""
        return self.poll_panes([pane])[pane]

    def poll_panes(self, panes: list[str]) -> dict[str, PaneView]:
        """Probe these panes now, all at once (their calls wait in parallel)."""
        return self.poller.poll(panes)

    def follow_panes(self, show: Callable[[PaneView], None], cadence: PaneCadence, *,
                     apart: bool = True) -> None:
        """Poll every pane on its own cadence from now on; each view built goes to `show`
        (from the poller's thread: it must only hand the view over). `apart`: in a
        process of its own (settings.polling.apart)."""
        self._show_pane, self._cadence = show, cadence
        with self._lock:
            started = self._apart
            later = apart and started is None and can_poll_apart(self.handle.endpoints)
            self._apart_after = set(PANES) if later else None
        if apart and started is not None:
            self._follow_with(started, cadence)
        else:
            self.poller.follow(cadence)

    def _start_apart_once_shown(self, pane: str) -> None:
        """The poller process starts once every pane has been shown: its start (1.5 s of
        CPU) then never competes with the first polls, and the panes are live as soon as
        they were."""
        with self._lock:
            waiting = self._apart_after
            if waiting is None:
                return
            waiting.discard(pane)
            if waiting:
                return
            self._apart_after, cadence = None, self._cadence
        if cadence is not None:
            threading.Thread(target=self._start_apart, args=(cadence,),
                             name="pane-poller-start", daemon=True).start()

    def _start_apart(self, cadence: PaneCadence) -> None:
        process = self._poller_process()
        if process is not None:
            self._follow_with(process, cadence)

    def _follow_with(self, apart: PollProcess, cadence: PaneCadence) -> None:
        if not apart.ready.is_set():
            self.poller.follow(cadence)  # until the process is ready: the first views now
        apart.when_ready(lambda: self._hand_over(apart, cadence))

    def _poller_process(self) -> PollProcess | None:
        """The process that polls the panes the screen follows, made once (its pipe
        opened on the estate); None where the estate cannot be reached from one
        (simulated in this process)."""
        with self._lock:
            if self._apart is None and can_poll_apart(self.handle.endpoints):
                self._apart = PollProcess()
                self._apart.open(self.handle.estate, self.handle.endpoints, self.plan,
                                 run_state=self.runner.state,
                                 run_mark=lambda: len(self.runner.entries),
                                 on_view=self._settle, persist=self._publish_panes,
                                 in_process=lambda: self.poller)
            return self._apart

    def _hand_over(self, apart: PollProcess, cadence: PaneCadence) -> None:
        """The process is ready: it polls from now on, unless the screen stopped following
        (or follows with another cadence) meanwhile."""
        with self._lock:
            if self._show_pane is None or self._cadence is not cadence:
                return
            in_process = self._poller
            self._handed_over = True
        apart.follow(cadence)
        if in_process is not None:
            in_process.unfollow()

    @property
    def polled(self) -> dict[str, int]:
        """How many views of each pane were built for the screen (by either poller)."""
        counts = dict.fromkeys(PANES, 0)
        for poller in (self._poller, self._apart):
            for pane, n in (poller.polled if poller is not None else {}).items():
                counts[pane] = counts.get(pane, 0) + n
        return counts

    @property
    def polled_apart_by(self) -> int | None:
        """The pid of the process polling the panes the screen follows; None while this
        process does (not yet handed over, an estate simulated here, or the child died)."""
        apart = self._apart
        if apart is None or not self._handed_over or apart.problem is not None:
            return None
        return apart.pid

    def stop_following_panes(self) -> None:
        self._show_pane, self._cadence, self._handed_over = None, None, False
        self._apart_after = None
        with self._lock:
            pollers = (self._poller, self._apart)
        for poller in pollers:
            if poller is not None:
                poller.unfollow()

    def _settle(self, view: PaneView) -> PaneView:
        """On the poller's loop: what the pane shows now, recorded for replay when it
        changed (one short unsynced append) and handed to the screen at once."""
        with self._lock:
            view = self.trends.add(_keep_last_good(self._panes.get(view.pane), view))
            self._panes[view.pane] = view
        self.recorder.record(view)
        self.runner.publisher.set_pane(view.pane, view.model_dump(mode="json"))
        show = self._show_pane  # read once: the screen may stop following meanwhile
        if show is not None:
            show(view)
            self._start_apart_once_shown(view.pane)
        return view

    def _publish_panes(self) -> None:
        self.runner.publisher.publish()

    def panes_to_watch(self) -> set[str]:
        """Asked several times a second by the poller: worked out again only when the log
        has grown (a step started or ended). Every running step's panes: steps of several
        streams may run at once."""
        entries = len(self.runner.entries)
        if entries != self._watched[0]:
            watched: set[str] = set()
            for running in self.runner.state().running_steps():
                watched |= panes_watched_by(self.plan.step(running.step_id))
            self._watched = (entries, watched)
        return self._watched[1]

    # --- commands ---------------------------------------------------------------------------

    def run(self, step_id: str) -> StepState:
        try:
            with _refused():
                return self.runner.run_step(step_id)
        finally:
            self.start_auto_steps()

    def override(self, step_id: str, reason: str) -> StepState:
        try:
            with _refused():
                return self.runner.run_step(step_id, override_reason=reason)
        finally:
            self.start_auto_steps()

    # --- steps that start by themselves ---------------------------------------------------

    def start_auto_steps(self) -> list[str]:
        """Every `auto` step now ready starts at once, each in a thread of its own: no key,
        no dead time between the step it waited on and it. Called whenever a command of
        this driver ends (a run, a skip, a mark-done); an opening starts nothing by itself,
        so the first step after a (re)start is always the engineer's. Returns those
        started."""
        run = self.runner.state()
        busy = set(self.runner.running_now())
        ready = [step.id for step in self.plan.steps() if step.auto
                 and run.steps[step.id].status is Status.READY and step.id not in busy]
        for step_id in ready:
            threading.Thread(target=self._run_auto, args=(step_id,), daemon=True,
                             name=f"auto {step_id}").start()
        return ready

    def _run_auto(self, step_id: str) -> None:
        # Its outcome is on the record either way; a refusal means another thread (or the
        # close) got there first.
        with suppress(CommandRefused, OSError, ValueError):
            self.run(step_id)

    def running(self) -> list[str]:
        """The steps running now, in plan order."""
        return [s.step_id for s in self.runner.state().running_steps()]

    def cancel_step(self, step_id: str) -> list[str]:
        """Stop waiting on one running step (it ends failed, cancelled); the others go on.
        Returns the steps cancelled (none when it was not running)."""
        return self.runner.cancel(step_id)

    def undo(self, step_id: str) -> StepState:
        with _refused():
            return self.runner.undo_step(step_id)

    def skip(self, step_id: str, reason: str) -> None:
        with _refused():
            self.runner.skip_step(step_id, reason)
        self.start_auto_steps()

    def mark_done(self, step_id: str, reason: str) -> None:
        with _refused():
            self.runner.mark_done(step_id, reason)
        self.start_auto_steps()

    def recheck(self, step_id: str) -> StepState:
        try:
            with _refused():
                return self.runner.recheck_step(step_id)
        finally:
            self.start_auto_steps()

    def note(self, text: str) -> None:
        with _refused():
            self.runner.add_note(text)

    def roll_back(self) -> str:
        with _refused():
            return self.runner.roll_back()

    def rollback_refusal(self) -> str | None:
        return rollback.refusal(self.plan, self.runner.state(), self.runner.entries)

    def rollback_path(self) -> tuple[str, list[Step]] | None:
        path = rollback.current_path(self.plan, self.runner.entries)
        return (path.phase.id, path.steps) if path is not None else None

    def refusal(self, step_id: str) -> str | None:
        alone = rollback.outside_rollback(self.plan, self.runner.state(), step_id)
        if alone is not None:
            return alone
        state = self.runner.step_state(step_id)
        if state.status in Runner.RUNNABLE:
            return None
        waiting = f": waiting on {', '.join(state.waiting_on)}" if state.waiting_on else ""
        return f"{step_id} is {state.status.value}{waiting}"

    def next_ready(self) -> str | None:
        return self.runner.next_ready()

    def cancel(self, *, hangup: bool = False, stopped_by: str | None = None) -> None:
        """Stop waiting: the running step ends (cancelled). `stopped_by` (a signal's name):
        the cockpit itself is stopping, and the step it cuts short is marked interrupted."""
        self.hung_up = self.hung_up or hangup
        self.runner.cancel(stopped_by=stopped_by)

    def answer_manual_with(self, prompt: ManualPrompt) -> None:
        self.runner.ask_manual = prompt

    def heartbeat(self) -> None:
        self.runner.heartbeat()
        notifier = self.runner.notifier
        if self.slip is None or notifier is None:
            return
        view = self.view()
        projected = forecast(view, utcnow()) if view.completion() is None else None
        for notice in self.slip.check(projected.ends if projected else None):
            notifier.submit(notice)  # recorded, sent or not, at the next heartbeat

    def close(self, *, wait_s: float = 30.0) -> None:
        # The poller first: no view may land (and be recorded or published) after the
        # session's last word.
        with self._lock:
            pollers = (self._apart, self._poller)
        for poller in pollers:
            if poller is not None:
                poller.close()
        try:
            self.runner.close(hangup=self.hung_up, wait_s=wait_s)
        finally:
            if self.mirror is not None:  # `session.closed` too, if S3 answers in time
                self.mirror.close(wait_s=min(wait_s, MIRROR_CLOSE_WAIT_S))
            self.recorder.close()


@contextmanager
def _refused() -> Iterator[None]:
    """The runner's refusals, in one type the screen knows."""
    try:
        yield
    except (StepRefused, ValueError, KeyError) as exc:
        raise CommandRefused(str(exc).strip("'\"")) from exc


def _keep_last_good(previous: PaneView | None, fresh: PaneView) -> PaneView:
    """A poll that failed outright keeps the last rows it had, with their own (ageing)
    time and the new error: the pane shows what was last seen, marked stale, and why."""
    if not fresh.error or fresh.rows or previous is None or not previous.rows:
        return fresh
    return previous.model_copy(update={"error": fresh.error})


# --- opening ----------------------------------------------------------------------------------


def start_driver_session(loaded: LoadedPlan, folder: SessionFolder, handle: EstateHandle, *,
                         pacing: Pacing | None = None, take_over: bool = False,
                         ask_manual: ManualPrompt | None = None,
                         runner_settings: RunnerSettings | None = None,
                         notifier: Notifier | None = None,
                         mirror: MirrorSettings | None = None,
                         slip_after_s: float | None = None) -> DriverSession:
    """Take the folder's lock, keep a copy of the plan, open the log, build the runner.
    The estate is the caller's: it outlives the session (tests, benchmarks). A notifier
    given is the session's from then on: its close finishes it."""
    folder.create()
    settings = runner_settings or RunnerSettings()
    lock = DriverLock(folder.lock, hung_after_s=settings.hung_after_s,
                      stop_grace_s=settings.hung_stop_grace_s)
    try:
        lock.acquire(take_over=take_over)
    except BaseException:
        if notifier is not None:
            notifier.finish()  # nothing was queued: its thread just ends
        raise
    try:
        folder.keep_plan(loaded.raw)
        record = PlanRecord(loaded.plan.plan.name, loaded.path, loaded.sha256)
        opened = open_as_driver(folder, lock, plan=record, handle=handle)
    except BaseException:
        lock.release(restore_previous=True)  # the dead driver's name stays for next time
        if notifier is not None:
            notifier.finish()
        raise
    runner = Runner(loaded.plan, handle, opened, pacing=pacing, ask_manual=ask_manual,
                    notifier=notifier)
    runner.resume_shipping()  # days of log shipping outlive any one driver
    runner.resume_point_of_no_return()
    session = DriverSession(loaded, folder, handle, runner)
    if notifier is not None and slip_after_s is not None:
        session.slip = Slip(loaded.plan.plan.name, slip_after_s, runner.time_scale)
    if mirror is not None and mirror.url:
        session.mirror = _mirror_for(folder, handle, mirror, runner)
    return session


def _mirror_for(folder: SessionFolder, handle: EstateHandle, settings: MirrorSettings,
                runner: Runner) -> MirrorPublisher:
    """The mirror's S3 client goes through the estate's AWS session (its profile), at the
    estate's endpoint unless the setting names another."""
    s3 = (handle.client_at("s3", settings.endpoint_url) if settings.endpoint_url
          else handle.client("s3"))
    publisher = open_mirror(folder, settings, s3)
    runner.publisher.listeners.append(publisher.changed)
    publisher.changed()  # what the opening wrote, before anyone was listening
    return publisher


def notifier_for(settings: NotifySettings) -> Notifier | None:
    """The session's notifier, when the settings name anyone to tell."""
    if not settings.urls:
        return None
    return Notifier(settings.urls, attempts=settings.attempts,
                    retry_after_s=settings.retry_after_s, close_wait_s=settings.close_wait_s)


class OpeningCancelled(RuntimeError):
    """The cockpit was told to stop while the estate opened: no session was opened."""


@contextmanager
def open_driver_session(loaded: LoadedPlan, folder: SessionFolder, choice: EstateChoice, *,
                        settings: CockpitSettings | None = None, take_over: bool = False,
                        ask_manual: ManualPrompt | None = None,
                        close_wait_s: float = 30.0,
                        abandon: Callable[[], str | None] | None = None,
                        early: ServedSim | None = None,
                        ) -> Iterator[DriverSession]:
    """Open the estate and drive a session on it; at the end the session is closed on the
    record (a running step first brought to its end), then the estate. `abandon` is asked
    once the estate is open, before the lock is taken: a reason means no session is opened
    (OpeningCancelled), and the estate is stopped again. `early` is the session's served
    sim, started before this was called (`served_sim.start_for_session`)."""
    settings = settings or CockpitSettings()
    choice = replace(choice, plan_sha256=loaded.sha256,
                     served_for=request_for(choice, loaded.path, folder.path,
                                            settings.sim.linger_s))
    with open_estate(loaded.plan, choice, aws=settings.aws, early=early) as estate:
        check_before_opening(loaded.plan, estate.handle)  # the account, the Name tags
        why = abandon() if abandon is not None else None
        if why is not None:
            raise OpeningCancelled(f"the session was not opened: {why}")
        pacing = Pacing(estate.time_scale, settings.runner.until_poll_s,
                        settings.runner.progress_every_s)
        session = start_driver_session(loaded, folder, estate.handle, pacing=pacing,
                                       take_over=take_over, ask_manual=ask_manual,
                                       runner_settings=settings.runner,
                                       notifier=notifier_for(settings.notify),
                                       mirror=_mirror_settings(loaded.plan, settings),
                                       slip_after_s=settings.notify.slip_minutes * 60)
        session.estate = estate
        estate.keep_served = choice.lasting  # from here the estate is the session's
        try:
            yield session
        finally:
            session.close(wait_s=close_wait_s)
            # A plan done needs its estate no more; else the next driver goes on with it.
            estate.keep_served = choice.lasting and not session.runner.state().all_done()


def _mirror_settings(plan: Plan, settings: CockpitSettings) -> MirrorSettings:
    """The config's mirror; else the one the plan names, with the config's other knobs."""
    if settings.mirror.url or not plan.plan.mirror:
        return settings.mirror
    return settings.mirror.model_copy(update={"url": plan.plan.mirror.rstrip("/")})
