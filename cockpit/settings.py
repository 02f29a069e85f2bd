"""Every operational knob of the cockpit, its default and its reason, in one model.

The knobs used to be constants next to the code that used them, so an engineer could not
see or change them without reading the source. Here each one is a field with its unit,
bounds and why its default is what it is, read from one TOML file
(`locations.config_file()`) and from `COCKPIT_SECTION__FIELD` variables, which win over
the file so one run can be changed without editing it.

A config problem is found before a window starts and reported like a plan problem:
`file:line: what is wrong` (or `COCKPIT_X__Y: what is wrong`), never a traceback, because
the engineer reading it may be on a jump host minutes before the outage.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any

import pydantic_settings
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from cockpit.bindings import ACTIONS
from cockpit.locations import config_file
from cockpit.plan.loader import PlanLoadError, parse_toml
from cockpit.plan.messages import closest, quoted, show
from cockpit.plan.toml_lines import KeyPath, line_of, scan_key_lines

ENV_PREFIX = "COCKPIT_"
ENV_DELIMITER = "__"


class SettingsError(ValueError):
    """The config file or a `COCKPIT_*` variable cannot be used: one `where: what` a line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


# --- value types ------------------------------------------------------------------------


def _plain_number(value: Any) -> Any:
    """pydantic reads `true` as 1 and reports nan as out of bounds: refuse both here, in
    words that say what is wrong. (A variable's text is parsed later, then bounds-checked.)"""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be a finite number, not {show(value)}")
    return value


Seconds = Annotated[float, BeforeValidator(_plain_number)]
Count = Annotated[int, BeforeValidator(_plain_number)]


def _known_binding(binding_id: str) -> str:
    known = sorted(action.id for action in ACTIONS)
    if binding_id not in known:
        raise ValueError(f"unknown binding id {quoted(binding_id)} in [keys]"
                         f"{closest(binding_id, known)}; known: {', '.join(known)}")
    return binding_id


def _key_list(keys: str) -> str:
    """`"x,f7"`: the form Textual's keymap takes; an empty part would bind nothing."""
    parts = [part.strip() for part in keys.split(",")]
    if not all(parts):
        raise ValueError(f'must be keys separated by commas, such as "x,f7", not {show(keys)}')
    return ",".join(parts)


BindingId = Annotated[str, AfterValidator(_known_binding)]
KeyList = Annotated[str, AfterValidator(_key_list)]


# --- the model ----------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class PollingSettings(_Section):
    """How often the panes ask the estate, and a watcher re-reads the session."""

    pane_every_s: Seconds = Field(2.0, ge=0.1, le=300)
    """Seconds between two polls of one estate pane (driver). 2 s shows a change while the
    engineer is still looking, and a whole estate's calls stay far below AWS rate limits."""

    pane_fast_every_s: Seconds = Field(0.5, ge=0.1, le=300)
    """Seconds between polls of a pane a running step is waiting on. 0.5 s: the pane that
    decides the step should move as soon as the estate does; it is one pane, briefly."""

    apart: bool = True
    """Poll the panes the driver's screen follows in a process of its own, so a key never
    waits for a poll (key press p99 at 10x, panes each second: medians 45 -> 33 ms), for
    a second interpreter's memory (about 95 MB). False polls them in the driver's process,
    for a jump host short of memory."""

    watch_read_every_s: Seconds = Field(0.5, ge=0.05, le=60)
    """Seconds between a watcher's re-reads of the session folder. 0.5 s keeps watchers
    within a second of the driver; the read is of local files, so it is cheap."""


class DisplaySettings(_Section):
    """How the screen judges what it shows."""

    stale_after_s: Seconds = Field(15.0, ge=1, le=3600)
    """Seconds after which a pane's last reading is marked STALE. 15 s is several missed
    polls, so one slow AWS call does not flash it, but a stuck poller shows in seconds."""


class RunnerSettings(_Section):
    """How a running step waits on the estate."""

    until_poll_s: Seconds = Field(5.0, ge=0.1, le=600)
    """Nominal seconds between checks of a step's `until` condition (and of a long
    action's progress); a short step timeout shortens it. 5 s: conditions such as health
    checks change on that scale, and each check is a round of estate calls."""

    progress_every_s: Seconds = Field(30.0, ge=1, le=3600)
    """Seconds after which an unchanged wait is still written to the audit log. 30 s shows
    the wait was alive without filling the log with identical entries."""

    heartbeat_every_s: Seconds = Field(2.0, ge=0.1, le=60)
    """Seconds between the driver's heartbeats in its lock file. 2 s: cheap (one small
    write, no fsync) and well inside `hung_after_s`."""

    hung_after_s: Seconds = Field(30.0, ge=1, le=3600)
    """Seconds without a heartbeat after which a driver that still holds the session is
    named as hung (to watchers, and to a driver asked to `--take-over`). 30 s: far above
    any pause of a healthy loop, short enough to matter during an outage."""

    hung_stop_grace_s: Seconds = Field(10.0, ge=0.1, le=120)
    """Seconds a hung driver gets after SIGTERM to close its record before a take-over
    sends SIGKILL. 10 s: a driver that can still run closes in well under that."""


class NotifySettings(_Section):
    """Who is told of the window's milestones (phase started and ended, go/no-go passed, a
    step failed or past its budget, the window complete), through apprise."""

    urls: list[str] = []
    """apprise URLs (`json://`, `slack://`, `msteams://`, `mailto://`, ...), one target
    each. They hold tokens: keep them in the config file (0600) or COCKPIT_NOTIFY__URLS (a
    JSON list), never in the plan; the record names each by apprise's masked form."""

    attempts: Count = Field(3, ge=1, le=10)
    """Tries per notice and target before it is recorded as not sent."""

    retry_after_s: Seconds = Field(2.0, ge=0, le=300)
    """Seconds between tries. 2 s rides out a webhook's brief hiccup."""

    close_wait_s: Seconds = Field(5.0, ge=0, le=120)
    """Seconds a closing session gives notices still queued; what is left then is recorded
    as not sent. 5 s: closing must stay quick when a webhook is down."""

    slip_minutes: float = Field(10.0, ge=1, le=600)
    """Minutes the window's projected end must move later before the bridge is told (and
    again each time it has moved that much more). 10: a slip worth a decision."""


class AwsSettings(_Section):
    """How the cockpit talks to AWS (botocore's client config)."""

    connect_timeout_s: Seconds = Field(2.0, ge=0.1, le=60)
    """Seconds to open a connection to an AWS endpoint. 2 s: a healthy endpoint answers in
    milliseconds, and a pane must not freeze on one that does not."""

    read_timeout_s: Seconds = Field(5.0, ge=0.1, le=300)
    """Seconds to wait for an AWS response once connected. 5 s covers slow describe calls
    and still shows a stuck call as an error well within a poll or two."""

    max_attempts: Count = Field(3, ge=1, le=10)
    """Attempts per AWS call, the first included (botocore's standard retry mode). 3 rides
    over a throttle or a dropped connection without hiding a real outage for long."""


class MirrorSettings(_Section):
    """Where the driver mirrors its session for watchers on other hosts (S3), and how."""

    url: str = ""
    """`s3://bucket/prefix`: the audit log (as append-only segments), `state.json` and the
    head are published under `prefix/<session>/`. Empty: no mirror. The bucket is made
    beforehand (with Object Lock enabled when `object_lock` is on); the driver needs only
    s3:PutObject on the prefix."""

    object_lock: bool = False
    """Write the log's segments and the plan under S3 Object Lock (COMPLIANCE mode), so
    that not even the driver's credentials can rewrite the record once published."""

    retention_days: Count = Field(30, ge=1, le=3650)
    """Days each locked object is retained. 30: past any change board's review."""

    publish_every_s: Seconds = Field(1.0, ge=0.05, le=60)
    """Seconds the publisher gathers appends into one segment before it uploads them. 1 s:
    watchers stay within seconds of the driver, and a burst of entries is one request."""

    heartbeat_every_s: Seconds = Field(10.0, ge=1, le=600)
    """Seconds after which the head is published again though nothing changed, so a
    watcher can tell a quiet driver from a mirror that stopped. 10 s: one small PUT."""

    retry_after_s: Seconds = Field(2.0, ge=0.05, le=300)
    """Seconds between tries while publishing fails; what failed is shown meanwhile."""

    endpoint_url: str = ""
    """An S3 endpoint other than the estate's (a mirror bucket kept in another account or
    region, or a test's). Empty: the estate's own AWS session and endpoint."""

    @field_validator("url")
    @classmethod
    def _s3_url(cls, url: str) -> str:
        if url and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?", url):
            raise ValueError(f"must be s3://bucket/prefix, not {show(url)}")
        return url.rstrip("/")


class SimSettings(_Section):
    """The simulated estate of a `--sim` session (`cockpit run`, `cockpit rehearse`)."""

    linger_s: Seconds = Field(900.0, ge=1, le=86400)
    """Seconds a session's simulated estate stays up with no driver, so that a driver that
    died is reopened on the estate it left (as a real one would be); then it stops itself.
    It stops at once when the plan is done. 15 min: time to notice, read and reopen."""
    database_gb: float = Field(30.0, gt=0, le=100_000)
    """The simulated OMS database's size: what a full backup, a restore and seeding move."""
    backup_mb_s: float = Field(250.0, gt=0)
    """A backup's pace into S3 or onto a share."""
    restore_mb_s: float = Field(330.0, gt=0)
    """A restore's pace (instant file initialization on)."""
    seeding_mb_s: float = Field(200.0, gt=0)
    """Automatic seeding's pace over the AG's endpoint."""
    log_mb_per_min: float = Field(20.0, ge=0)
    """Log the stores' orders write while the database is open to them."""

    def profile(self) -> dict[str, float]:
        """What the simulated SQL Server's durations are measured by."""
        return {"database_gb": self.database_gb, "backup_mb_s": self.backup_mb_s,
                "restore_mb_s": self.restore_mb_s, "seeding_mb_s": self.seeding_mb_s,
                "log_mb_per_min": self.log_mb_per_min}


class CockpitSettings(BaseSettings):
    """The cockpit's config: `config.toml`, then `COCKPIT_SECTION__FIELD` variables."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )

    polling: PollingSettings = Field(default_factory=PollingSettings)
    """Pane and watcher polling intervals."""

    display: DisplaySettings = Field(default_factory=DisplaySettings)
    """How the screen judges freshness."""

    runner: RunnerSettings = Field(default_factory=RunnerSettings)
    """How a running step waits."""

    aws: AwsSettings = Field(default_factory=AwsSettings)
    """Timeouts and retries of AWS calls."""

    notify: NotifySettings = Field(default_factory=NotifySettings)
    """Who is told of the window's milestones."""

    sim: SimSettings = Field(default_factory=SimSettings)
    """How long a session's simulated estate outlives its driver."""

    mirror: MirrorSettings = Field(default_factory=MirrorSettings)
    """The session's S3 mirror, for watchers on other hosts."""

    keys: dict[BindingId, KeyList] = Field(default_factory=dict)
    """Remapped keys: binding id (see the help screen) = "key[,key...]". Empty: each action
    keeps its own keys, chosen to arrive intact through SSH, tmux and PuTTY."""


# --- loading ------------------------------------------------------------------------------


def load_settings(path: Path | None = None) -> CockpitSettings:
    """The settings in `path` (default `config_file()`; missing: defaults), with every
    `COCKPIT_*` variable over them. Any problem raises a SettingsError saying where."""
    path = path or config_file()
    text = _read(path)
    try:
        data = parse_toml(text, path)
    except PlanLoadError as exc:  # the plan loader's reader (private), for its hints and lines
        raise SettingsError([str(problem) for problem in exc.problems]) from None
    env = _env_values()
    try:
        return CockpitSettings(**_merged(data, env))
    except ValidationError as exc:
        raise _invalid(exc, text, path, env) from None


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise SettingsError([f"{path}:1: cannot read the config: {exc.strerror or exc}"]) from None
    try:
        return raw.decode("utf-8-sig")  # an editor on a Windows jump host may add a BOM
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SettingsError([f"{path}:{line}: not UTF-8 text: save the config as UTF-8"]) from None


_SOURCE_FIELD = re.compile(r'field "([^"]+)"')


def _env_values() -> dict[str, Any]:
    """The `COCKPIT_*` values as nested dicts (`polling.pane_every_s`), not yet validated.

    Read apart from the file so an error can name the variable that caused it.
    """
    try:
        return EnvSettingsSource(CockpitSettings)()
    except pydantic_settings.SettingsError as exc:  # a whole-section variable, not JSON
        match = _SOURCE_FIELD.search(str(exc))
        raise SettingsError([_not_json(match.group(1) if match else "")]) from None


def _not_json(field: str) -> str:
    name = f"{ENV_PREFIX}{field.upper()}"
    if field == "keys":  # it named a keys.toml before config.toml held the [keys] table
        return (f"{name}: no longer names a key file; put a [keys] table in {config_file()} "
                f"(or set one binding: {name}__RUN_STEP=x)")
    return f"{name}: must be a JSON table; to set one value use {name}__<FIELD>"


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`, table by table, so one variable changes only its field."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        if isinstance(below, dict) and isinstance(value, dict):
            value = _merged(below, value)
        merged[key] = value
    return merged


# --- problems -----------------------------------------------------------------------------


def _invalid(exc: ValidationError, text: str, path: Path, env: dict[str, Any]) -> SettingsError:
    """Every problem, the file's by line (as an editor jumps to them), then the variables'."""
    lines = _key_lines(text)
    found: dict[str, float] = {}
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        if _set_by_env(env, loc):
            found.setdefault(f"{_env_name(loc)}: {_describe(error)}", math.inf)
        else:
            line = line_of(lines, loc)
            found.setdefault(f"{path}:{line}: {_describe(error)}", line)
    return SettingsError(sorted(found, key=found.__getitem__))


def _key_lines(text: str) -> dict[KeyPath, int]:
    try:
        return scan_key_lines(text)
    except RecursionError:  # absurdly nested arrays: line 1 rather than no answer
        return {}


def _set_by_env(env: dict[str, Any], loc: KeyPath) -> bool:
    """Whether the value at `loc` came from a variable (they override the file)."""
    node: Any = env
    for part in loc:
        if not isinstance(node, dict):
            return True  # past a value the variable set: `("keys", "x", "[key]")`
        if part not in node:
            return False
        node = node[part]
    return True


def _env_name(loc: KeyPath) -> str:
    return ENV_PREFIX + ENV_DELIMITER.join(str(part) for part in _names(loc)).upper()


def _names(loc: KeyPath) -> list[str]:
    """The keys of `loc` as written, without pydantic's `[key]` marker for a dict's key."""
    return [str(part) for part in loc if part != "[key]"]


_EXPECTED = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "a string",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}
_BOUNDS = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}


def _describe(error: ErrorDetails) -> str:
    """One sentence naming the setting (`polling.pane_every_s`) and what it must be."""
    loc, kind = error["loc"], error["type"]
    name = ".".join(_names(loc))
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind in _EXPECTED:
        return f"{name} must be {_EXPECTED[kind]}, not {show(error['input'])}"
    ctx = error.get("ctx") or {}
    bound = next((key for key in _BOUNDS if key in ctx), None)
    if bound:
        limit = ctx[bound]
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)  # pydantic turns `le=300` into 300.0; the file says 300
        return f"{name} must be {_BOUNDS[bound]} {limit}, not {show(error['input'])}"
    if kind == "finite_number":
        return f"{name} must be a finite number, not {show(error['input'])}"
    if kind == "value_error":
        reason = error["msg"].removeprefix("Value error, ")
        return reason if loc[-1] == "[key]" else f"{name} {reason}"
    return f"{name}: {error['msg']}"


def _unknown_key(loc: KeyPath) -> str:
    section = _section_at(loc[:-1])
    fields = list(section.model_fields) if section else []
    where = f"[{'.'.join(_names(loc[:-1]))}]" if loc[:-1] else "the config"
    return f"unknown key {quoted(loc[-1])} in {where}{closest(loc[-1], fields)}"


def _section_at(loc: KeyPath) -> type[BaseModel] | None:
    """The model of the table at `loc` (`("polling",)` -> PollingSettings)."""
    model: type[BaseModel] = CockpitSettings
    for part in loc:
        field = model.model_fields.get(str(part))
        inner = field.annotation if field else None
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return None
        model = inner
    return model
