"""The T-SQL the cockpit sends to SQL Server: generated here, and only here, from names.

Every name goes through `quote_name` (`[...]`, a `]` doubled) and every literal through
`quote_string` (`'...'`, a `'` doubled), so a database called `x;DROP` or `o'brien]` is one
identifier, never a second statement. The simulated SQL Server parses these shapes with a
grammar of its own, written from SQL Server's documentation; golden tests pin them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

# SQL Server's S3 connector: one URL holds at most 10,000 parts of MAXTRANSFERSIZE bytes,
# and a backup may be striped over at most 64 URLs.
MAX_TRANSFER_SIZE = 20 * 1024 * 1024
MAX_PARTS_PER_URL = 10_000
MAX_STRIPES = 64
MAX_URL_LENGTH = 259
STATS_EVERY = 5


class BackupTooLarge(ValueError):
    """A backup that 64 URLs of 10,000 parts cannot hold."""


@dataclass(frozen=True)
class TableName:
    """`dbo.orders` or `orders` (in dbo), as a plan writes a table."""

    schema: str
    table: str

    @classmethod
    def parse(cls, text: str) -> TableName:
        schema, dot, table = text.partition(".")
        return cls(schema, table) if dot and schema and table else cls("dbo", text)

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"


def quote_name(name: str) -> str:
    """An identifier, bracketed: `a]b` -> `[a]]b]`."""
    return "[" + name.replace("]", "]]") + "]"


def quote_string(text: str) -> str:
    """A string literal: `o'brien` -> `'o''brien'`. Plain, not N'': URLs and paths are ASCII."""
    return "'" + text.replace("'", "''") + "'"


def qualified(database: str, table: TableName) -> str:
    return ".".join(quote_name(part) for part in (database, table.schema, table.table))


# --- reading ---------------------------------------------------------------------------------


def use_database(database: str) -> str:
    """Catalog views (`sys.tables`, partition stats) answer for the current database."""
    return f"USE {quote_name(database)}"


def count_rows(database: str, table: TableName) -> str:
    return f"SELECT COUNT_BIG(*) FROM {qualified(database, table)}"


def checksum_table(database: str, table: TableName, columns: Sequence[str]) -> str:
    """CHECKSUM over the columns named, never `*`: `*` fails on a table holding one
    noncomparable column (text, ntext, image, xml), so the caller names the others."""
    listed = ", ".join(quote_name(column) for column in columns)
    return f"SELECT CHECKSUM_AGG(CHECKSUM({listed})) FROM {qualified(database, table)}"


# --- changing --------------------------------------------------------------------------------


def set_read_only(database: str) -> list[str]:
    """RESTRICTED_USER first: it rolls back whoever is still connected, then nobody but an
    administrator can come back while the database turns read-only."""
    name = quote_name(database)
    return [f"ALTER DATABASE {name} SET RESTRICTED_USER WITH ROLLBACK IMMEDIATE",
            f"ALTER DATABASE {name} SET READ_ONLY WITH ROLLBACK IMMEDIATE"]


def set_read_write(database: str) -> list[str]:
    name = quote_name(database)
    return [f"ALTER DATABASE {name} SET READ_WRITE WITH ROLLBACK IMMEDIATE",
            f"ALTER DATABASE {name} SET MULTI_USER"]


def s3_url(host: str, bucket: str, key: str) -> str:
    """`s3://host[:port]/bucket/key`, path style, as the S3 connector takes it."""
    url = f"s3://{host}/{bucket}/{key.lstrip('/')}"
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"backup URL is {len(url)} characters; SQL Server takes at most "
                         f"{MAX_URL_LENGTH}: shorten the key")
    return url


def stripe_keys(key: str, stripes: int) -> list[str]:
    """One key, or `name-1of4.bak`, `name-2of4.bak`, ... for a striped backup."""
    if stripes == 1:
        return [key]
    stem, dot, ext = key.rpartition(".")
    if not dot or "/" in ext:
        stem, ext = key, ""
    suffix = f".{ext}" if ext else ""
    return [f"{stem}-{n}of{stripes}{suffix}" for n in range(1, stripes + 1)]


def stripes_needed(size_bytes: int) -> int:
    """How many URLs a backup of `size_bytes` needs at MAXTRANSFERSIZE (1 to 64)."""
    per_url = MAX_PARTS_PER_URL * MAX_TRANSFER_SIZE
    needed = max(1, math.ceil(size_bytes / per_url))
    if needed > MAX_STRIPES:
        raise BackupTooLarge(f"{size_bytes} bytes need {needed} URLs of {per_url} bytes; "
                             f"the S3 connector stripes over at most {MAX_STRIPES}")
    return needed


def s3_options(region: str) -> str:
    """BACKUP_OPTIONS / RESTORE_OPTIONS naming the bucket's region: without it SQL Server
    signs for us-east-1, and S3 refuses a bucket anywhere else."""
    return quote_string(json.dumps({"s3": {"region": region}}))


@dataclass(frozen=True)
class BackupOptions:
    """What a backup is: `kind` full, diff or log; `tail` is BACKUP LOG WITH NORECOVERY,
    the fence that leaves the source RESTORING."""

    kind: str = "full"
    checksum: bool = True
    copy_only: bool = False
    compression: bool = True
    tail: bool = False


def backup(database: str, devices: list[str], options: BackupOptions, *, to_url: bool,
           region: str | None = None) -> str:
    """BACKUP DATABASE / LOG to URLs (FORMAT: the S3 connector cannot append; a 20 MB
    MAXTRANSFERSIZE needs COMPRESSION) or to one disk path."""
    what = "LOG" if options.kind == "log" else "DATABASE"
    device = "URL" if to_url else "DISK"
    targets = ", ".join(f"{device} = {quote_string(d)}" for d in devices)
    flags = ["FORMAT"] + (["DIFFERENTIAL"] if options.kind == "diff" else []) \
        + (["COMPRESSION"] if options.compression else []) \
        + (["CHECKSUM"] if options.checksum else []) \
        + (["COPY_ONLY"] if options.copy_only else []) \
        + (["NORECOVERY"] if options.tail else [])
    if to_url and options.compression:
        flags.append(f"MAXTRANSFERSIZE = {MAX_TRANSFER_SIZE}")
    if to_url and region:
        flags.append(f"BACKUP_OPTIONS = {s3_options(region)}")
    flags.append(f"STATS = {STATS_EVERY}")
    return f"BACKUP {what} {quote_name(database)} TO {targets} WITH {', '.join(flags)}"


def restore(database: str, devices: list[str], *, log: bool, recovery: bool, to_url: bool,
            region: str | None = None, moves: list[tuple[str, str]] | None = None) -> str:
    """RESTORE DATABASE (a full or a differential) or LOG, WITH NORECOVERY to keep rolling
    forward, MOVE each file where the target keeps them."""
    device = "URL" if to_url else "DISK"
    sources = ", ".join(f"{device} = {quote_string(d)}" for d in devices)
    flags = ["RECOVERY" if recovery else "NORECOVERY"]
    flags += [f"MOVE {quote_string(logical)} TO {quote_string(path)}"
              for logical, path in moves or []]
    if to_url and region:
        flags.append(f"RESTORE_OPTIONS = {s3_options(region)}")
    flags.append(f"STATS = {STATS_EVERY}")
    what = "LOG" if log else "DATABASE"
    return f"RESTORE {what} {quote_name(database)} FROM {sources} WITH {', '.join(flags)}"


def recover(database: str) -> str:
    """A database left RESTORING comes online: the end of a restore chain, or the fence's
    rollback on the source."""
    return f"RESTORE DATABASE {quote_name(database)} WITH RECOVERY"


def backup_to_url(database: str, urls: list[str], region: str | None = None) -> str:
    """A full backup into S3."""
    return backup(database, urls, BackupOptions(), to_url=True, region=region)


def backup_to_disk(database: str, path: str) -> str:
    return backup(database, [path], BackupOptions(), to_url=False)


def restore_from_url(database: str, urls: list[str], *, recovery: bool,
                     region: str | None = None) -> str:
    return restore(database, urls, log=False, recovery=recovery, to_url=True, region=region)


def write_sentinel(database: str, table: TableName, value: str) -> str:
    """The marker row written just before the fence: found on the new primary, it proves
    the last write before the fence came across."""
    return (f"INSERT INTO {qualified(database, table)} ([sentinel], [written_at]) "
            f"VALUES ({quote_string(value)}, SYSUTCDATETIME())")


def find_sentinel(table: TableName, value: str) -> str:
    """Run in the database (USE): how many marker rows of that value it holds."""
    return (f"SELECT COUNT(*) AS found FROM {quote_name(table.schema)}.{quote_name(table.table)} "
            f"WHERE sentinel = {quote_string(value)}")


def find_sentinels_of(table: TableName, session: str) -> str:
    """Run in the database: how many marker rows a session wrote (each starts with its id,
    which holds no LIKE wildcard: digits, letters and hyphens, checked here)."""
    if not re.fullmatch(r"[0-9A-Za-z-]+", session):
        raise ValueError(f"not a session id: {session!r}")
    pattern = session + " %"
    return (f"SELECT COUNT(*) AS found FROM {quote_name(table.schema)}.{quote_name(table.table)} "
            f"WHERE sentinel LIKE {quote_string(pattern)}")


def drop_database(database: str) -> str:
    return f"DROP DATABASE {quote_name(database)}"


def add_to_ag(ag: str, database: str) -> str:
    """On the primary: with SEEDING_MODE = AUTOMATIC replicas, this seeds the secondaries."""
    return f"ALTER AVAILABILITY GROUP {quote_name(ag)} ADD DATABASE {quote_name(database)}"


def join_ag(ag: str, database: str) -> str:
    """On a secondary that restored the database WITH NORECOVERY."""
    return f"ALTER DATABASE {quote_name(database)} SET HADR AVAILABILITY GROUP = {quote_name(ag)}"


def remove_from_ag(ag: str, database: str) -> str:
    return f"ALTER AVAILABILITY GROUP {quote_name(ag)} REMOVE DATABASE {quote_name(database)}"
