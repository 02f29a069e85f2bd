"""Backups and restores on the simulated SQL Server: they take time, show it, and move
real bytes.

A backup to URL reads the database over its (scaled) duration, moving `percent_complete`
in `sys.dm_exec_requests`, and writes its image into the sim's S3 bucket as a real
multipart upload whose parts arrive as the bytes are read; the statement returns only
when the upload is complete, as on a server. One that fails (`backup-fails-at`) leaves
its upload open, parts and all, as SQL Server does; so does one whose session is killed
(its client's connection dropped: `sql-drop-at`, or a client that died). A restore reads
the image back from S3 and creates the database from it.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cockpit.sim.plan_data import stored_table
from cockpit.sim.sql_errors import SimSqlError, link_failure, shutting_down, terminating
from cockpit.sim.sqlserver import (
    PAGE,
    SimConnection,
    SimDatabase,
    SimSqlServer,
    timestamp,
)

TICK_S = 0.05
PART_BYTES = 5 * 1024 * 1024  # S3's smallest part (but the last): the sim's backups are small
MAGIC = b"CKPTSIM-BAK\x01"


# --- the backup image ---------------------------------------------------------------------------


def backup_image(db: SimDatabase, extra: dict[str, Any] | None = None) -> bytes:
    """Header, the database's bytes, then its allocated pages: as big as its data file."""
    payload = db.data_file.read_bytes()
    header = json.dumps({**(extra or {}), "database": db.name, "payload_bytes": len(payload),
                         "read_only": db.read_only, "user_access": db.user_access,
                         "recovery_model": db.recovery_model,
                         "users": {name: sid.hex() for name, sid in db.users.items()},
                         "tde_thumbprint": (db.encryptor_thumbprint.hex()
                                            if db.encryptor_thumbprint else None),
                         "collation": db.collation, "reserved_bytes": db.reserved_bytes,
                         "files": db.file_paths(),
                         "backup_start_date": timestamp()}).encode()
    head = MAGIC + len(header).to_bytes(4, "big") + header + payload
    return head + _pages(payload, max(0, db.data_pages() * PAGE - len(head)))


def _pages(seed: bytes, size: int) -> bytes:
    """Deterministic filler derived from the data: a sha256 chain, 32 bytes a link."""
    block = hashlib.sha256(seed).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


def read_image(image: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and the database's bytes; ValueError if this is no backup of ours."""
    if not image.startswith(MAGIC):
        raise ValueError("not a backup image")
    start = len(MAGIC) + 4
    length = int.from_bytes(image[len(MAGIC):start], "big")
    header = json.loads(image[start:start + length])
    payload = image[start + length:start + length + int(header["payload_bytes"])]
    return header, payload


def split(image: bytes, stripes: int) -> list[bytes]:
    size = math.ceil(len(image) / stripes)
    return [image[n * size:(n + 1) * size] for n in range(stripes)]


# --- time, and what it shows -----------------------------------------------------------------


@dataclass
class Clock:
    """The sim's sense of time: durations divided by speed, cut short when the sim stops."""

    speed: float
    stopping: threading.Event

    def run(self, nominal_s: float, tick: Callable[[float], None],
            session: SimConnection | None = None) -> None:
        """Call `tick(fraction)` from 0 to 1 over the scaled duration; between ticks, a
        killed `session` ends the statement with the error it was killed with."""
        duration = nominal_s / self.speed
        started = time.monotonic()
        while True:
            fraction = min(1.0, (time.monotonic() - started) / duration)
            tick(fraction)
            if fraction >= 1.0:
                return
            if session is not None:
                session.check_alive()
                session.check_timeout(time.monotonic() - started)
            if self.stopping.wait(min(TICK_S, duration / 50)):
                raise shutting_down()


class Request:
    """A row in `sys.dm_exec_requests` for the life of one statement."""

    def __init__(self, conn: SimConnection, command: str, db: SimDatabase,
                 duration_s: float) -> None:
        self.server, self.session_id = conn.server, conn.session_id
        self.duration_s = duration_s
        self.server.write("INSERT INTO dm_exec_requests VALUES (?, ?, ?, 'suspended', 0, ?, ?)",
                          (self.session_id, command, db.database_id, int(duration_s * 1000),
                           timestamp()))

    def progress(self, fraction: float) -> None:
        remaining_ms = int(self.duration_s * (1 - fraction) * 1000)
        self.server.write("UPDATE dm_exec_requests SET percent_complete = ?, "
                          "estimated_completion_time = ? WHERE session_id = ?",
                          (round(fraction * 100, 2), remaining_ms, self.session_id))

    def end(self) -> None:
        self.server.write("DELETE FROM dm_exec_requests WHERE session_id = ?",
                          (self.session_id,))


# --- S3 --------------------------------------------------------------------------------------


class Target:
    """One URL of a backup: its multipart upload, fed part by part."""

    def __init__(self, s3: Any, url: str, bucket: str, key: str, data: bytes) -> None:
        self.s3, self.url, self.bucket, self.key, self.data = s3, url, bucket, key, data
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def open(self) -> None:
        created = self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)
        self.upload_id = created["UploadId"]

    def feed(self, fraction: float) -> None:
        """Upload every whole part the bytes read so far fill (the last one at the end)."""
        ready = len(self.data) if fraction >= 1.0 else int(len(self.data) * fraction)
        while (sent := len(self.parts) * PART_BYTES) < len(self.data):
            end = min(sent + PART_BYTES, len(self.data))
            if end > ready:
                return
            number = len(self.parts) + 1
            put = self.s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                      PartNumber=number, Body=self.data[sent:end])
            self.parts.append({"PartNumber": number, "ETag": put["ETag"]})

    def complete(self) -> None:
        self.s3.complete_multipart_upload(Bucket=self.bucket, Key=self.key,
                                          UploadId=self.upload_id,
                                          MultipartUpload={"Parts": self.parts})


def parse_url(url: str, s3_host: str) -> tuple[str, str]:
    """`s3://host:port/bucket/key` -> (bucket, key), if it points at the sim's S3."""
    parts = urlsplit(url)
    bucket, _, key = parts.path.lstrip("/").partition("/")
    if parts.scheme != "s3" or parts.netloc != s3_host or not bucket or not key:
        raise SimSqlError(3201, f"Cannot open backup device '{url}'. Operating system error "
                                "12007(The server name or address could not be resolved.).")
    return bucket, key


# --- the operations ------------------------------------------------------------------------


@dataclass
class Operations:
    """What BACKUP and RESTORE do on a server of the sim."""

    clock: Clock
    s3: Any
    s3_host: str
    disk_root: Path
    fail_backup_at: float | None = None
    drop_session_at: float | None = None
    drop_row_of: str | None = None

    def _open(self, target: Target) -> None:
        try:
            target.open()
        except Exception as exc:  # what S3 said, as the server would report it
            raise SimSqlError(3201, f"Cannot open backup device '{target.url}'. Operating "
                                    f"system error 50({exc}).",
                              then=terminating("BACKUP DATABASE")) from None

    def _cut(self, fraction: float) -> tuple[float, str] | None:
        """Where a faulted backup ends, once it has got there: the first of
        `backup-fails-at` ("fail": an I/O error) and `sql-drop-at` ("drop": the client's
        connection drops, and the server kills the session)."""
        cuts = [(percent, kind) for percent, kind in ((self.fail_backup_at, "fail"),
                                                      (self.drop_session_at, "drop"))
                if percent is not None]
        if not cuts:
            return None
        percent, kind = min(cuts)
        return (percent / 100, kind) if fraction * 100 >= percent else None

    def _backup_tick(self, request: Request, targets: list[Target], fraction: float) -> None:
        cut = self._cut(fraction)
        if cut:
            fraction = cut[0]
        for target in targets:
            target.feed(fraction)
        request.progress(fraction)
        if cut and cut[1] == "drop":  # the upload stays open, as after any killed backup
            raise link_failure()
        if cut:
            raise SimSqlError(3202, f"Write on '{targets[0].url}' failed: 1117(The request "
                                    "could not be performed because of an I/O device error.)",
                              then=terminating("BACKUP DATABASE"))

    def _disk_tick(self, out: Any, image: bytes, fraction: float, request: Request) -> None:
        dropping = self.drop_session_at is not None and fraction * 100 >= self.drop_session_at
        _write_upto(out, image, (self.drop_session_at or 0) / 100 if dropping else fraction,
                    request)
        if dropping:
            raise link_failure()

    def _get(self, url: str) -> bytes:
        bucket, key = parse_url(url, self.s3_host)
        try:
            return bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except Exception:  # any S3 refusal reads, on the server, as a device it cannot open
            raise SimSqlError(3201, f"Cannot open backup device '{url}'. Operating system "
                                    "error 2(The system cannot find the file specified.).",
                              then=terminating("RESTORE DATABASE")) from None

    def _recover(self, server: SimSqlServer, db: SimDatabase, header: dict[str, Any],
                 payload: bytes, recovery: bool) -> None:
        with server.lock:
            db.data_file.write_bytes(payload)
            if self.drop_row_of:
                drop_one_row(db.data_file, self.drop_row_of)
            # A backup of a READ_ONLY, RESTRICTED_USER database restores that way.
            db.read_only = bool(header["read_only"])
            db.user_access = str(header["user_access"])
            db.users = {name: bytes.fromhex(sid) for name, sid in header.get("users", {}).items()}
            thumbprint = header.get("tde_thumbprint")
            db.encryptor_thumbprint = bytes.fromhex(thumbprint) if thumbprint else None
            db.collation = str(header.get("collation") or db.collation)
            db.reserved_bytes = int(header.get("reserved_bytes") or 0)
            db.state = "ONLINE" if recovery else "RESTORING"
            server.refresh_catalog(db)
            server.publish_databases()


def _require_certificate(server: SimSqlServer, header: dict[str, Any]) -> None:
    """A TDE database restores only where master holds the certificate that protects its
    key: else Msg 33111, then 3013 (RESTORE Statements; errors 31000-41399)."""
    thumbprint = header.get("tde_thumbprint")
    if thumbprint and bytes.fromhex(thumbprint) not in server.certificates.values():
        raise SimSqlError(33111, f"Cannot find server certificate with thumbprint "
                                 f"'0x{thumbprint.upper()}'.",
                          then=terminating("RESTORE DATABASE"))


def _write_upto(out: Any, image: bytes, fraction: float, request: Request) -> None:
    end = len(image) if fraction >= 1.0 else int(len(image) * fraction)
    out.write(image[out.tell():end])
    request.progress(fraction)


def drop_one_row(data_file: Path, table: str) -> None:
    """The fault `restore-drops-row`: the restored copy misses the table's last row. The
    table as the plan writes it (`sales.returns`), or by its bare name (`returns`)."""
    with sqlite3.connect(data_file) as data:
        stored = stored_table(data, table)
        if stored is not None:
            quoted = '"' + stored.replace('"', '""') + '"'
            data.execute(f"DELETE FROM {quoted} WHERE rowid = (SELECT MAX(rowid) FROM {quoted})")
    data.close()
