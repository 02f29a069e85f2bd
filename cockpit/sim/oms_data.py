"""The OMS database the datacentre holds in the simulated estate: real rows, always the same.

Customers, their orders and the orders' lines, from a fixed seed: a few thousand rows, so
the data check compares real counts and checksums, and a row lost in a restore shows.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

SEED = 20231215  # the week the case study's window fell in
# The OMS database's users, each mapped to the SQL login of the same name; the app
# servers log in as APP_LOGIN. `sa`'s SID is 0x01 on every instance, and dbo maps to it.
APP_LOGIN = "oms_app"
OMS_USERS = ("oms_app", "oms_reports")
# OMS is encrypted with TDE under this certificate in master (its thumbprint: 20 bytes).
TDE_CERTIFICATE = "OMS_TDE_Cert"
# The Agent job that writes to OMS every week (it archives delivered orders), next due at
# 02:00; on the instances in AWS it was created disabled, for after the window.
WEEKLY_JOB = "oms_weekly_archive"
# The warehouse system OMS reads stock from, through a linked server on the OMS instance.
LINKED_SERVER = ("WMS", "SQL Server", "MSOLEDBSQL", "wms-sql.dc1.retail.example")
# What the AWS instances were built with when nobody set the collation: the Windows default.
OTHER_COLLATION = "Latin1_General_CI_AS"
# Where a hand-built EC2 instance keeps its files when nobody matched the source's layout.
OTHER_PATHS = ("E:\\SQLData\\", "F:\\SQLLog\\")
TDE_THUMBPRINT = hashlib.sha1(b"OMS_TDE_Cert", usedforsecurity=False).digest()
CUSTOMERS = 600
ORDERS = 1500
STATES = ("NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT")
STATUSES = ("placed", "picked", "packed", "shipped", "delivered")
SKUS = [f"KM-{n:06d}" for n in range(1000, 1400)]

# Declared with SQL Server's type names: they are what the sim's sys.columns reports.
SCHEMA = """
CREATE TABLE customers (
    customer_id int PRIMARY KEY, name nvarchar(100) NOT NULL, email nvarchar(200) NOT NULL,
    state nvarchar(3) NOT NULL, created_at datetimeoffset NOT NULL);
CREATE TABLE orders (
    order_id int PRIMARY KEY, customer_id int NOT NULL, placed_at datetimeoffset NOT NULL,
    status nvarchar(20) NOT NULL, total_cents bigint NOT NULL);
CREATE TABLE order_lines (
    order_line_id int PRIMARY KEY, order_id int NOT NULL, sku nvarchar(20) NOT NULL,
    quantity int NOT NULL, unit_price_cents bigint NOT NULL);
CREATE TABLE cutover_sentinel (sentinel nvarchar(200) NOT NULL, written_at datetime2 NOT NULL);
"""


def write_oms_database(path: Path) -> None:
    """Write the OMS database to `path` (a new SQLite file)."""
    path.write_bytes(oms_database_bytes())


@cache
def oms_database_bytes() -> bytes:
    """The OMS database as SQLite file bytes: built once per process, the same every time."""
    with tempfile.TemporaryDirectory(prefix="oms-data-") as folder:
        path = Path(folder) / "oms.db"
        connection = sqlite3.connect(path)
        try:
            connection.executescript(SCHEMA)
            _fill(connection, random.Random(SEED))
            connection.commit()
        finally:
            connection.close()
        return path.read_bytes()


def _fill(connection: sqlite3.Connection, rng: random.Random) -> None:
    start = datetime(2023, 1, 1, tzinfo=UTC)
    connection.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", [
        (n, f"Customer {n:04d}", f"customer{n:04d}@example.com", rng.choice(STATES),
         (start + timedelta(days=rng.randrange(300))).isoformat())
        for n in range(1, CUSTOMERS + 1)])
    line_id = 0
    for order_id in range(1, ORDERS + 1):
        lines = [(rng.choice(SKUS), rng.randint(1, 4), rng.randrange(199, 25000))
                 for _ in range(rng.randint(1, 5))]
        total = sum(quantity * price for _, quantity, price in lines)
        placed = start + timedelta(minutes=rng.randrange(500_000))
        connection.execute("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", (
            order_id, rng.randint(1, CUSTOMERS), placed.isoformat(), rng.choice(STATUSES), total))
        for sku, quantity, price in lines:
            line_id += 1
            connection.execute("INSERT INTO order_lines VALUES (?, ?, ?, ?, ?)",
                               (line_id, order_id, sku, quantity, price))


def login_sid(name: str, *, recreated: bool = False) -> bytes:
    """A SQL login's SID: 16 bytes, fixed per name, as the DBA's copies with the SID keep
    it. A login created again by hand on another instance gets a new one ("Even if the
    login is recreated, it will have a different SID": Troubleshoot orphaned users)."""
    if name == "sa":
        return b"\x01"
    salt = ":recreated" if recreated else ""
    return hashlib.sha256(f"login:{name}{salt}".encode()).digest()[:16]


def new_orders(connection: sqlite3.Connection, count: int) -> None:
    """`count` orders placed now, each with its lines, after the last order there is:
    what the stores send while the apps write to OMS."""
    order_id, line_id = (int(connection.execute(
        f"SELECT COALESCE(MAX({key}), 0) FROM {table}").fetchone()[0])
        for key, table in (("order_id", "orders"), ("order_line_id", "order_lines")))
    placed = datetime.now(UTC).isoformat()
    for _ in range(count):
        order_id += 1
        rng = random.Random(f"{SEED}:order:{order_id}")
        lines = [(rng.choice(SKUS), rng.randint(1, 4), rng.randrange(199, 25000))
                 for _ in range(rng.randint(1, 5))]
        total = sum(quantity * price for _, quantity, price in lines)
        connection.execute("INSERT INTO orders VALUES (?, ?, ?, 'placed', ?)",
                           (order_id, rng.randint(1, CUSTOMERS), placed, total))
        for sku, quantity, price in lines:
            line_id += 1
            connection.execute("INSERT INTO order_lines VALUES (?, ?, ?, ?, ?)",
                               (line_id, order_id, sku, quantity, price))
