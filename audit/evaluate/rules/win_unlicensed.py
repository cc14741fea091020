"""WIN-UNLICENSED: a Windows Server guest that ran unbilled this period (a), or that runs
without a licence at the snapshot (b). One that stayed off all period is WIN-UNLICENSED-OFF;
one that ran unlicensed on some days but was billed for the month is WIN-UNLICENSED-INTERIM."""

from __future__ import annotations

from audit.evaluate.knowledge import LicenceKind
from audit.evaluate.records import GoneVm, VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta, billed_values, now_text, unlicensed_days
from audit.model.exposure import VmPeriod
from audit.model.findings import Severity

META = RuleMeta(
    id="WIN-UNLICENSED",
    title="Windows Server guest without a licence",
    severity=Severity.HIGH,
    rationale=(
        "OVHcloud bills a Windows licence for the whole month to every VM that carried it while "
        "powered on during the month, and only the licences it is told about. A Windows Server "
        "guest that ran without one and was billed nothing this period (a shortfall), or that "
        "runs without one now, is unlicensed and the customer is liable for it, unless the "
        "customer's own licence covers it (BYOL)."
    ),
    remediation=(
        "Set the licence matching the guest's Windows version and edition with setLicense if "
        "the VM still runs; declare the unbilled period to OVHcloud (or the licence provider) "
        "and review the finding 'settled' once it is; or record the customer's own licence as "
        "a byol exception."
    ),
)


def _unbilled(period: VmPeriod) -> str:
    return (
        f"unbilled this period as a powered-on Windows Server guest without a licence on "
        f"{unlicensed_days(period)}, billed for no licence value"
    )


def check(vm: VmRecord) -> str | None:
    """(a) the period's shortfall, whatever the VM is now; (b) powered on without a licence."""
    period = vm.period
    running = vm.powered_on and vm.unlicensed_server
    if not running:
        if period is None or not period.shortfall:
            return None
        return f"Ran {_unbilled(period)}; {now_text(vm)}."
    guest = f"{vm.guest.label} guest (guestOsFamily '{vm.guest_os_family}')"
    if vm.licence.kind is LicenceKind.NONE:
        now = f"{guest} has no licence registered and is powered on at the snapshot"
    else:
        now = f"{guest} is registered as '{vm.api_license}' and is powered on at the snapshot"
    if period is not None and period.shortfall:
        return f"{now}; it ran {_unbilled(period)}."
    if period is not None and period.billed:
        return (
            f"{now}; OVHcloud bills the period for {billed_values(period)}, carried on another "
            "powered-on day."
        )
    return f"{now}."


def check_gone(vm: GoneVm) -> str | None:
    """(a) for a VM the snapshot no longer evaluates: deleted, unlisted, or not read."""
    if not vm.period.shortfall:
        return None
    return f"Ran {_unbilled(vm.period)}; {now_text(vm)}."


RULE = Rule(META, check_vm=check, check_gone=check_gone)
