"""The plan package is used by headless rehearsal and by CI: it must not pull in textual."""

from __future__ import annotations

import subprocess
import sys

from support.plans import ROOT

PLAN_MODULES = [
    "cockpit.plan",
    "cockpit.plan.models",
    "cockpit.plan.loader",
    "cockpit.plan.checks",
    "cockpit.plan.table",
    "cockpit.plan.toml_lines",
]
LIST_UI_MODULES = "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
VALIDATE_WITHOUT_TEXTUAL = """
import sys
sys.modules['textual'] = None  # importing textual now fails
from click.testing import CliRunner
from cockpit.cli import main
result = CliRunner().invoke(main, ['plan', 'validate', sys.argv[1]])
print(result.exit_code)
"""


def run_python(code: str, *args: str) -> str:
    command = [sys.executable, "-c", code, *args]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return result.stdout.strip()


def test_importing_the_plan_package_does_not_import_textual() -> None:
    imports = "; ".join(f"import {module}" for module in PLAN_MODULES)
    assert run_python(f"import sys; {imports}; {LIST_UI_MODULES}") == "[]"


def test_validate_runs_without_textual_on_the_path() -> None:
    """Even with textual unimportable, `cockpit plan validate` works (a bare CI image)."""
    plan = str(ROOT / "tests" / "data" / "bad_plans" / "_base.toml")
    assert run_python(VALIDATE_WITHOUT_TEXTUAL, plan) == "0"


def test_the_poller_and_the_simulated_estate_do_not_import_httpx_s_command_line() -> None:
    """httpx imports its own command-line client (rich, pygments) whenever they are
    installed; the panes' poller process and the simulated estate never run it."""
    modules = "cockpit.runner.poll_process, cockpit.sim.estate"
    listed = ("print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'pygments'}), "
              "callable(httpx.main))")
    assert run_python(f"import sys, {modules}, httpx; {listed}") == "[] True"


def test_the_simulated_estate_does_not_import_the_poller_s_dns_machinery() -> None:
    """The estate's load balancers take the process's TLS context (`estate/tls.py`), not
    the poller's HTTP module, which brings dnspython's resolvers with it."""
    listed = "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dns'))"
    assert run_python(f"import sys, cockpit.sim.estate; {listed}") == "[]"
