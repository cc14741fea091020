"""The evaluate stage on a small hand-built fleet: findings, order, exceptions and summary."""

from __future__ import annotations

import datetime
import random
from functools import partial
from typing import Any

from audit.evaluate.engine import Evaluation, evaluate
from audit.evaluate.exceptions import parse_exceptions
from audit.evaluate.inventory import inventory_of
from audit.model.exceptions import REGISTER_COLUMNS, ExceptionRow, ExceptionStatus
from audit.model.findings import Status
from audit.model.position import LicenceUsage
from audit.model.snapshot import (
    Coverage,
    DatacenterSnapshot,
    Failure,
    Scope,
    ServiceSnapshot,
    Snapshot,
    SnapshotMeta,
)
from tests.helpers.vms import api_vm, licensed_entry, listed

TODAY = datetime.date(2026, 6, 1)
PROD = "pcc-192-0-2-1"
TEST = "pcc-198-51-100-2"
vm4 = partial(api_vm, cpus=4)  # four vCPUs each unless said otherwise


def datacenter(dc_id: int, vms: list[dict[str, Any]], **overrides: Any) -> DatacenterSnapshot:
    fields: dict[str, Any] = {
        "datacenter_id": dc_id,
        "details": {"datacenterId": dc_id},
        "vm_ids": tuple(v["vmId"] for v in vms),
        "vms": tuple(vms),
        "vm_licensed": tuple(listed(vms)),
        **overrides,
    }
    return DatacenterSnapshot(**fields)


def fleet(coverage: Coverage | None = None) -> Snapshot:
    prod_vms = [
        vm4(101, "windows2019srv_64Guest", None),  # WIN-UNLICENSED
        vm4(102, "windows2019srvNext_64Guest", "windows 2019 Standard"),  # version mismatch
        vm4(103, "rhel9_64Guest", "windows 2022 Standard", powerState="poweredOff", cpuNum=2),
        vm4(104, "windows2019srv_64Guest", "windows 2019 Standard"),  # clean
        vm4(105, "windows2019srv_64Guest", None, powerState="deleted", cpuNum=64),
        vm4(106, "windows9_64Guest", "OVHcloud managed"),  # WIN-CLIENT-OS
    ]
    orphan = licensed_entry(900, "windows 2019 Standard", None, name="ghost", moRef="vm-900")
    return Snapshot(
        meta=SnapshotMeta(taken_at="2026-06-01T00:00:00Z", endpoint="test", tool_version="test"),
        services=(
            ServiceSnapshot(
                PROD,
                {"serviceName": PROD},
                (
                    datacenter(1, prod_vms, vm_licensed=(*listed(prod_vms), orphan)),
                    datacenter(2, [vm4(201, None, None, cpuNum=None)], vm_licensed=None),
                ),
            ),
            ServiceSnapshot(TEST, {"serviceName": TEST}, (datacenter(1, []),)),
        ),
        coverage=coverage or Coverage(),
    )


def register(*rows: str) -> tuple[ExceptionRow, ...]:
    text = "\n".join((",".join(REGISTER_COLUMNS), *rows))
    return parse_exceptions(text.encode(), "exceptions.csv")


def keys(evaluation: Evaluation) -> list[tuple[str, int | None, int | None, str, str]]:
    return [
        (f.service_name, f.datacenter_id, f.vm_id, f.rule_id, f.status.value)
        for f in evaluation.findings
    ]


def test_findings_in_deterministic_order() -> None:
    evaluation = evaluate(inventory_of(fleet()), (), TODAY)
    assert keys(evaluation) == [
        (PROD, 1, 101, "WIN-UNLICENSED", "open"),
        (PROD, 1, 102, "LIC-VERSION-MISMATCH", "open"),
        (PROD, 1, 103, "LIC-NON-WINDOWS", "open"),
        (PROD, 1, 103, "LIC-POWERED-OFF", "open"),
        (PROD, 1, 106, "WIN-CLIENT-OS", "open"),
        (PROD, 1, 900, "LIC-INVENTORY-DRIFT", "open"),
        (PROD, 2, 201, "GUEST-OS-UNKNOWN", "open"),
    ]


def test_input_order_does_not_matter() -> None:
    snapshot = fleet()
    service = snapshot.services[0]
    dc = service.datacenters[0]
    shuffled_vms = list(dc.vms)
    random.Random(7).shuffle(shuffled_vms)
    shuffled = Snapshot(
        meta=snapshot.meta,
        services=(
            snapshot.services[1],
            ServiceSnapshot(
                service.service_name,
                service.details,
                (service.datacenters[1], datacenter(1, shuffled_vms, vm_licensed=dc.vm_licensed)),
            ),
        ),
    )
    assert (
        evaluate(inventory_of(shuffled), (), TODAY).findings
        == evaluate(inventory_of(snapshot), (), TODAY).findings
    )


def test_finding_carries_the_vm_columns() -> None:
    findings = {f.vm_id: f for f in evaluate(inventory_of(fleet()), (), TODAY).findings}
    assert findings[102].to_json() == {
        "rule_id": "LIC-VERSION-MISMATCH",
        "severity": "medium",
        "status": "open",
        "service_name": PROD,
        "datacenter_id": 1,
        "vm_id": 102,
        "vm_name": "vm-102",
        "moref": "vm-102",
        "power_state": "poweredOn",
        "guest_os_family": "windows2019srvNext_64Guest",
        "license": "windows 2019 Standard",
        "message": "Licence 'windows 2019 Standard' is for Windows Server 2019, older than the "
        "guest, configured as Windows Server 2022 (guestOsFamily 'windows2019srvNext_64Guest').",
    }
    orphan = findings[900]
    assert (orphan.vm_name, orphan.moref, orphan.power_state, orphan.license) == (
        "ghost",
        "vm-900",
        None,
        "windows 2019 Standard",
    )


def test_summary_counts_and_licence_usage() -> None:
    evaluation = evaluate(
        inventory_of(fleet()),
        register(f"{PROD},1,101,WIN-UNLICENSED,waiver,r,J,2026-12-31,R"),
        TODAY,
    )
    summary = evaluation.summary
    assert summary.by_severity == {"high": 1, "medium": 4, "low": 1, "info": 1}
    assert summary.open_by_severity == {"high": 0, "medium": 4, "low": 1, "info": 1}
    assert summary.by_status == {"open": 6, "waived": 1, "byol": 0}
    assert summary.by_service == {PROD: 7, TEST: 0}
    assert next(iter(summary.by_rule)) == "WIN-UNLICENSED"
    assert summary.by_rule["LIC-NON-WINDOWS"] == 1
    assert summary.by_rule["EXC-STALE"] == 0
    assert summary.licence_usage == (
        LicenceUsage(PROD, 1, None, 1, 4, 1, 4),
        LicenceUsage(PROD, 1, "OVHcloud managed", 1, 4, 1, 4),
        LicenceUsage(PROD, 1, "windows 2019 Standard", 2, 8, 2, 8),
        LicenceUsage(PROD, 1, "windows 2022 Standard", 1, 2, 0, 0),
        LicenceUsage(PROD, 2, None, 1, 0, 1, 0),
    )
    assert summary.to_json()["licence_usage"][0]["license"] is None


def test_exceptions_applied_after_rules() -> None:
    rows = register(
        f"{PROD},1,101,WIN-UNLICENSED,waiver,Migration,J. Doe,2026-06-30,CHG-1",
        f"{PROD},1,101,*,byol,Everything,J. Doe,,MLA-1",  # the specific row wins
        f"{PROD},1,103,*,byol,Volume licence,J. Doe,,MLA-2",
        f"{PROD},1,102,*,waiver,Old,J. Doe,2026-05-01,CHG-2",  # expired: stays open
        f"{PROD},1,104,*,byol,Nothing to cover,J. Doe,,MLA-3",  # present, valid, unused
        f"{PROD},1,105,*,byol,Deleted VM,J. Doe,,MLA-4",  # stale
        f"{TEST},1,5,*,waiver,Typo,J. Doe,2026-01-01,CHG-3",  # stale (and expired)
    )
    evaluation = evaluate(inventory_of(fleet()), rows, TODAY)
    by_key = {(f.vm_id, f.rule_id): f for f in evaluation.findings}

    waived = by_key[(101, "WIN-UNLICENSED")]
    assert waived.status is Status.WAIVED
    assert waived.exception == rows[0]
    assert by_key[(103, "LIC-NON-WINDOWS")].status is Status.BYOL
    assert by_key[(103, "LIC-POWERED-OFF")].status is Status.BYOL
    assert by_key[(102, "LIC-VERSION-MISMATCH")].status is Status.OPEN

    expired = by_key[(102, "EXC-EXPIRED")]
    assert expired.exception == rows[3]
    assert (expired.vm_name, expired.license) == ("vm-102", "windows 2019 Standard")
    assert "expired on 2026-05-01, 31 days ago" in expired.message
    assert by_key[(105, "EXC-STALE")].message.endswith("which is deleted.")
    assert by_key[(5, "EXC-STALE")].message.endswith("which is not in the snapshot.")
    assert (5, "EXC-EXPIRED") not in by_key

    states = [(s.state, s.days_to_expiry, s.findings_matched) for s in evaluation.exception_states]
    assert states == [
        (ExceptionStatus.VALID, 29, 1),
        (ExceptionStatus.VALID, None, 1),
        (ExceptionStatus.VALID, None, 2),
        (ExceptionStatus.EXPIRED, -31, 1),
        (ExceptionStatus.VALID, None, 0),
        (ExceptionStatus.STALE, None, 0),
        (ExceptionStatus.STALE, -151, 0),
    ]
    assert evaluation.exception_states[0].to_json() == {
        "row": rows[0].to_register_dict(),
        "line": 2,
        "state": "valid",
        "days_to_expiry": 29,
        "findings_matched": 1,
    }


def test_coverage_failures_are_not_evidence() -> None:
    """A datacenter whose VM list failed has no orphans; rows for unread VMs are not stale."""
    coverage = Coverage(
        failures=(
            Failure(Scope.DATACENTER, "/x", "500", PROD, 1),
            Failure(Scope.VM, "/y", "500", PROD, 2, 202),
            Failure(Scope.SERVICE, "/z", "500", "pcc-unread"),
        )
    )
    snapshot = fleet(coverage)
    rows = register(
        f"{PROD},1,150,*,byol,r,J,,R",
        f"{PROD},2,202,*,byol,r,J,,R",
        "pcc-unread,3,1,*,waiver,r,J,2026-01-01,R",
    )
    evaluation = evaluate(inventory_of(snapshot), rows, TODAY)
    rule_ids = {f.rule_id for f in evaluation.findings}
    assert "LIC-INVENTORY-DRIFT" not in rule_ids
    assert "EXC-STALE" not in rule_ids
    assert [s.state for s in evaluation.exception_states] == [
        ExceptionStatus.VALID,
        ExceptionStatus.VALID,
        ExceptionStatus.EXPIRED,
    ]
    unread_expired = [f for f in evaluation.findings if f.rule_id == "EXC-EXPIRED"]
    assert [(f.service_name, f.vm_name) for f in unread_expired] == [("pcc-unread", None)]


def test_unexpected_values_are_data_not_crashes() -> None:
    odd: list[dict[str, Any]] = [
        {"vmId": "7", "powerState": "poweredOn", "guestOsFamily": 42, "license": 2019},
        {"name": "no id", "guestOsFamily": "windows2019srv_64Guest", "cpuNum": "many"},
    ]
    snapshot = Snapshot(
        meta=SnapshotMeta(taken_at="t", endpoint="e", tool_version="v"),
        services=(ServiceSnapshot(PROD, None, (DatacenterSnapshot(1, None, (), tuple(odd), ()),)),),
    )
    evaluation = evaluate(inventory_of(snapshot), (), TODAY)
    assert {(f.vm_id, f.rule_id) for f in evaluation.findings} == {
        (7, "LIC-UNRECOGNISED"),
        (7, "LIC-INVENTORY-DRIFT"),
        (None, "WIN-UNLICENSED"),
    }


def test_byol_billed_is_not_hidden_by_the_byol_row_it_is_about() -> None:
    rows = register(
        f"{PROD},1,103,*,byol,Volume licence,J. Doe,,MLA-2",
        f"{PROD},1,104,*,byol,Own licence,J. Doe,,MLA-3",
        f"{PROD},1,104,LIC-BYOL-BILLED,waiver,Removal booked,CFO,2026-06-30,CHG-9",
    )
    evaluation = evaluate(inventory_of(fleet()), rows, TODAY)
    by_key = {(f.vm_id, f.rule_id): f for f in evaluation.findings}
    # 103's other findings take the byol status; the double payment stays open.
    assert by_key[(103, "LIC-NON-WINDOWS")].status is Status.BYOL
    assert by_key[(103, "LIC-BYOL-BILLED")].status is Status.OPEN
    assert by_key[(103, "LIC-BYOL-BILLED")].exception is None
    assert by_key[(104, "LIC-BYOL-BILLED")].status is Status.WAIVED
    assert by_key[(104, "LIC-BYOL-BILLED")].exception == rows[2]
    # A byol row does not count the finding about itself as one it covers.
    matched = [state.findings_matched for state in evaluation.exception_states]
    assert matched == [2, 0, 1]
    assert evaluation.summary.by_rule["LIC-BYOL-BILLED"] == 2
