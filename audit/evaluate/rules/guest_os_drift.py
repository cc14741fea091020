"""GUEST-OS-DRIFT: VMware Tools report another OS than the one the VM is configured with."""

from __future__ import annotations

from audit.evaluate.knowledge import interpret_guest_os
from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="GUEST-OS-DRIFT",
    title="Configured guest OS differs from the one VMware Tools report",
    severity=Severity.MEDIUM,
    rationale=(
        "Licences are checked against the configured guest OS, while vmLicensed shows what "
        "VMware Tools report running. When they differ, the licence may fit the "
        "configuration but not the OS actually installed."
    ),
    remediation=(
        "Correct the configured guest OS in vCenter to the OS actually installed, then check "
        "that the licence fits it."
    ),
)


def check(vm: VmRecord) -> str | None:
    if vm.licensed is None:
        return None
    reported = interpret_guest_os(vm.licensed.guest_os_family)
    if reported.guest_id is None or vm.guest.guest_id is None:
        return None
    if reported.guest_id.lower() == vm.guest.guest_id.lower():
        return None
    return (
        f"VMware Tools report guest OS '{reported.guest_id}' ({reported.label}) but the VM "
        f"is configured as '{vm.guest.guest_id}' ({vm.guest.label})."
    )


RULE = Rule(META, check_vm=check)
