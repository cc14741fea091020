"""A small, hostile run for the renderer tests: built in-process, evaluated by the real engine.

VM names come from vCenter and are attacker-controlled; the fixture carries the classic
payloads (HTML, spreadsheet formulas, DDE, control characters, unicode) in names, licences and
guest ids, an incomplete coverage and an exceptions register with valid, expired and stale rows
(one typed with leading zeros).
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from audit.evaluate.engine import evaluate
from audit.evaluate.exceptions import parse_exceptions
from audit.evaluate.inventory import inventory_of
from audit.evaluate.report import run_report
from audit.model.findings import Finding
from audit.model.history import CarriedReview, HistoryView, PreviousCounts, TrendPoint
from audit.model.period import Period
from audit.model.run import RunReport
from audit.model.snapshot import (
    Coverage,
    DatacenterSnapshot,
    Failure,
    Scope,
    ServiceSnapshot,
    Snapshot,
    SnapshotMeta,
    encode_snapshot,
)
from audit.render.base import ReportInput
from tests.helpers.vms import PLACED, api_vm, licensed_entry, listed

PERIOD = "2025-11"
TAKEN_AT = "2025-11-01T02:03:04Z"
PROD = "pcc-203-0-113-10"
LAB = "pcc-198-51-100-7"

HOSTILE_NAMES = (
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "#N/A",
    "\tTabbed",
    "\rCarriage",
    "say \"hi\" & 'bye'",
    "line one\nline two",
    "ctl\x01char",
    "数据库-サーバー-ü-🚀",
    '"><img src=x onerror=alert(2)>',
    "https://evil.example/x.png",
)

REGISTER = b"""service_name,datacenter_id,vm_id,rule_id,kind,reason,approved_by,expires,reference
pcc-203-0-113-10,1,1002,*,byol,Customer's own licence (MS agreement 42),=HYPERLINK("http://x"),,=1+2
pcc-203-0-113-10,1,1003,WIN-UNLICENSED,waiver,Decommission planned,CISO,2025-06-30,CHG-0042
pcc-203-0-113-10,1,1004,WIN-CLIENT-OS,waiver,Lab desktop,Jane Doe,2026-03-31,CHG-0099
pcc-203-0-113-10,1,9999,*,byol,Old VM,Jane Doe,,CHG-0001
pcc-203-0-113-10,1,1013,*,byol,Own licence (and billed: LIC-BYOL-BILLED),Jane Doe,,MS-EA-7
pcc-203-0-113-10,1,0042,*,byol,Typed with zeros,Jane Doe,,000123
"""


def _vm(vm_id: int, name: str, guest: str | None, licence: str | None, **extra: Any) -> Any:
    return api_vm(vm_id, guest, licence, name=name, **{**PLACED, **extra})


def _prod_dc1(bulk: int) -> DatacenterSnapshot:
    vms = [
        _vm(
            1001,
            "web-01",
            "windows2019srv_64Guest",
            "windows 2019 Standard Core",
            clusterName="007",  # ids that look like numbers keep their leading zeros
            folderName="0042",
        ),
        _vm(1002, HOSTILE_NAMES[0], "windows9Server64Guest", None),
        _vm(1003, HOSTILE_NAMES[1], "windows2019srvNext_64Guest", "unlicensed windows guestos"),
        _vm(1004, HOSTILE_NAMES[2], "windows9_64Guest", None),
        _vm(1005, HOSTILE_NAMES[3], "rhel9_64Guest", "windows 2022 Standard"),
        _vm(1006, HOSTILE_NAMES[4], "windows8Server64Guest", "windows 2012 R2 Standard"),
        _vm(1007, HOSTILE_NAMES[5], None, "=cmd|' /C calc'!A0"),
        _vm(1008, HOSTILE_NAMES[6], "windows2019srv_64Guest", "windows 2022 Datacenter"),
        _vm(1009, HOSTILE_NAMES[7], "windows2019srv_64Guest", "OVHcloud managed"),
        _vm(1010, HOSTILE_NAMES[8], "winNetStandard64Guest", None, powerState="poweredOff"),
        _vm(1011, HOSTILE_NAMES[9], "debian12_64Guest", None),
        _vm(1012, HOSTILE_NAMES[10], "windows2019srv_64Guest", None),
        _vm(1013, HOSTILE_NAMES[11], "windows2019srv_64Guest", "windows 2019 Datacenter"),
        _vm(1014, HOSTILE_NAMES[12], "otherGuest64", None),
        _vm(1015, HOSTILE_NAMES[13], "windows2019srv_64Guest", "windows 2019 Standard"),
        _vm(1016, "retired-sql", "windows2019srv_64Guest", None, powerState="deleted"),
        _vm(
            1017,
            "archive-01",
            "windows2019srv_64Guest",
            "windows 2019 Standard",
            powerState="poweredOff",
            cpuNum=8,
            memoryMax=32768,
        ),
    ]
    vms += [
        _vm(2000 + i, f"bulk-{i:04d}", "windows2019srv_64Guest", None, cpuNum=2)
        for i in range(bulk)
    ]
    licensed = listed(vms)
    # Tools see another OS than configured, and a licence the VM does not show.
    licensed[0] = {**licensed[0], "guestOsFamily": "windows2019srvNext_64Guest"}
    licensed.append(licensed_entry(4242, "windows 2019 Standard", name="ghost<b>", moRef="vm-4242"))
    return DatacenterSnapshot(
        datacenter_id=1,
        details={"datacenterId": 1, "name": f"{PROD}_datacenter1"},
        vm_ids=tuple(vm["vmId"] for vm in vms),
        vms=tuple(vms),
        vm_licensed=tuple(licensed),
    )


def make_snapshot(bulk: int = 0) -> Snapshot:
    """Two services, three datacenters, one of which could not list its VMs."""
    lab_vms = (
        _vm(3001, "lab-dc", "windows2022srvNext_64Guest", "windows 2025 Datacenter"),
        _vm(3002, "lab-client", "windows11_64Guest", "windows 2022 Standard"),
        _vm(3003, "lab-linux", "ubuntu64Guest", None),
    )
    failure = Failure(
        scope=Scope.VM,
        path=f"/dedicatedCloud/{PROD}/datacenter/2/vm/5002",
        error='HTTP 500: {"message": "<b>Internal</b> =1+1"}',
        service_name=PROD,
        datacenter_id=2,
        vm_id=5002,
    )
    return Snapshot(
        meta=SnapshotMeta(taken_at=TAKEN_AT, endpoint="ovh-eu", tool_version="0.1.0"),
        services=(
            ServiceSnapshot(
                service_name=PROD,
                details={"serviceName": PROD, "description": "Production", "spla": True},
                datacenters=(
                    _prod_dc1(bulk),
                    DatacenterSnapshot(
                        datacenter_id=2,
                        details={"datacenterId": 2, "name": f"{PROD}_datacenter2"},
                        vm_ids=(5001, 5002),
                        vms=(
                            _vm(5001, "db-01", "windows2019srv_64Guest", "windows 2019 Datacenter"),
                        ),
                        vm_licensed=None,
                    ),
                ),
            ),
            ServiceSnapshot(
                service_name=LAB,
                details={"serviceName": LAB, "description": "Lab", "spla": True},
                datacenters=(
                    DatacenterSnapshot(
                        datacenter_id=7,
                        details={"datacenterId": 7, "name": f"{LAB}_datacenter7"},
                        vm_ids=tuple(vm["vmId"] for vm in lab_vms),
                        vms=lab_vms,
                        vm_licensed=None,
                    ),
                ),
            ),
        ),
        coverage=Coverage(
            services_listed=2,
            services_read=2,
            datacenters_listed=3,
            datacenters_read=3,
            vms_listed=22 + bulk,
            vms_fetched=21 + bulk,
            failures=(failure,),
        ),
    )


def make_run(bulk: int = 0) -> ReportInput:
    """The run folder content as `run` would write it (no history yet)."""
    snapshot = make_snapshot(bulk)
    sha256 = hashlib.sha256(encode_snapshot(snapshot)).hexdigest()
    rows = parse_exceptions(REGISTER, "exceptions.csv")
    inventory = inventory_of(snapshot)
    evaluation = evaluate(inventory, rows, date(2025, 11, 1))
    report = run_report(Period.from_label(PERIOD), inventory, sha256, evaluation)
    return ReportInput(inventory=inventory, snapshot_sha256=sha256, report=report)


def with_history(run: ReportInput) -> ReportInput:
    """The same run as the history stage hands it over, through findings.json's form."""
    document = run.report.to_json()
    findings = document["findings"]
    for index, finding in enumerate(findings):
        if index % 2:
            finding["first_seen"] = {"period": "2025-10", "date": "2025-10-01"}
            finding["change"] = "persisting"
        else:
            finding["first_seen"] = {"period": PERIOD, "date": "2025-11-01"}
            finding["change"] = "new"
    document["previous_run"] = {
        "period": "2025-10",
        "taken_at": "2025-10-01T02:00:00Z",
        "snapshot_sha256": "0" * 64,
    }
    gone = {
        "rule_id": "LIC-LEGACY",
        "severity": "low",
        "status": "open",
        "service_name": LAB,
        "datacenter_id": 7,
        "vm_id": 3999,
        "vm_name": "=old()",
        "message": "legacy licence",
        "first_seen": {"period": "2025-08", "date": "2025-08-01"},
        "last_seen": {"period": "2025-10", "date": "2025-10-01"},
    }
    document["resolved"] = [{**gone, "reason": "fixed"}]
    document["unverified"] = [{**gone, "vm_id": 5002, "datacenter_id": 2, "service_name": PROD}]
    document["changes"] = [
        {
            "event": "licence_set",
            "service_name": PROD,
            "datacenter_id": 1,
            "vm_id": 1001,
            "vm_name": "web-01",
            "guest_os_family": "windows2019srv_64Guest",
            "license": "windows 2019 Standard Core",
            "before": None,
            "after": "windows 2019 Standard Core",
        },
        {
            "event": "vm_removed",
            "service_name": LAB,
            "datacenter_id": 7,
            "vm_id": 3999,
            "vm_name": "@rm -rf",
            "guest_os_family": None,
            "license": None,
            "before": None,
            "after": None,
        },
    ]
    shortfall = {
        "service_name": PROD,
        "datacenter_id": 1,
        "vm_id": 1077,
        "vm_name": "<b>tmp-build</b>",
        "guest_os_family": "windows2019srv_64Guest",
        "days_unlicensed": 17,
    }
    document["shortfalls"] = [shortfall]
    document["unsettled_shortfalls"] = [
        {**shortfall, "period": "2025-10", "review_status": "accepted", "owner": "=Jane"},
        {**shortfall, "vm_id": 1078, "period": "2025-09", "review_status": None, "owner": None},
    ]
    first = Finding.from_json(findings[0]).fingerprint
    trend = (
        TrendPoint("2025-09", {"high": 9, "medium": 4, "low": 3, "info": 1}, 17),
        TrendPoint("2025-10", {"high": 6, "medium": 5, "low": 3, "info": 1}, 15),
        TrendPoint(PERIOD, {"high": 3, "medium": 5, "low": 5, "info": 2}, 15),
    )
    history = HistoryView(
        previous=PreviousCounts(
            period="2025-10",
            taken_at="2025-10-01T02:00:00Z",
            open_by_severity={"high": 6, "medium": 5, "low": 0, "info": 1},
            by_severity={"high": 6, "medium": 5, "low": 0, "info": 1},
            by_status={"open": 12, "waived": 0, "byol": 0},
            open=12,
            findings=12,
        ),
        trend=trend,
        reviews={
            first: CarriedReview(
                status="accepted",
                owner="=Jane",
                comment="ticket <CHG-1>",
                period="2025-10",
                imported_at="2025-10-05T09:00:00Z",
                imported_by="auditor",
            ),
        },
    )
    return ReportInput(
        inventory=run.inventory,
        snapshot_sha256=run.snapshot_sha256,
        report=RunReport.from_json(document),
        history=history,
    )


def make_empty_run() -> ReportInput:
    """A complete audit of an account without any service: nothing to report, nothing missing."""
    snapshot = Snapshot(
        meta=SnapshotMeta(taken_at=TAKEN_AT, endpoint="ovh-eu", tool_version="0.1.0"), services=()
    )
    sha256 = hashlib.sha256(encode_snapshot(snapshot)).hexdigest()
    inventory = inventory_of(snapshot)
    evaluation = evaluate(inventory, (), date(2025, 11, 1))
    report = run_report(Period.from_label(PERIOD), inventory, sha256, evaluation)
    return ReportInput(inventory=inventory, snapshot_sha256=sha256, report=report)
