"""What a DBA prepares on each instance before the window, read back: recovery model and
collation, file layout and default paths, S3 credentials, linked servers, the AG's
listener and seeding, and what the cockpit's own login may do.

Each function reads one thing over one connection and raises on a SQL error: the
readiness probes that call them turn an error into a no-go that names it.
"""

from __future__ import annotations

from typing import Any

from cockpit.estate.handle import EstateHandle
from cockpit.estate.sql import connection, fetch, query_text


def _rows(handle: EstateHandle, endpoint: str, name: str,
          params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with connection(handle, endpoint) as conn:
        return fetch(conn, query_text(name), params)


def database_options(handle: EstateHandle, endpoint: str) -> dict[str, dict[str, str]]:
    """Database name (lower case) -> its recovery model and collation."""
    return {str(r["database_name"]).lower(): {"name": str(r["database_name"]),
                                              "recovery_model": str(r["recovery_model"]),
                                              "collation": str(r["collation_name"] or "")}
            for r in _rows(handle, endpoint, "database_options")}


def database_files(handle: EstateHandle, endpoint: str,
                   database_name: str) -> list[dict[str, str]]:
    """The database's files: logical name, ROWS or LOG, physical name."""
    return [f for f in all_database_files(handle, endpoint)
            if f["database"].lower() == database_name.lower()]


def all_database_files(handle: EstateHandle, endpoint: str) -> list[dict[str, str]]:
    """Every file of every database on the instance, with its database's name."""
    return [{"database": str(r["database_name"]), "logical_name": str(r["logical_name"]),
             "type": str(r["type_desc"]), "physical_name": str(r["physical_name"])}
            for r in _rows(handle, endpoint, "database_files")]


def server_defaults(handle: EstateHandle, endpoint: str) -> dict[str, str]:
    """The instance's default data and log folders, and its collation."""
    rows = _rows(handle, endpoint, "server_defaults")
    return {key: str(value or "") for key, value in (rows[0] if rows else {}).items()}


def credentials(handle: EstateHandle, endpoint: str) -> dict[str, str]:
    """Credential name -> identity."""
    return {str(r["credential_name"]): str(r["credential_identity"])
            for r in _rows(handle, endpoint, "credentials")}


def linked_servers(handle: EstateHandle, endpoint: str) -> dict[str, dict[str, str]]:
    """Linked server name -> product, provider and data source."""
    return {str(r["server_name"]): {"product": str(r["product"]), "provider": str(r["provider"]),
                                    "data_source": str(r["data_source"])}
            for r in _rows(handle, endpoint, "linked_servers")}


def ag_listener(handle: EstateHandle, endpoint: str, ag_name: str) -> list[dict[str, Any]]:
    """The AG's listener, one row per address: dns_name, port, ip_address, state_desc."""
    return _rows(handle, endpoint, "ag_listener", (ag_name,))


def seeding_modes(handle: EstateHandle, endpoint: str, ag_name: str) -> dict[str, str]:
    """Replica name -> AUTOMATIC or MANUAL."""
    return {str(r["replica_name"]): str(r["seeding_mode"])
            for r in _rows(handle, endpoint, "ag_seeding_modes", (ag_name,))}


def seeding_history(handle: EstateHandle, endpoint: str, ag_name: str) -> list[dict[str, Any]]:
    """The automatic seedings the primary ran, oldest first."""
    return _rows(handle, endpoint, "ag_seeding_history", (ag_name,))


def permissions_held(handle: EstateHandle, endpoint: str,
                     permissions: list[str]) -> dict[str, bool | None]:
    """Each server permission -> whether the login connected holds it (None: unknown)."""
    with connection(handle, endpoint) as conn:
        held = {}
        for permission in permissions:
            rows = fetch(conn, query_text("permission_held"), (permission,))
            value = rows[0]["granted"] if rows else None
            held[permission] = None if value is None else bool(value)
        return held
