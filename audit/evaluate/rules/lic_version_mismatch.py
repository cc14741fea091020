"""LIC-VERSION-MISMATCH: the licence is for an older Windows version than the guest's."""

from __future__ import annotations

from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta, licence_against_guest
from audit.model.findings import Severity

META = RuleMeta(
    id="LIC-VERSION-MISMATCH",
    title="Licence for an older Windows version than the guest OS",
    severity=Severity.MEDIUM,
    rationale=(
        "A licence for an older Windows Server version does not cover a newer guest, and "
        "setLicense itself refuses such a pair without bypassGuestOsFamilyCheck. Only the "
        "version can be checked: the guestId never tells the edition, and "
        "windows9Server64Guest fits 2016 and every later version. A newer licence on an older "
        "guest is LIC-VERSION-DOWNGRADE."
    ),
    remediation=(
        "Set the licence of the guest's version, same edition, with setLicense; or, if the "
        "configured guest OS is what is wrong, correct it in vCenter."
    ),
)


def check(vm: VmRecord) -> str | None:
    if licence_against_guest(vm) != -1:
        return None
    return (
        f"Licence '{vm.api_license}' is for Windows Server {vm.licence.version}, older than the "
        f"guest, configured as {vm.guest.label} (guestOsFamily '{vm.guest_os_family}')."
    )


RULE = Rule(META, check_vm=check)
