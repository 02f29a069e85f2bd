"""The T-SQL the cockpit sends to SQL Server: generated here, and only here, from names.

Every name goes through `quote_name` (`[...]`, a `]` doubled) and every literal through
`quote_string` (`'...'`, a `'` doubled), so a database called `x;DROP` or `o'brien]` is one
identifier, never a second statement. The simulated SQL Server parses these shapes with a
grammar of its own, written from SQL Server's documentation; golden tests pin them.
"""

from __future__ import annotations

import math
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


def checksum_table(database: str, table: TableName) -> str:
    return f"SELECT CHECKSUM_AGG(CHECKSUM(*)) FROM {qualified(database, table)}"


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


def backup_to_url(database: str, urls: list[str]) -> str:
    """A full backup into S3; FORMAT because the connector cannot append, COMPRESSION because
    20 MB parts need it."""
    targets = ", ".join(f"URL = {quote_string(url)}" for url in urls)
    return (f"BACKUP DATABASE {quote_name(database)} TO {targets} WITH FORMAT, COMPRESSION, "
            f"MAXTRANSFERSIZE = {MAX_TRANSFER_SIZE}, STATS = {STATS_EVERY}")


def backup_to_disk(database: str, path: str) -> str:
    return (f"BACKUP DATABASE {quote_name(database)} TO DISK = {quote_string(path)} "
            f"WITH FORMAT, COMPRESSION, STATS = {STATS_EVERY}")


def restore_from_url(database: str, urls: list[str], *, recovery: bool) -> str:
    sources = ", ".join(f"URL = {quote_string(url)}" for url in urls)
    mode = "RECOVERY" if recovery else "NORECOVERY"
    return (f"RESTORE DATABASE {quote_name(database)} FROM {sources} "
            f"WITH {mode}, STATS = {STATS_EVERY}")


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
