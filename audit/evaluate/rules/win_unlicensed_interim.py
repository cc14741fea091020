"""WIN-UNLICENSED-INTERIM: a VM that ran Windows Server unlicensed on some days of the period
but that OVHcloud bills for the month anyway (it carried a licence on another powered-on day),
and that does not run unlicensed at the snapshot."""

from __future__ import annotations

from audit.evaluate.records import Gone, GoneVm, VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta, billed_values, now_text, unlicensed_days
from audit.model.exposure import VmPeriod
from audit.model.findings import Severity

META = RuleMeta(
    id="WIN-UNLICENSED-INTERIM",
    title="Windows Server guest ran without a licence on some days, billed for the month",
    severity=Severity.LOW,
    rationale=(
        "OVHcloud bills a licence for the whole month to a VM that carried it on any day it "
        "was powered on, so the days this guest ran unlicensed are covered by the licence it "
        "carried on another powered-on day. The invoice should show it."
    ),
    remediation=(
        "Confirm on the month's invoice that the licence was billed for the VM; nothing to set "
        "on the VM now."
    ),
)


def _message(period: VmPeriod, now: str) -> str:
    return (
        f"Ran as a powered-on Windows Server guest without a licence on "
        f"{unlicensed_days(period)}; OVHcloud bills the month for {billed_values(period)}, "
        f"carried on another powered-on day (confirm on the invoice); {now}."
    )


def check(vm: VmRecord) -> str | None:
    """Ran unlicensed, billed for the month, and not running unlicensed at the snapshot."""
    period = vm.period
    if period is None or period.days_unlicensed == 0 or period.shortfall:
        return None
    if vm.powered_on and vm.unlicensed_server:
        return None  # WIN-UNLICENSED (b)
    return _message(period, now_text(vm))


def check_gone(vm: GoneVm) -> str | None:
    """The same for a VM gone at the snapshot; one the snapshot could not read is not known
    not to run unlicensed, so nothing is said of it."""
    period = vm.period
    if period.days_unlicensed == 0 or period.shortfall or vm.gone is Gone.UNREAD:
        return None
    return _message(period, now_text(vm))


RULE = Rule(META, check_vm=check, check_gone=check_gone)
