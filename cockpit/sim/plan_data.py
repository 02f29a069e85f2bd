"""The rows of each database a plan names: the OMS tables for the demo's plans, rows made up
for the tables any other plan names, and the orders that keep arriving while the apps write.

A database whose plan names only OMS tables (or none) holds the OMS rows (`oms_data`). One
whose plan names tables of its own holds those, each with rows made from a fixed seed and
the table's name (so the same plan always gets the same rows), and the sentinel tables the
plan's `sql.write_sentinel` steps write to. Tables live in the database's SQLite file named
`table` in dbo and `schema.table` in any other schema; columns are declared with SQL Server's
type names, which is what the sim's `sys.columns` reports. Tables of two schemas may not
share a name.
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from cockpit.estate.tsql import TableName
from cockpit.plan.models import Database, Plan, WriteSentinel
from cockpit.sim import oms_data

OMS_TABLES = frozenset({"dbo.customers", "dbo.orders", "dbo.order_lines",
                        "dbo.cutover_sentinel"})
DEFAULT_SENTINEL = "dbo.cutover_sentinel"  # sql.write_sentinel's table when a step names none
# A made-up table's columns: a key, ordinary comparable types, and one legacy free-text
# column of a noncomparable type (ntext), as tables of that age often carry: CHECKSUM
# cannot take it ("CHECKSUM (Transact-SQL)"), so the data check must leave it out.
GENERATED_COLUMNS = (("id", "int"), ("reference", "nvarchar(40)"), ("amount_cents", "bigint"),
                     ("created_at", "datetime2"), ("notes", "ntext"))
SENTINEL_COLUMNS = (("sentinel", "nvarchar(200)"), ("written_at", "datetime2"))
MIN_ROWS, MAX_ROWS = 300, 3000


# Every table lives in the file by its bare name; the schema of each one outside dbo is
# written in this table of the file, so a restore carries it, and a connection in the
# database attaches the file under each schema name (`sales.returns` then resolves).
SCHEMAS_TABLE = "_sim_schemas"


def stored_tables(data: sqlite3.Connection) -> dict[str, str]:
    """Each table of a database's file, by its name there, with its schema."""
    names = [str(row[0]) for row in data.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name <> ?", (SCHEMAS_TABLE,))]
    listed = {str(t): str(s) for t, s in data.execute(
        f"SELECT table_name, schema_name FROM {SCHEMAS_TABLE}")} \
        if _has_schemas(data) else {}
    return {name: listed.get(name, "dbo") for name in names}


def _has_schemas(data: sqlite3.Connection) -> bool:
    return data.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (SCHEMAS_TABLE,)).fetchone() is not None


def stored_table(data: sqlite3.Connection, text: str) -> str | None:
    """The table a plan or a fault names (`sales.returns`, `dbo.orders` or a bare `orders`),
    as the database's file names it; None if it has no such table."""
    wanted = TableName.parse(text)
    bare = "." not in text
    return next((name for name, schema in stored_tables(data).items()
                 if name.lower() == wanted.table.lower()
                 and (bare or schema.lower() == wanted.schema.lower())), None)


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sentinel_tables(plan: Plan) -> dict[str, list[str]]:
    """The tables each database's sentinel is written to, by database id."""
    found: dict[str, list[str]] = {}
    for step in plan.steps():
        for action in (step.do, step.undo):
            if isinstance(action, WriteSentinel):
                found.setdefault(action.database, []).append(action.table)
    return found


def database_bytes(db: Database, sentinels: Sequence[str] = ()) -> bytes:
    """The SQLite file a database starts with on its source: the OMS rows if its plan names
    only OMS tables (and the sentinel tables it lacks); else every table the plan names,
    made up, and its sentinel tables (sql.write_sentinel's default if no step names one)."""
    named = [str(TableName.parse(t)) for t in dict.fromkeys([*db.tables, *db.checksum_tables])]
    markers = tuple(str(TableName.parse(t)) for t in dict.fromkeys(sentinels))
    if all(t.lower() in OMS_TABLES for t in named):
        missing = tuple(t for t in markers if t.lower() not in OMS_TABLES)
        return _built((), missing, oms=True) if missing else oms_data.oms_database_bytes()
    markers = markers or (DEFAULT_SENTINEL,)
    lowered = {t.lower() for t in markers}
    return _built(tuple(t for t in named if t.lower() not in lowered), markers, oms=False)


@cache
def _built(tables: tuple[str, ...], sentinels: tuple[str, ...], *, oms: bool) -> bytes:
    with tempfile.TemporaryDirectory(prefix="plan-data-") as folder:
        path = Path(folder) / "data.db"
        if oms:
            path.write_bytes(oms_data.oms_database_bytes())
        connection = sqlite3.connect(path)
        try:
            for text in tables:
                _generate(connection, TableName.parse(text))
            for text in sentinels:
                _create(connection, TableName.parse(text), SENTINEL_COLUMNS)
            connection.commit()
        finally:
            connection.close()
        return path.read_bytes()


def _create(connection: sqlite3.Connection, table: TableName,
            columns: Iterable[tuple[str, str]]) -> None:
    listed = ", ".join(f"{quoted(name)} {kind}" for name, kind in columns)
    connection.execute(f"CREATE TABLE IF NOT EXISTS {quoted(table.table)} ({listed})")
    if table.schema.lower() != "dbo":
        connection.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMAS_TABLE} "
                           "(table_name TEXT PRIMARY KEY, schema_name TEXT NOT NULL)")
        connection.execute(f"INSERT OR REPLACE INTO {SCHEMAS_TABLE} VALUES (?, ?)",
                           (table.table, table.schema))


def _generate(connection: sqlite3.Connection, table: TableName) -> None:
    """A few hundred to a few thousand rows, from the seed and the table's name."""
    _create(connection, table, GENERATED_COLUMNS)
    rng = random.Random(f"{oms_data.SEED}:{table}".lower())
    rows = [_made_up_row(rng, n, table.table) for n in range(1, rng.randint(MIN_ROWS, MAX_ROWS))]
    connection.executemany(f"INSERT INTO {quoted(table.table)} VALUES (?, ?, ?, ?, ?)", rows)


def _made_up_row(rng: random.Random, n: int, table: str,
                 at: datetime | None = None) -> tuple[object, ...]:
    start = datetime(2023, 1, 1, tzinfo=UTC)
    created = at or start + timedelta(minutes=rng.randrange(500_000))
    return (n, f"{table[:3].upper()}-{n:07d}", rng.randrange(100, 500_000),
            created.isoformat(), f"entered by store {rng.randrange(1, 400)}")


# --- the orders that keep arriving --------------------------------------------------------------


def arrive(data_file: Path, count: int) -> None:
    """`count` new orders, written into the database's file: OMS orders and their lines in
    the OMS tables, else one row each into its made-up tables in turn."""
    if count <= 0:
        return
    with sqlite3.connect(data_file) as data:
        stored = list(stored_tables(data))
        if "orders" in stored and "order_lines" in stored:
            oms_data.new_orders(data, count)
        else:
            _new_rows(data, [s for s in stored if _made_up(data, s)], count)
    data.close()


def _made_up(data: sqlite3.Connection, stored: str) -> bool:
    names = tuple(row[1] for row in data.execute(f"PRAGMA table_info({quoted(stored)})"))
    return names == tuple(name for name, _ in GENERATED_COLUMNS)


def _new_rows(data: sqlite3.Connection, tables: list[str], count: int) -> None:
    if not tables:
        return
    now = datetime.now(UTC)
    for n in range(count):
        stored = tables[n % len(tables)]
        next_id = int(data.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {quoted(stored)}")
                      .fetchone()[0])
        row = _made_up_row(random.Random(f"{stored}:{next_id}"), next_id, stored, at=now)
        data.execute(f"INSERT INTO {quoted(stored)} VALUES (?, ?, ?, ?, ?)", row)
