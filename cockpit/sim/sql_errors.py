"""The simulated SQL Server's errors, shaped like pyodbc's so the adapter reads them alike.

pyodbc raises `Error(sqlstate, message)`; SQL Server's message carries `Msg N, Level L`.
A failed BACKUP sends two messages, the cause and then Msg 3013, and so does this.
"""

from __future__ import annotations


class SimSqlError(Exception):
    """A DB-API error from the simulated SQL Server: `args == (sqlstate, message)`."""

    messages: list[tuple[int, int, int, str]]  # (number, level, state, text), in order

    def __init__(self, number: int, text: str, *, level: int = 16, state: int = 1,
                 sqlstate: str = "42000", then: SimSqlError | None = None) -> None:
        self.number = number
        self.messages = [(number, level, state, text), *(then.messages if then else [])]
        message = "; ".join(f"Msg {n}, Level {lv}, State {st}: {t}"
                            for n, lv, st, t in self.messages)
        super().__init__(sqlstate, message)

    @property
    def numbers(self) -> list[int]:
        return [message[0] for message in self.messages]


def terminating(operation: str) -> SimSqlError:
    """`BACKUP DATABASE is terminating abnormally.` (Msg 3013), the last word of a failure."""
    return SimSqlError(3013, f"{operation} is terminating abnormally.")


def no_such_database(name: str) -> SimSqlError:
    return SimSqlError(911, f"Database '{name}' does not exist. Make sure that the name is "
                            "entered correctly.")
