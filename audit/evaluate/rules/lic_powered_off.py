"""LIC-POWERED-OFF: a billable licence on a VM powered off at the snapshot and on every
observed day of the period."""

from __future__ import annotations

from audit.evaluate.records import POWERED_OFF, VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="LIC-POWERED-OFF",
    title="Licence on a powered-off VM",
    severity=Severity.INFO,
    rationale=(
        "A Windows edition (current or legacy) registered on a powered-off VM may be billed "
        "for a machine nobody uses. Special values (OVHcloud managed, unlicensed, "
        "unsupported) are not licences the customer pays for and are left out."
    ),
    remediation=(
        "If the VM is retired, remove its licence with removeLicense or delete the VM; if "
        "it is only stopped for a while, nothing to do."
    ),
)


def check(vm: VmRecord) -> str | None:
    if vm.power_state != POWERED_OFF or not vm.licence.is_windows_edition or vm.on_in_period:
        return None
    days = "" if vm.period is None else f" (and on all {vm.period.days_observed} observed day(s))"
    return f"Licence '{vm.api_license}' is registered on a powered-off VM{days}."


RULE = Rule(META, check_vm=check)
