"""LIC-VERSION-MISMATCH: the licence's Windows version does not fit the guest's."""

from __future__ import annotations

from audit.evaluate.knowledge import GuestKind
from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="LIC-VERSION-MISMATCH",
    title="Licence version does not fit the guest OS",
    severity=Severity.MEDIUM,
    rationale=(
        "A licence for another Windows Server version does not cover the guest, and "
        "setLicense itself refuses such a pair without bypassGuestOsFamilyCheck. Only the "
        "version can be checked: the guestId never tells the edition, and "
        "windows9Server64Guest fits 2016 and every later version."
    ),
    remediation=(
        "Set the licence of the guest's version, same edition, with setLicense; or, if the "
        "configured guest OS is what is wrong, correct it in vCenter."
    ),
)


def check(vm: VmRecord) -> str | None:
    version = vm.licence.version
    if vm.guest.kind is not GuestKind.WINDOWS_SERVER or version is None:
        return None
    if vm.guest.fits(version) is not False:
        return None
    return (
        f"Licence '{vm.api_license}' is for Windows Server {version} but the guest is configured "
        f"as {vm.guest.label} (guestOsFamily '{vm.guest_os_family}')."
    )


RULE = Rule(META, check_vm=check)
