"""GUEST-OS-UNKNOWN: a guest whose configured OS says nothing about Windows."""

from __future__ import annotations

from audit.evaluate.knowledge import GuestKind
from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="GUEST-OS-UNKNOWN",
    title="Guest OS unknown",
    severity=Severity.LOW,
    rationale=(
        "With no configured guest OS (or otherGuest), the audit cannot tell whether the VM "
        "runs Windows and needs a licence, nor whether its licence fits."
    ),
    remediation="Set the guest OS the VM really runs in its settings in vCenter.",
)


def check(vm: VmRecord) -> str | None:
    if vm.guest.kind is not GuestKind.UNKNOWN:
        return None
    configured = f"guestOsFamily '{vm.guest.guest_id}'" if vm.guest.guest_id else "no guestOsFamily"
    held = f"licence '{vm.api_license}'" if vm.api_license is not None else "no licence"
    return f"The guest OS is unknown ({configured}; {held}), so its licensing cannot be judged."


RULE = Rule(META, check_vm=check)
