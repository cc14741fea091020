"""Rule behaviour as data: every case in cases/<RULE-ID>.toml, run through `evaluate`.

A case describes one datacenter of one service:

    [[case]]
    name = "what the case shows"          # unique within the file
    fires = true                          # does the file's rule raise a finding?
    count = 1                             # findings of the rule expected when it fires
    message = "substring"                 # in every finding of the rule
    status = "waived"                     # status of every finding of the rule
    vm = { guestOsFamily = "...", license = "..." }   # over defaults; no table: no VM
    null = ["license"]                    # VM fields present with a JSON null
    vm_ids = [101, 102]                   # the datacenter's VM listing (default: the VM)
    listing = "unread"                    # vmLicensed could not be read
    entry = { guestOsFamily = "..." }     # over the VM's derived vmLicensed entry
    vm_licensed = [ { vmId = 9 } ]        # the whole vmLicensed listing, verbatim
    register = "CSV text"                 # exceptions register
    today = 2026-06-01                    # evaluation day (default below)
    period = { days_observed = 30, days_powered_on = 0, days_unlicensed = 0,
               first_unlicensed = "2026-05-03", last_unlicensed = "2026-05-16",
               billed = ["windows 2019 Standard"],
               guestOsFamily = "...", license = "..." }
                                          # the VM's facts over the period's observations (the
                                          # VM may be absent or deleted at the snapshot; guest
                                          # and licence are as last observed; `billed` the
                                          # values it carried on a day powered on, none by
                                          # default); no table: the snapshot alone

By default vmLicensed is derived as the API does: one entry for the VM if its licence is
not null. Going through `evaluate` tests what users see: deleted VMs skipped, exceptions.
"""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path
from typing import Any

import pytest

from audit.evaluate.engine import evaluate
from audit.evaluate.exceptions import parse_exceptions
from audit.evaluate.inventory import inventory_of
from audit.evaluate.rules.registry import RULE_IDS
from audit.model.exposure import Exposure, Source, VmExposure
from audit.model.snapshot import DatacenterSnapshot, ServiceSnapshot, Snapshot, SnapshotMeta
from tests.helpers.vms import api_vm, licensed_entry

CASES = Path(__file__).parent / "cases"
SERVICE = "pcc-192-0-2-1"
DATACENTER = 1
TODAY = datetime.date(2026, 6, 1)
VM_DEFAULTS: dict[str, Any] = api_vm(101, None, None, name="app-101")
CASE_KEYS = {
    "name",
    "fires",
    "count",
    "message",
    "status",
    "vm",
    "null",
    "vm_ids",
    "listing",
    "entry",
    "vm_licensed",
    "register",
    "today",
    "period",
}
PERIOD_DAYS = ("days_observed", "days_powered_on", "days_unlicensed")


def load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES.glob("*.toml")):
        for case in tomllib.loads(path.read_text(encoding="utf-8"))["case"]:
            params.append(pytest.param(path.stem, case, id=f"{path.stem}::{case['name']}"))
    return params


def build_snapshot(case: dict[str, Any]) -> Snapshot:
    vm: dict[str, Any] | None = None
    if "vm" in case:
        vm = {**VM_DEFAULTS, **case["vm"]}
        vm.update(dict.fromkeys(case.get("null", [])))
    if "vm_licensed" in case:
        vm_licensed: list[dict[str, Any]] | None = case["vm_licensed"]
    elif case.get("listing") == "unread":
        vm_licensed = None
    else:
        vm_licensed = []
        if vm is not None and (vm.get("license") is not None or "entry" in case):
            vm_licensed.append(
                licensed_entry(
                    vm["vmId"],
                    vm.get("license"),
                    vm.get("guestOsFamily"),
                    name=vm.get("name"),
                    moRef=vm.get("moRef"),
                    **case.get("entry", {}),
                )
            )
    default_ids = [] if vm is None else [vm["vmId"]]
    datacenter = DatacenterSnapshot(
        datacenter_id=DATACENTER,
        details={"datacenterId": DATACENTER},
        vm_ids=tuple(case.get("vm_ids", default_ids)),
        vms=() if vm is None else (vm,),
        vm_licensed=None if vm_licensed is None else tuple(vm_licensed),
    )
    return Snapshot(
        meta=SnapshotMeta(taken_at="2026-06-01T00:00:00Z", endpoint="test", tool_version="test"),
        services=(ServiceSnapshot(SERVICE, {"serviceName": SERVICE}, (datacenter,)),),
    )


def build_exposure(case: dict[str, Any]) -> Exposure | None:
    """The period's facts for VM 101, as the observations would give them."""
    if "period" not in case:
        return None
    facts = case["period"]
    last_seen = {**VM_DEFAULTS, **case.get("vm", {}), **facts}
    vm = VmExposure(
        service_name=SERVICE,
        datacenter_id=DATACENTER,
        vm_id=101,
        name=last_seen.get("name"),
        guest_os_family=last_seen.get("guestOsFamily"),
        license=last_seen.get("license"),
        **{key: facts.get(key, 0) for key in PERIOD_DAYS},
        first_unlicensed=facts.get("first_unlicensed"),
        last_unlicensed=facts.get("last_unlicensed"),
        billed=tuple(facts.get("billed", ())),
    )
    return Exposure(Source.OBSERVATIONS, 31, (), (), (), (), (vm,))


@pytest.mark.parametrize(("rule_id", "case"), load_cases())
def test_rule_case(rule_id: str, case: dict[str, Any]) -> None:
    assert set(case) <= CASE_KEYS, f"unknown case keys {set(case) - CASE_KEYS}"
    register = (
        parse_exceptions(case["register"].encode(), "register.csv") if "register" in case else ()
    )
    evaluation = evaluate(
        inventory_of(build_snapshot(case)), register, case.get("today", TODAY), build_exposure(case)
    )
    hits = [finding for finding in evaluation.findings if finding.rule_id == rule_id]
    if not case["fires"]:
        assert hits == [], [hit.message for hit in hits]
        return
    assert len(hits) == case.get("count", 1), [hit.message for hit in hits]
    for hit in hits:
        assert case.get("message", "") in hit.message
        if "status" in case:
            assert hit.status.value == case["status"]


def test_every_rule_has_passing_and_firing_cases() -> None:
    by_rule: dict[str, set[bool]] = {}
    names: dict[str, list[str]] = {}
    for param in load_cases():
        rule_id, case = param.values
        by_rule.setdefault(rule_id, set()).add(case["fires"])
        names.setdefault(rule_id, []).append(case["name"])
    assert set(by_rule) == set(RULE_IDS)
    for rule_id, outcomes in by_rule.items():
        assert outcomes == {True, False}, rule_id
        assert len(names[rule_id]) == len(set(names[rule_id])), f"duplicate names in {rule_id}"
