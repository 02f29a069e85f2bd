"""BACKUP and RESTORE as the simulated SQL Server reads them: the documented syntax, any
statement a client writes, not only the cockpit's.

    BACKUP { DATABASE | LOG } name TO device [, ...n] [ WITH option [, ...n] ]
    RESTORE { DATABASE | LOG } name [ FROM device [, ...n] ] [ WITH option [, ...n] ]
    RESTORE { HEADERONLY | FILELISTONLY } FROM device [, ...n] [ WITH option [, ...n] ]
    device ::= { URL | DISK } = 'text'

Options are those of "BACKUP (Transact-SQL)" and "RESTORE Arguments (Transact-SQL)" the sim
understands; one that is not an option of the statement is refused as SQL Server refuses
it (Msg 155, "'%.*ls' is not a recognized %ls option."), a malformed one as incorrect
syntax (Msg 102). What an option means is judged where the statement runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cockpit.sim.sql_errors import SimSqlError

_NAME = r"\[(?:[^\]]|\]\])+\]"
_TEXT = r"'(?:[^']|'')*'"
_DEVICE = rf"(?:URL|DISK)\s*=\s*{_TEXT}"
_DEVICES = rf"{_DEVICE}(?:\s*,\s*{_DEVICE})*"
_HEAD = re.compile(rf"^(BACKUP|RESTORE)\s+(DATABASE|LOG)\s+({_NAME})\s*(.*)$",
                   re.IGNORECASE | re.DOTALL)
_LISTING = re.compile(rf"^RESTORE\s+(HEADERONLY|FILELISTONLY)\s+FROM\s+({_DEVICES})\s*(.*)$",
                      re.IGNORECASE | re.DOTALL)
_TO = re.compile(rf"^(TO|FROM)\s+({_DEVICES})\s*(.*)$", re.IGNORECASE | re.DOTALL)
_OPTION = re.compile(
    rf"^(MOVE)\s+({_TEXT})\s+TO\s+({_TEXT})"
    rf"|^([A-Z_]+)\s*=\s*({_TEXT}|\d+)"
    r"|^([A-Z_]+)", re.IGNORECASE)

BACKUP_FLAGS = {"FORMAT", "NOFORMAT", "INIT", "NOINIT", "COMPRESSION", "NO_COMPRESSION",
                "CHECKSUM", "NO_CHECKSUM", "COPY_ONLY", "DIFFERENTIAL", "NORECOVERY",
                "NO_TRUNCATE", "CONTINUE_AFTER_ERROR", "STOP_ON_ERROR", "STATS", "SKIP",
                "NOSKIP", "REWIND", "NOREWIND", "UNLOAD", "NOUNLOAD"}
BACKUP_VALUED = {"STATS", "MAXTRANSFERSIZE", "BLOCKSIZE", "BUFFERCOUNT", "BACKUP_OPTIONS",
                 "DESCRIPTION", "NAME", "MEDIANAME"}
RESTORE_FLAGS = {"RECOVERY", "NORECOVERY", "REPLACE", "STATS", "CHECKSUM", "NO_CHECKSUM",
                 "CONTINUE_AFTER_ERROR", "STOP_ON_ERROR", "RESTRICTED_USER", "KEEP_REPLICATION",
                 "REWIND", "NOREWIND", "UNLOAD", "NOUNLOAD"}
RESTORE_VALUED = {"STATS", "FILE", "RESTORE_OPTIONS", "STANDBY", "MAXTRANSFERSIZE",
                  "BLOCKSIZE", "BUFFERCOUNT", "MEDIANAME", "STOPAT"}


def unquote_name(token: str) -> str:
    return token[1:-1].replace("]]", "]")


def unquote_text(token: str) -> str:
    return token[1:-1].replace("''", "'")


@dataclass(frozen=True)
class Device:
    kind: str  # URL or DISK
    path: str


@dataclass(frozen=True)
class Options:
    flags: frozenset[str] = frozenset()
    values: dict[str, str | int] = field(default_factory=dict)
    moves: tuple[tuple[str, str], ...] = ()  # (logical name, physical path)

    def has(self, flag: str) -> bool:
        return flag in self.flags


@dataclass(frozen=True)
class Backup:
    what: str  # DATABASE or LOG
    database: str
    devices: tuple[Device, ...]
    options: Options


@dataclass(frozen=True)
class Restore:
    what: str  # DATABASE or LOG
    database: str
    devices: tuple[Device, ...]  # none: RESTORE DATABASE x WITH RECOVERY
    options: Options


@dataclass(frozen=True)
class Listing:
    what: str  # HEADERONLY or FILELISTONLY
    devices: tuple[Device, ...]
    options: Options


def parse(text: str) -> Backup | Restore | Listing | None:
    """The statement, if it is a BACKUP or RESTORE (None: it is not one at all)."""
    listing = _LISTING.match(text)
    if listing:
        return Listing(listing.group(1).upper(), _devices(listing.group(2)),
                       _options(listing.group(3), "RESTORE"))
    head = _HEAD.match(text)
    if not head:
        return None
    verb, what, name, rest = head.group(1).upper(), head.group(2).upper(), head.group(3), \
        head.group(4)
    devices: tuple[Device, ...] = ()
    to = _TO.match(rest)
    if to:
        if to.group(1).upper() != ("TO" if verb == "BACKUP" else "FROM"):
            raise _syntax(to.group(1))
        devices, rest = _devices(to.group(2)), to.group(3)
    elif verb == "BACKUP":
        raise _syntax(rest.split()[0] if rest.split() else "(end of batch)")
    options = _options(rest, verb)
    if verb == "BACKUP":
        return Backup(what, unquote_name(name), devices, options)
    return Restore(what, unquote_name(name), devices, options)


def _devices(text: str) -> tuple[Device, ...]:
    return tuple(Device(kind.upper(), unquote_text(path)) for kind, path in
                 re.findall(rf"(URL|DISK)\s*=\s*({_TEXT})", text, re.IGNORECASE))


def _options(text: str, verb: str) -> Options:
    text = text.strip().rstrip(";").strip()
    if not text:
        return Options()
    if not text.upper().startswith("WITH"):
        raise _syntax(text.split()[0])
    rest = text[4:].strip()
    flags_allowed, valued = ((BACKUP_FLAGS, BACKUP_VALUED) if verb == "BACKUP"
                             else (RESTORE_FLAGS, RESTORE_VALUED))
    flags: set[str] = set()
    values: dict[str, str | int] = {}
    moves: list[tuple[str, str]] = []
    while rest:
        match = _OPTION.match(rest)
        if not match:
            raise _syntax(rest.split()[0])
        if match.group(1):
            moves.append((unquote_text(match.group(2)), unquote_text(match.group(3))))
        elif match.group(4):
            name, value = match.group(4).upper(), match.group(5)
            if name not in valued:
                raise _not_an_option(name, verb)
            values[name] = int(value) if value.isdigit() else unquote_text(value)
        else:
            name = match.group(6).upper()
            if name not in flags_allowed:
                raise _not_an_option(name, verb)
            flags.add(name)
        rest = rest[match.end():].strip()
        if rest.startswith(","):
            rest = rest[1:].strip()
        elif rest:
            raise _syntax(rest.split()[0])
    return Options(frozenset(flags), values, tuple(moves))


def _syntax(near: str) -> SimSqlError:
    return SimSqlError(102, f"Incorrect syntax near '{near[:40]}'.")


def _not_an_option(name: str, verb: str) -> SimSqlError:
    return SimSqlError(155, f"'{name}' is not a recognized {verb} option.", level=15)
