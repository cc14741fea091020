"""WIN-UNLICENSED-INTERIM: a VM that ran Windows Server unlicensed during the period but no
longer does at the snapshot (licensed since, reinstalled, deleted or gone)."""

from __future__ import annotations

from audit.evaluate.knowledge import LicenceKind
from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.exposure import VmPeriod
from audit.model.findings import Severity

META = RuleMeta(
    id="WIN-UNLICENSED-INTERIM",
    title="Windows Server guest ran without a licence during the period",
    severity=Severity.MEDIUM,
    rationale=(
        "Licence programmes count what ran during the month, not what the last day shows. A "
        "guest that ran Windows Server unlicensed for some days, then was licensed, reinstalled "
        "or deleted before the snapshot, still ran unlicensed on those days."
    ),
    remediation=(
        "Check the days with the VM's owner and declare them to the licence provider (SPLA "
        "usage report) or record why they need no licence; nothing to set on the VM now."
    ),
)


def days_text(period: VmPeriod) -> str:
    span = period.first_unlicensed
    if period.last_unlicensed != period.first_unlicensed:
        span = f"{period.first_unlicensed} to {period.last_unlicensed}"
    return f"{period.days_unlicensed} observed day(s) of the period ({span})"


def check(vm: VmRecord) -> str | None:
    """A VM at the snapshot that is no longer an unlicensed server but was one on some day."""
    period = vm.period
    if period is None or period.days_unlicensed == 0 or vm.unlicensed_server:
        return None
    if vm.licence.kind in (LicenceKind.NONE, LicenceKind.UNLICENSED):
        now = f"its guest is now {vm.guest.label} (guestOsFamily '{vm.guest_os_family}')"
    else:
        now = f"it now carries '{vm.api_license}'"
    return (
        f"Ran as a powered-on Windows Server guest without a licence on {days_text(period)}; {now}."
    )


def describe_gone(period: VmPeriod, deleted: bool) -> str:
    """The message for a VM the snapshot no longer evaluates (deleted or not listed)."""
    now = "it is deleted at the snapshot" if deleted else "it is no longer listed at the snapshot"
    return (
        f"Ran as a powered-on Windows Server guest without a licence on {days_text(period)}; {now}."
    )


RULE = Rule(META, check_vm=check)
