"""`sql.version`: the instance's major version and edition, from SERVERPROPERTY, which
the simulated SQL Server answers as SQL Server 2022 Enterprise does."""

from __future__ import annotations

from support.estate import running_sim
from support.plans import PHASE_TWO, load

from cockpit.estate import sql
from cockpit.plan.models import SqlVersion
from cockpit.runner.probes import ProbeContext, judge


def version(**fields: object) -> SqlVersion:
    return SqlVersion.model_validate({"kind": "sql.version", "endpoint": "oms-db-dc",
                                      **fields})


def test_the_major_version_and_edition_are_judged() -> None:
    with running_sim(load(PHASE_TWO)) as (_sim, handle):
        found = sql.server_version(handle, "oms-db-dc")
        enough = judge(version(min_major=16, editions=["Enterprise"]), ProbeContext(handle))
        too_old = judge(version(min_major=17), ProbeContext(handle))
        wrong_edition = judge(version(min_major=15, editions=["Standard"]),
                              ProbeContext(handle))
        unknown = sql.read_query(handle, "oms-db-dc", None,
                                 "SELECT SERVERPROPERTY('NoSuchProperty') AS p")
    assert found["major"] == 16 and found["edition"].startswith("Enterprise")
    assert enough.ok, enough.summary
    assert not too_old.ok and "major version 16, need 17" in too_old.summary
    assert not wrong_edition.ok and "not Standard" in wrong_edition.summary
    assert unknown == [{"p": None}]  # NULL for a property it does not know
