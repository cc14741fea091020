"""LIC-NON-WINDOWS: a Windows licence billed for a guest that is not Windows."""

from __future__ import annotations

from audit.evaluate.knowledge import GuestKind
from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="LIC-NON-WINDOWS",
    title="Windows licence on a non-Windows guest",
    severity=Severity.MEDIUM,
    rationale=(
        "A Windows licence registered on a Linux, BSD or other non-Windows guest is billed "
        "every month and covers nothing."
    ),
    remediation=(
        "Check that the guest really is not Windows (if it is, correct its configured guest "
        "OS in vCenter), then remove the licence with removeLicense."
    ),
)


def check(vm: VmRecord) -> str | None:
    if vm.guest.kind is not GuestKind.NON_WINDOWS or not vm.licence.is_windows_edition:
        return None
    return (
        f"Windows licence '{vm.api_license}' is registered on a non-Windows guest "
        f"(guestOsFamily '{vm.guest_os_family}')."
    )


RULE = Rule(META, check_vm=check)
