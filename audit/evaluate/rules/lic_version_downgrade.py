"""LIC-VERSION-DOWNGRADE: the licence is for a newer Windows version than the guest's."""

from __future__ import annotations

from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta, licence_against_guest
from audit.model.findings import Severity

META = RuleMeta(
    id="LIC-VERSION-DOWNGRADE",
    title="Licence for a newer Windows version than the guest OS",
    severity=Severity.INFO,
    rationale=(
        "A licence for a newer Windows Server version than the guest's is usually covered by "
        "SPLA down-version rights, so the guest is likely licensed; but those rights depend on "
        "the reseller's agreement, and the configured guest OS may simply be out of date."
    ),
    remediation=(
        "Confirm with the reseller that down-version rights apply to the VM; if the guest was "
        "upgraded, correct its configured guest OS in vCenter."
    ),
)


def check(vm: VmRecord) -> str | None:
    if licence_against_guest(vm) != 1:
        return None
    return (
        f"Licence '{vm.api_license}' is for Windows Server {vm.licence.version}, newer than the "
        f"guest, configured as {vm.guest.label} (guestOsFamily '{vm.guest_os_family}'): "
        "covered where down-version rights apply."
    )


RULE = Rule(META, check_vm=check)
