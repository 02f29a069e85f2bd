"""Who is connected to a simulated SQL Server: the rows of `sys.dm_exec_sessions` and
`sys.dm_exec_connections`, and what `@@SPID` answers.

Rules, each from its page (learn.microsoft.com/sql/..., by title):
- "sys.dm_exec_sessions": a row per authenticated session, the server's own with
  `is_user_process = 0`; `host_name` and `program_name` are what the client says it is;
  `database_id` is the session's current database.
- "sys.dm_exec_connections": a row per connection, joined to its session by `session_id`;
  `client_net_address` is the "host address of the client connecting to this server";
  `auth_scheme` is SQL for a SQL login; `parent_connection_id` is NULL but for the logical
  connections of a MARS session.
- "@@SPID (Transact-SQL)": "Returns the session ID of the current user process."
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Any

# What SqlClient reports as program_name when the connection string names no
# Application Name: how a .NET app server's pool shows on the server.
APP_PROGRAM = ".Net SqlClient Data Provider"
SYSTEM_SESSIONS = range(1, 5)  # the server's own: is_user_process = 0
_SPID = re.compile(r"@@SPID\b", re.IGNORECASE)
_LITERAL = re.compile(r"'(?:[^']|'')*'")


@dataclass(frozen=True)
class Client:
    """Who a session says it is, and where it connects from."""

    host: str
    program: str
    login: str
    address: str


# The cockpit's own sessions: the jump host it runs on, over loopback in the sim.
COCKPIT = Client(socket.gethostname(), "cutover-cockpit", "cockpit", "127.0.0.1")


@dataclass(frozen=True)
class AppPool:
    """An app server's connection pool on one database: `size` sessions."""

    client: Client
    database_id: int
    size: int


@dataclass(frozen=True)
class Session:
    session_id: int
    client: Client
    database_id: int
    status: str = "sleeping"


def with_spid(sql: str, session_id: int) -> str:
    """`@@SPID` (outside string literals) as the session's id: SQLite has no such function."""
    if "@@" not in sql:
        return sql
    parts, end = [], 0
    for literal in _LITERAL.finditer(sql):
        parts += [_SPID.sub(str(session_id), sql[end:literal.start()]), literal.group()]
        end = literal.end()
    return "".join([*parts, _SPID.sub(str(session_id), sql[end:])])


def session_rows(sessions: list[Session]) -> list[tuple[Any, ...]]:
    """sys.dm_exec_sessions: the server's own sessions, then the users'."""
    own = [(n, None, None, "sa", 0, 1, "background") for n in SYSTEM_SESSIONS]
    return own + [(s.session_id, s.client.host, s.client.program, s.client.login, 1,
                   s.database_id, s.status) for s in sessions]


def connection_rows(sessions: list[Session]) -> list[tuple[Any, ...]]:
    """sys.dm_exec_connections: one TCP connection a user session, with a SQL login."""
    return [(s.session_id, "TCP", "FALSE", "SQL", s.client.address,
             49152 + s.session_id, None) for s in sessions]
