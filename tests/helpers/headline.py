"""A fleet where every headline figure differs from the naive count (four ways to get it wrong),
evaluated by the real engine with a register: shared by the headline and price tests."""

from __future__ import annotations

import datetime

from audit.evaluate.engine import evaluate
from audit.evaluate.exceptions import parse_exceptions
from audit.evaluate.inventory import inventory_of
from audit.model.findings import Finding
from audit.model.snapshot import DatacenterSnapshot, ServiceSnapshot, Snapshot, SnapshotMeta
from tests.helpers.vms import api_vm, listed

S = "pcc-192-0-2-1"
SERVER, DESKTOP, LINUX = "windows2019srv_64Guest", "windows9_64Guest", "rhel9_64Guest"
W19, W22 = "windows 2019 Standard", "windows 2022 Standard"
REGISTER = f"""service_name,datacenter_id,vm_id,rule_id,kind,reason,approved_by,expires,reference
{S},1,2,WIN-UNLICENSED,waiver,Decommission,CISO,2026-12-31,CHG-2
{S},1,7,WIN-CLIENT-OS,byol,VDA licences,Licence desk,,VDA-7
{S},1,9,*,waiver,Migration,CISO,2026-12-31,CHG-9
"""


VMS = [
    api_vm(1, SERVER, None),  # WIN-UNLICENSED, open
    api_vm(2, SERVER, None),  # WIN-UNLICENSED, waived
    api_vm(3, DESKTOP, None),  # WIN-CLIENT-OS: not a "server guest without a licence"
    api_vm(4, SERVER, W19),  # fits
    api_vm(5, "windows2019srvNext_64Guest", W19),  # LIC-VERSION-MISMATCH: does not fit
    api_vm(6, DESKTOP, W22),  # desktop with a server licence: does not fit
    api_vm(7, DESKTOP, W19),  # byol row, and billed: LIC-BYOL-BILLED (VM 4085 in the demo)
    api_vm(8, LINUX, W22, power="poweredOff"),  # LIC-NON-WINDOWS and LIC-POWERED-OFF: one licence
    api_vm(9, LINUX, W22),  # LIC-NON-WINDOWS, waived
    api_vm(10, SERVER, "OVHcloud managed"),  # fits
    api_vm(12, SERVER, W19, power="deleted"),  # not evaluated, not a guest
]


def evaluated() -> tuple[Snapshot, tuple[Finding, ...]]:
    listing = tuple(listed(VMS))
    dc = DatacenterSnapshot(
        1, {"datacenterId": 1}, tuple(v["vmId"] for v in VMS), tuple(VMS), listing
    )
    snapshot = Snapshot(
        meta=SnapshotMeta(taken_at="2026-11-30T06:00:00Z", endpoint="test", tool_version="test"),
        services=(ServiceSnapshot(S, {"serviceName": S}, (dc,)),),
    )
    rows = parse_exceptions(REGISTER.encode(), "exceptions.csv")
    return snapshot, evaluate(inventory_of(snapshot), rows, datetime.date(2026, 11, 30)).findings
