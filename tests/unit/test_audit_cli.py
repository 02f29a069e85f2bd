"""`cockpit audit verify|export` as an engineer runs them, and the package's import hygiene."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.audit import Actor, AuditWriter
from cockpit.audit import events as ev
from cockpit.cli import main

JO = Actor(user="jo", host="jump1", ssh_client="10.1.1.5 50522 22")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    with AuditWriter(path, session="s1", actor=JO, mode="driver") as w:
        w.append(ev.SESSION_OPENED, detail={"plan_name": "OMS window 1"})
        w.append(ev.STEP_STARTED, step="S1", detail={"title": "Stop app servers", "attempt": 1})
        w.append(ev.STEP_SUCCEEDED, step="S1", detail={"duration_s": 4.0, "evidence": {"n": 2}})
        w.append(ev.SESSION_CLOSED)
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), result.exception  # never a traceback
    return result.exit_code, result.stdout, result.stderr


def test_verify_intact_exits_0(log: Path) -> None:
    code, out, _ = run("audit", "verify", str(log))
    assert code == 0
    assert out.startswith(f"{log}: intact, 4 entries, head seq 4 ")
    assert "session closed" in out


def test_verify_altered_exits_1(log: Path) -> None:
    log.write_bytes(log.read_bytes().replace(b'"n":2', b'"n":3'))
    code, out, _ = run("audit", "verify", str(log))
    assert code == 1
    assert "ALTERED at line 3 (seq 3): hash mismatch" in out


def test_verify_torn_exits_1(log: Path) -> None:
    with log.open("ab") as f:
        f.write(b'{"seq":5,"ts"')
    code, out, _ = run("audit", "verify", str(log))
    assert code == 1
    assert "TORN last line (crash mid-write)" in out


@pytest.mark.parametrize("content", [None, b"\x89PNG\r\n\x1a\n\x00\x00garbage\n"])
def test_verify_unreadable_exits_2(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "audit.jsonl"
    if content is not None:
        path.write_bytes(content)
    code, out, _ = run("audit", "verify", str(path))
    assert code == 2
    assert out.startswith(f"{path}: UNREADABLE: ")


def test_export_writes_the_file_named_by_o(log: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "record.html"
    code, out, _ = run("audit", "export", str(log), "--format", "html", "-o", str(out_file))
    assert code == 0
    assert out == f"wrote {out_file}\n"
    assert "Stop app servers" in out_file.read_text(encoding="utf-8")


def test_an_exported_record_is_readable_by_its_owner_only(log: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "record.md"
    out_file.write_text("an older export, world-readable")
    out_file.chmod(0o644)
    code, _, _ = run("audit", "export", str(log), "-o", str(out_file))
    assert code == 0
    assert out_file.stat().st_mode & 0o777 == 0o600
    assert "Stop app servers" in out_file.read_text(encoding="utf-8")


def test_export_to_stdout(log: Path) -> None:
    code, out, _ = run("audit", "export", str(log), "--format", "json")
    assert code == 0
    assert [e["seq"] for e in json.loads(out)] == [1, 2, 3, 4]


def test_export_of_an_unreadable_log_exits_2_with_one_line(tmp_path: Path) -> None:
    code, out, err = run("audit", "export", str(tmp_path / "missing.jsonl"), "--format", "md")
    assert code == 2
    assert out == ""
    assert err == f"{tmp_path / 'missing.jsonl'}: no such file\n"


def test_export_to_an_unwritable_place_exits_2(log: Path, tmp_path: Path) -> None:
    code, _, err = run("audit", "export", str(log), "-o", str(tmp_path / "no" / "such" / "x.md"))
    assert code == 2
    assert "cannot write" in err


def test_the_installed_command_verifies(log: Path) -> None:
    cockpit = Path(sys.executable).parent / "cockpit"
    if not cockpit.exists():
        pytest.skip("the cockpit console script is not installed in this environment")
    done = subprocess.run([str(cockpit), "audit", "verify", str(log)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "intact, 4 entries" in done.stdout


def test_the_audit_package_never_imports_textual() -> None:
    code = (
        "import sys, cockpit.audit as audit\n"
        "import cockpit.audit.writer, cockpit.audit.verify, cockpit.audit.export\n"
        "[getattr(audit, name) for name in audit.__all__]\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
