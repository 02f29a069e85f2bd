"""pyodbc's Cursor, as far as the adapter goes: the simulated SQL Server's, in process or
over the wire (`sql_wire_client.py`). Apart from the server so that a driver reaching a
served sim loads no more of the simulator than this."""

from __future__ import annotations

from typing import Any, Protocol


class Session(Protocol):
    """What a cursor needs of its connection: one entry every statement goes through."""

    def run(self, statement: str, params: list[Any]) -> tuple[list[tuple[Any, ...]], Any]: ...


class SimCursor:
    """pyodbc's Cursor, as far as the adapter goes."""

    def __init__(self, connection: Session) -> None:
        self.connection = connection
        self.description: Any = None
        self.rowcount = -1
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, statement: str, *params: Any) -> SimCursor:
        values = params[0] if len(params) == 1 and isinstance(params[0], list | tuple) \
            else params
        self._rows, self.description = self.connection.run(statement, list(values))
        self.rowcount = len(self._rows) if self.description else -1
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    def nextset(self) -> bool:
        return False

    def close(self) -> None:
        self._rows = []
