"""The kind registries: every condition and action the plan can name has exactly one handler,
every action one probe of whether it took effect, each shows on the pane it always did, and a
kind module imports without a cycle.

These hold the tables in `cockpit.runner.kinds` against the plan's discriminated unions, so a
kind added to the models without a probe or an action handler fails here, not mid-window.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any, get_args

import pytest
from pydantic import BaseModel
from support.plans import ROOT, load

from cockpit.plan import models as m
from cockpit.runner import actions, kinds, probes
from cockpit.runner.kinds.base import Pane
from cockpit.runner.panes import PANES, panes_watched_by

CONDITIONS: set[type[BaseModel]] = set(get_args(get_args(m.Condition)[0]))
ACTIONS: set[type[BaseModel]] = set(get_args(get_args(m.Action)[0]))
# Each module of the area, to be imported first: any cycle among them fails one of these.
FIRST_IMPORTS = [s.__name__ for s in kinds.SYSTEMS] + [
    "cockpit.runner.kinds.base", "cockpit.runner.kinds", "cockpit.runner.probes",
    "cockpit.runner.actions", "cockpit.runner.panes"]

# Which kinds sped up which pane before the registries were split by system (by kind name,
# as `runner.panes.WATCHED_BY` said): the split must not move any of them.
# The panes each kind lit before the kinds were split by system, plus the kinds added since
# (dns.ttl_at_most: the resolvers' answers it waits on are the DNS pane's; http.get: the
# apps answer it, whatever name it goes through).
WATCHED_BEFORE: dict[str, set[str]] = {
    "apps": {"ec2.running", "ec2.stopped", "ec2.spread", "http.healthy", "http.get"},
    "targets": {"elb.targets_healthy", "elb.targets_drained"},
    "dns": {"route53.insync", "dns.resolves_to", "dns.ttl_at_most"},
    "ag": {"sql.ag_healthy", "sql.ag_synchronized", "sql.add_to_ag", "sql.remove_from_ag"},
    "backup": {"s3.backup_present", "sql.backup_to_url", "sql.backup_to_disk",
               "sql.restore_from_url", "s3.abort_multipart"},
}


def kind_of(model: type[BaseModel]) -> str:
    """The `kind` string a model is written as in a plan."""
    (kind,) = get_args(model.model_fields["kind"].annotation)
    return str(kind)


def test_the_unions_are_read_whole() -> None:
    assert m.Ec2Running in CONDITIONS and m.BackupPresent in CONDITIONS
    assert m.Manual in ACTIONS and m.AbortMultipart in ACTIONS
    assert not CONDITIONS & ACTIONS


@pytest.mark.parametrize("model", sorted(CONDITIONS, key=kind_of), ids=kind_of)
def test_every_condition_has_exactly_one_probe(model: type[BaseModel]) -> None:
    owners = [s.__name__ for s in kinds.SYSTEMS if model in s.PROBES]
    assert len(owners) == 1, f"{kind_of(model)} is probed by {owners or 'no module'}"
    assert not any(model in s.ACTIONS for s in kinds.SYSTEMS)


@pytest.mark.parametrize("model", sorted(ACTIONS, key=kind_of), ids=kind_of)
def test_every_action_has_exactly_one_handler(model: type[BaseModel]) -> None:
    owners = [s.__name__ for s in kinds.SYSTEMS if model in s.ACTIONS]
    assert len(owners) == 1, f"{kind_of(model)} is performed by {owners or 'no module'}"
    assert not any(model in s.PROBES for s in kinds.SYSTEMS)


@pytest.mark.parametrize("model", sorted(ACTIONS, key=kind_of), ids=kind_of)
def test_every_action_has_exactly_one_effect_probe_where_its_handler_is(
    model: type[BaseModel],
) -> None:
    """What a re-check judges a cut-short step by when it has no `until`: the module that
    performs an action is the one that says whether it took effect."""
    owners = [s.__name__ for s in kinds.SYSTEMS if model in s.EFFECTS]
    assert owners == [s.__name__ for s in kinds.SYSTEMS if model in s.ACTIONS]


def test_only_a_manual_action_cannot_be_judged_from_the_estate() -> None:
    assert [kind_of(model) for model, effect in kinds.EFFECTS.items() if effect is None] == [
        "manual"]


def test_the_registries_hold_the_plans_kinds_and_nothing_else() -> None:
    assert set(kinds.PROBES) == CONDITIONS
    assert set(kinds.ACTIONS) == ACTIONS
    assert set(kinds.EFFECTS) == ACTIONS
    assert set(kinds.PANE_OF) <= CONDITIONS | ACTIONS


def test_the_pane_names_are_the_panes() -> None:
    assert set(get_args(Pane)) == set(PANES)
    assert set(kinds.PANE_OF.values()) <= set(PANES)


def test_each_kind_shows_on_the_pane_it_did_before_the_split() -> None:
    now: dict[str, set[str]] = {pane: set() for pane in PANES}
    for model, pane in kinds.PANE_OF.items():
        now[pane].add(kind_of(model))
    assert now == WATCHED_BEFORE


def test_two_modules_claiming_one_kind_fail_the_merge() -> None:
    def probe(c: Any, ctx: Any) -> Any:
        return None

    with pytest.raises(kinds.KindClash, match=r"Ec2Running is in both a\.PROBES and b\.PROBES"):
        kinds._merge("PROBES", {"a": {m.Ec2Running: probe}, "b": {m.Ec2Running: probe}})


def test_panes_watched_by_agrees_with_the_kind_names_for_every_plan_step() -> None:
    steps = [step for path in sorted((ROOT / "plans").glob("*.toml"))
             for step in load(path).steps()]
    assert steps
    for step in steps:
        names = {c.kind for c in [*step.gates, *step.until, *([step.do] if step.do else [])]}
        before = {pane for pane, watched in WATCHED_BEFORE.items() if watched & names}
        assert panes_watched_by(step) == before, step.id


def test_panes_watched_by_reads_gates_until_and_do_but_not_undo() -> None:
    step = m.Step.model_validate({
        "id": "s", "title": "a step",
        "gates": [{"kind": "http.healthy", "servers": ["app"]}],
        "do": {"kind": "sql.backup_to_url", "endpoint": "db", "database": "oms",
               "bucket": "b", "key": "k.bak"},
        "until": [{"kind": "route53.insync"}],
        "undo": {"kind": "s3.abort_multipart", "bucket": "b", "key": "k.bak"}})
    assert panes_watched_by(step) == {"apps", "backup", "dns"}
    manual = m.Step.model_validate({"id": "s", "title": "by hand",
                                    "do": {"kind": "manual", "instruction": "do it"}})
    assert panes_watched_by(manual) == set()


@pytest.mark.parametrize("module", FIRST_IMPORTS)
def test_a_module_of_the_area_imports_first_in_a_fresh_interpreter(module: str) -> None:
    """No cycle: whichever module of the area is imported first, the import completes."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_runner_api_re_exports_the_shared_types() -> None:
    assert probes.Verdict is kinds.base.Verdict
    assert probes.ProbeContext is kinds.base.ProbeContext
    assert actions.ActionContext is kinds.base.ActionContext
    assert actions.ActionFailed is kinds.base.ActionFailed
    assert actions.ManualNotConfirmed is kinds.base.ManualNotConfirmed
