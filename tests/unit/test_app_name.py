"""The cockpit names itself in its ODBC connection strings, unless the DSN already names an
application: DBAs see its sessions as cutover-cockpit, and the session checks leave them
out of "others"."""

from __future__ import annotations

from cockpit.estate.sql import APP_NAME, with_app_name


def test_a_dsn_without_an_application_name_gets_the_cockpits() -> None:
    dsn = "Driver={ODBC Driver 18 for SQL Server};Server=sql-dc1;Trusted_Connection=yes;"
    assert with_app_name(dsn) == dsn.rstrip(";") + f";APP={APP_NAME}"


def test_a_dsn_that_names_its_application_keeps_it() -> None:
    dsn = "Driver={ODBC Driver 18 for SQL Server};Server=sql-dc1;App=OMS cutover;PWD={a;b}"
    assert with_app_name(dsn) == dsn
