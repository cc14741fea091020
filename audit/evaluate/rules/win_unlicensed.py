"""WIN-UNLICENSED: a Windows Server guest that OVHcloud is not billing a licence for, and that
ran during the period (powered on at the snapshot or on an observed day); one that stayed off is
WIN-UNLICENSED-OFF."""

from __future__ import annotations

from audit.evaluate.knowledge import GuestKind, LicenceKind
from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="WIN-UNLICENSED",
    title="Windows Server guest without a licence",
    severity=Severity.HIGH,
    rationale=(
        "OVHcloud bills only the SPLA licences it is told about. A Windows Server guest "
        "without one runs unlicensed and the customer is liable for it, unless the "
        "customer's own licence covers it (BYOL)."
    ),
    remediation=(
        "Set the licence matching the guest's Windows version and edition with setLicense, "
        "or record the customer's own licence as a byol exception."
    ),
)


def check(vm: VmRecord) -> str | None:
    if vm.guest.kind is not GuestKind.WINDOWS_SERVER or not vm.on_in_period:
        return None
    guest = f"{vm.guest.label} guest (guestOsFamily '{vm.guest_os_family}')"
    if vm.licence.kind is LicenceKind.NONE:
        return f"{guest} has no licence registered{_days(vm)}."
    if vm.licence.kind is LicenceKind.UNLICENSED:
        return f"{guest} is registered as '{vm.api_license}'{_days(vm)}."
    return None


def _days(vm: VmRecord) -> str:
    """The period's days when observations counted any (none: the snapshot alone)."""
    period = vm.period
    if period is None or period.days_unlicensed == 0:
        return ""
    return f"; it ran so on {period.days_unlicensed} observed day(s) of the period"


RULE = Rule(META, check_vm=check)
