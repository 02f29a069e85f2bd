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


class LinkFailure(SimSqlError):
    """The connection is gone (SQLSTATE 08S01): whoever raises it drops the session, and the
    client learns of it as a communication link failure, in these words on either side."""


# SQL Server's client libraries number a broken connection by its Winsock error.
DROPPED, REFUSED, TIMED_OUT = 10054, 10061, 10060


def link_failure(number: int = DROPPED, detail: str = "An existing connection was forcibly "
                 "closed by the remote host") -> LinkFailure:
    """The communication link failure a client sees when its connection breaks."""
    return LinkFailure(number, f"TCP Provider: {detail}. Communication link failure",
                       level=20, state=0, sqlstate="08S01")


def connection_closed() -> SimSqlError:
    return SimSqlError(0, "Attempt to use a closed connection.", sqlstate="08003")


def shutting_down() -> SimSqlError:
    """What a statement still running when the server stops ends with."""
    return SimSqlError(233, "A transport-level error has occurred: the server is shutting "
                            "down.", level=20, sqlstate="08S01")


def rebuild(messages: list[tuple[int, int, int, str]], sqlstate: str,
            kind: str = "SimSqlError") -> SimSqlError:
    """The error whose messages these are: `rebuild(e.messages, e.args[0])` equals `e` in
    number, messages, sqlstate and text (how an error crosses the wire)."""
    if not messages:
        raise ValueError("an error has at least one message")
    rest: SimSqlError | None = None
    for number, level, state, text in reversed(messages[1:]):
        rest = SimSqlError(number, text, level=level, state=state, sqlstate=sqlstate, then=rest)
    cls = LinkFailure if kind == LinkFailure.__name__ else SimSqlError
    number, level, state, text = messages[0]
    return cls(number, text, level=level, state=state, sqlstate=sqlstate, then=rest)
