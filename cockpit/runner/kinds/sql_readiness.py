"""SQL Server readiness: what a DBA checks on every instance two days out and at the
go/no-go. Recovery model, collation, file layout, S3 credentials, linked servers, the AG's
seeding and listener, the cockpit's own permissions. Each verdict names what it found
and, on a no-go, the statement that fixes it.

Every probe reports and never raises: an endpoint it cannot read is a no-go naming the
error (a check that cannot be made is not a pass).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cockpit.estate import s3, sql, sql_objects, tsql
from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    Actions,
    Effects,
    ProbeContext,
    Probes,
    Verdict,
    WatchedBy,
)


def _reported(ctx: ProbeContext, where: str, read: Callable[[], Verdict]) -> Verdict:
    try:
        return read()
    except Exception as exc:  # a probe reports, it never raises
        error = sql.describe_sql_error(ctx.handle, exc)
        return Verdict(False, f"{where}: {error}", {"error": error})


# --- the database's own settings -------------------------------------------------------------


def _recovery_model(c: m.RecoveryModel, ctx: ProbeContext) -> Verdict:
    name = sql.database(ctx.handle, c.database).name

    def read() -> Verdict:
        found = sql_objects.database_options(ctx.handle, c.endpoint).get(name.lower())
        if found is None:
            return Verdict(False, f"no database {name} at {c.endpoint}", {})
        model = found["recovery_model"]
        evidence = {"recovery_model": model}
        if model != c.model:
            return Verdict(False, (
                f"{name} at {c.endpoint} is in the {model} recovery model, not {c.model}: "
                f"ALTER DATABASE {tsql.quote_name(name)} SET RECOVERY {c.model}, then take a "
                "full backup (the log chain starts there)"), evidence)
        return Verdict(True, f"{name} at {c.endpoint}: {model} recovery model", evidence)

    return _reported(ctx, c.endpoint, read)


def _collation(c: m.CollationMatches, ctx: ProbeContext) -> Verdict:
    name = sql.database(ctx.handle, c.database).name

    def read() -> Verdict:
        found = sql_objects.database_options(ctx.handle, c.source).get(name.lower())
        if found is None:
            return Verdict(False, f"no database {name} at {c.source}", {})
        wanted = found["collation"]
        instances = {t: sql_objects.server_defaults(ctx.handle, t)["collation_name"]
                     for t in c.targets}
        evidence = {"database": wanted, "instances": instances}
        other = {t: coll for t, coll in instances.items() if coll != wanted}
        if other:
            said = ", ".join(f"{t} is {coll}" for t, coll in sorted(other.items()))
            return Verdict(False, (
                f"{name} is {wanted} but {said}: temporary tables take the instance's "
                "collation and compare with the database's columns with Msg 468; rebuild "
                f"the instance with {wanted} (setup /ACTION=REBUILDDATABASE "
                f"/SQLCOLLATION={wanted}) before the restore"), evidence)
        return Verdict(True, f"{name} ({wanted}): the same on {', '.join(c.targets)}", evidence)

    return _reported(ctx, c.source, read)


# --- where the restore puts the files ----------------------------------------------------------


def _folder(path: str) -> str:
    return path.rsplit("\\", 1)[0].lower() + "\\" if "\\" in path else path.lower()


def _paths_exist(c: m.PathsExist, ctx: ProbeContext) -> Verdict:
    """SQL Server shows no folder listing to a SELECT: the folders known to exist on a
    target are its default data and log folders and those its databases' files are in."""
    name = sql.database(ctx.handle, c.database).name

    def read() -> Verdict:
        files = sql_objects.database_files(ctx.handle, c.source, name)
        if not files:
            return Verdict(False, f"no files of {name} at {c.source}", {})
        evidence: dict[str, Any] = {"files": files, "targets": {}}
        missing = []
        for target in c.targets:
            defaults = sql_objects.server_defaults(ctx.handle, target)
            known = {_folder(f["physical_name"]) for f in sql_objects.all_database_files(
                ctx.handle, target)} | {defaults["data_path"].lower(),
                                        defaults["log_path"].lower()}
            absent = [f for f in files if _folder(f["physical_name"]) not in known]
            evidence["targets"][target] = {"data_path": defaults["data_path"],
                                           "log_path": defaults["log_path"],
                                           "missing": [f["physical_name"] for f in absent]}
            if absent:
                missing.append(_move_advice(target, absent, defaults))
        if missing:
            return Verdict(False, "; ".join(missing), evidence)
        folders = sorted({f["physical_name"].rsplit("\\", 1)[0] + "\\" for f in files})
        return Verdict(True, f"{name}'s folders {', '.join(folders)} exist on "
                             f"{', '.join(c.targets)}", evidence)

    return _reported(ctx, c.source, read)


def _move_advice(target: str, absent: list[dict[str, str]], defaults: dict[str, str]) -> str:
    moves = ", ".join(
        f"MOVE {tsql.quote_string(f['logical_name'])} TO "
        f"{tsql.quote_string(_moved(f, defaults))}" for f in absent)
    paths = ", ".join(f["physical_name"] for f in absent)
    return (f"{target} has no folder for {paths}: a restore without MOVE fails there "
            f"(Msg 5133); restore WITH {moves}, or create the folders")


def _moved(file: dict[str, str], defaults: dict[str, str]) -> str:
    folder = defaults["log_path"] if file["type"] == "LOG" else defaults["data_path"]
    return folder + file["physical_name"].rsplit("\\", 1)[-1]


# --- S3 credentials and linked servers ---------------------------------------------------------


def _credential_for_url(c: m.CredentialForUrl, ctx: ProbeContext) -> Verdict:
    bucket = s3.bucket_name(ctx.handle, c.bucket)
    url = sql.backup_urls(ctx.handle, bucket, ["backup.bak"])[0]

    def read() -> Verdict:
        found = {e: sql_objects.credentials(ctx.handle, e) for e in c.endpoints}
        region = s3.bucket_region(ctx.handle, bucket)
        evidence: dict[str, Any] = {"url": url, "bucket_region": region, "credentials": {
            e: sorted(names) for e, names in found.items()}}
        prefix = url.rsplit("/", 1)[0]  # s3://host/bucket: what the credential is named
        problems = [f"{e} has no credential for {prefix}/: CREATE CREDENTIAL [{prefix}] WITH "
                    "IDENTITY = 'S3 Access Key', SECRET = '<access key id>:<secret key>'"
                    for e, names in found.items() if _opening(url, names) is None]
        if region and region != ctx.handle.estate.region:
            problems.append(f"bucket {bucket} is in {region}, not the plan's region "
                            f"{ctx.handle.estate.region}: the statements sign for the wrong "
                            "region (name it in BACKUP_OPTIONS and RESTORE_OPTIONS)")
        if problems:
            return Verdict(False, "; ".join(problems), evidence)
        opened = {e: _opening(url, names) for e, names in found.items()}
        evidence["opens_with"] = opened
        return Verdict(True, f"a credential opens {prefix}/ on "
                             f"{', '.join(c.endpoints)}; bucket in {region or 'its region'}",
                       evidence)

    return _reported(ctx, ", ".join(c.endpoints), read)


def _opening(url: str, names: dict[str, str]) -> str | None:
    """The credential SQL Server would use for `url`: the longest name that is the URL
    or a parent path of it."""
    fits = [n for n in names if url == n or url.startswith(n.rstrip("/") + "/")]
    return max(fits, key=len) if fits else None


def _linked_servers(c: m.LinkedServersPresent, ctx: ProbeContext) -> Verdict:
    def read() -> Verdict:
        ignored = {n.lower() for n in c.ignore}
        wanted = {n: spec for n, spec in sql_objects.linked_servers(ctx.handle, c.source).items()
                  if n.lower() not in ignored}
        there = {t: sql_objects.linked_servers(ctx.handle, t) for t in c.targets}
        evidence = {"source": wanted, "targets": {t: sorted(f) for t, f in there.items()}}
        problems = []
        for target, found in there.items():
            for name, spec in sorted(wanted.items()):
                other = found.get(name)
                if other is None:
                    problems.append(
                        f"linked server {name} ({spec['data_source']}) is missing on {target}: "
                        f"EXEC master.dbo.sp_addlinkedserver @server = "
                        f"{tsql.quote_string(name)}, @srvproduct = "
                        f"{tsql.quote_string(spec['product'])}, @provider = "
                        f"{tsql.quote_string(spec['provider'])}, @datasrc = "
                        f"{tsql.quote_string(spec['data_source'])}, then its logins")
                elif other["data_source"].lower() != spec["data_source"].lower():
                    problems.append(f"linked server {name} on {target} points at "
                                    f"{other['data_source']}, not {spec['data_source']}")
        if problems:
            return Verdict(False, "; ".join(problems), evidence)
        names = ", ".join(sorted(wanted)) or "none"
        return Verdict(True, f"linked servers of {c.source} ({names}) on "
                             f"{', '.join(c.targets)}", evidence)

    return _reported(ctx, c.source, read)


# --- the availability group --------------------------------------------------------------------


def _seeding_ready(c: m.SeedingReady, ctx: ProbeContext) -> Verdict:
    ag = sql.availability_group(ctx.handle, c.ag)
    endpoint = sql.ag_endpoint(ag)

    def read() -> Verdict:
        modes = sql_objects.seeding_modes(ctx.handle, endpoint, ag.id)
        history = sql_objects.seeding_history(ctx.handle, endpoint, ag.id)
        last = {str(h["replica_name"]): h for h in history}  # oldest first: the last wins
        evidence = {"modes": modes, "last_seeding": {
            r: {k: str(v) if v is not None else None for k, v in h.items()}
            for r, h in last.items()}}
        problems = [_seeding_problem(ag.id, r.id, modes.get(r.id), last.get(r.id), c.mode)
                    for r in ag.replicas[1:]]
        said = [p for p in problems if p]
        if said:
            return Verdict(False, "; ".join(said), evidence)
        return Verdict(True, f"{ag.id}: every secondary seeds {c.mode.upper()}"
                             + ("; its last seeding completed" if c.mode == "automatic"
                                else ""), evidence)

    return _reported(ctx, endpoint, read)


def _seeding_problem(ag: str, replica: str, mode: str | None, last: dict[str, Any] | None,
                     wanted: str) -> str:
    if mode is None:
        return f"{replica} is not a replica of {ag}"
    if mode != wanted.upper():
        return (f"{replica} seeds {mode}, the plan {wanted.upper()}: ALTER AVAILABILITY GROUP "
                f"{tsql.quote_name(ag)} MODIFY REPLICA ON {tsql.quote_string(replica)} WITH "
                f"(SEEDING_MODE = {wanted.upper()})")
    if wanted == "manual":
        return ""
    grant = (f"on {replica}: ALTER AVAILABILITY GROUP {tsql.quote_name(ag)} GRANT CREATE ANY "
             "DATABASE")
    if last is None:
        return (f"no seeding to {replica} has been seen: prove it with a small database added "
                f"to the AG (the grant it needs is in no catalog view), after running {grant}")
    if str(last["current_state"]).upper() != "COMPLETED":
        return (f"the last seeding to {replica} ({last['start_time']}) "
                f"{last['current_state']}: {last['failure_state_desc'] or 'no reason given'}"
                f"{_error_code(last)}; grant it {grant}, drop the half-seeded copy there, and "
                "seed again")
    return ""


def _error_code(row: dict[str, Any]) -> str:
    return f" (error {row['error_code']})" if row.get("error_code") else ""


def _listener_online(c: m.ListenerOnline, ctx: ProbeContext) -> Verdict:
    ag = sql.availability_group(ctx.handle, c.ag)
    endpoint = sql.ag_endpoint(ag)
    wanted = ag.listener.rstrip(".").lower()

    def read() -> Verdict:
        rows = sql_objects.ag_listener(ctx.handle, endpoint, ag.id)
        addresses = {str(r["ip_address"]): str(r["state_desc"]) for r in rows if r["ip_address"]}
        evidence = {"listeners": sorted({str(r["dns_name"]) for r in rows}),
                    "port": rows[0]["port"] if rows else None, "addresses": addresses}
        names = {str(r["dns_name"]).lower() for r in rows}
        if not rows:
            return Verdict(False, f"{ag.id} has no listener: ALTER AVAILABILITY GROUP "
                                  f"{tsql.quote_name(ag.id)} ADD LISTENER ...", evidence)
        if not any(wanted == n or wanted.startswith(n + ".") for n in names):
            return Verdict(False, f"{ag.id}'s listener is {', '.join(sorted(names))}, not "
                                  f"{wanted}", evidence)
        if any(int(r["port"]) != c.port for r in rows):
            return Verdict(False, f"{ag.id}'s listener is on port {rows[0]['port']}, not "
                                  f"{c.port}", evidence)
        online = [ip for ip, state in addresses.items() if state == "ONLINE"]
        if not online:
            said = ", ".join(f"{ip} {state}" for ip, state in sorted(addresses.items()))
            return Verdict(False, f"no address of {ag.id}'s listener is ONLINE ({said}): "
                                  "bring its cluster resource online (Failover Cluster "
                                  "Manager, or Start-ClusterResource)", evidence)
        return Verdict(True, f"{ag.id}'s listener {wanted}:{c.port} ONLINE at "
                             f"{', '.join(online)}", evidence)

    return _reported(ctx, endpoint, read)


# --- the cockpit's own login -------------------------------------------------------------------


def _permissions(c: m.PermissionsHeld, ctx: ProbeContext) -> Verdict:
    def read() -> Verdict:
        held = sql_objects.permissions_held(ctx.handle, c.endpoint, c.permissions)
        evidence = {"held": held}
        lacking = [p for p, ok in held.items() if not ok]
        if lacking:
            return Verdict(False, (
                f"the cockpit's login at {c.endpoint} lacks {', '.join(lacking)}: GRANT "
                f"{', '.join(lacking)} TO <the login in its DSN>"), evidence)
        return Verdict(True, f"the cockpit's login at {c.endpoint} holds "
                             f"{', '.join(c.permissions)}", evidence)

    return _reported(ctx, c.endpoint, read)


PROBES: Probes = {
    m.RecoveryModel: _recovery_model,
    m.CollationMatches: _collation,
    m.PathsExist: _paths_exist,
    m.CredentialForUrl: _credential_for_url,
    m.LinkedServersPresent: _linked_servers,
    m.SeedingReady: _seeding_ready,
    m.ListenerOnline: _listener_online,
    m.PermissionsHeld: _permissions,
}

ACTIONS: Actions = {}  # readiness is only ever observed

EFFECTS: Effects = {}

WATCHED_BY: WatchedBy = {}  # checked before the window, not watched during it
