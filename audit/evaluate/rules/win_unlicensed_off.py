"""WIN-UNLICENSED-OFF: a Windows Server guest without a licence that did not run all period."""

from __future__ import annotations

from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="WIN-UNLICENSED-OFF",
    title="Windows Server guest without a licence, powered off all period",
    severity=Severity.INFO,
    rationale=(
        "A powered-off guest runs nothing, so nothing is owed for the period; but the day it is "
        "started it runs Windows unlicensed. Setting a licence now would bill a machine nobody "
        "uses (and be flagged LIC-POWERED-OFF next month)."
    ),
    remediation=(
        "Set the licence matching the guest's Windows version and edition before the VM is "
        "started, or delete the VM if it is retired."
    ),
)


def check(vm: VmRecord) -> str | None:
    if not vm.unlicensed_server or vm.on_in_period:
        return None
    days = "" if vm.period is None else f" and on all {vm.period.days_observed} observed day(s)"
    return (
        f"{vm.guest.label} guest (guestOsFamily '{vm.guest_os_family}') without a licence, "
        f"powered off at the snapshot{days} of the period: it needs one before it is started."
    )


RULE = Rule(META, check_vm=check)
