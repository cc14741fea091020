"""WIN-CLIENT-OS: a Windows desktop OS, which no SPLA server licence can cover."""

from __future__ import annotations

from audit.evaluate.knowledge import GuestKind
from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="WIN-CLIENT-OS",
    title="Windows desktop OS guest",
    severity=Severity.MEDIUM,
    rationale=(
        "Windows desktop editions (7, 10, 11, ...) cannot be licensed through SPLA server "
        "licences; running one on Hosted Private Cloud needs the customer's own licence "
        "(BYOL) with evidence, whatever licence value the VM carries."
    ),
    remediation=(
        "Record the customer's licence evidence as a byol exception, or move the workload "
        "to a Windows Server guest with a SPLA licence."
    ),
)


def check(vm: VmRecord) -> str | None:
    if vm.guest.kind is not GuestKind.WINDOWS_CLIENT:
        return None
    held = f"licence '{vm.api_license}'" if vm.api_license is not None else "no licence"
    return (
        f"{vm.guest.label} desktop guest (guestOsFamily '{vm.guest_os_family}') with {held}: "
        "no SPLA server licence covers it, so a customer licence (BYOL) is needed."
    )


RULE = Rule(META, check_vm=check)
