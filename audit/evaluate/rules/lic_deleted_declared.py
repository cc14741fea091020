"""LIC-DELETED-DECLARED: a deleted VM that still carries a billable licence, or that the
datacenter's vmLicensed still lists with one. The only rule that looks at deleted VMs.

A vmLicensed entry counts when its licence is billable (a current or legacy edition): an entry
saying 'unlicensed windows guestos' or 'OVHcloud managed' declares nothing the customer pays."""

from __future__ import annotations

from audit.evaluate.knowledge import interpret_licence
from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="LIC-DELETED-DECLARED",
    title="Deleted VM still declared",
    severity=Severity.MEDIUM,
    rationale=(
        "A VM in state deleted runs nothing, yet its licence declaration may still be on "
        "OVHcloud's books: a billable licence on it, or its entry in the datacenter's "
        "vmLicensed listing, may keep being billed for a machine that no longer exists."
    ),
    remediation=(
        "Check the invoice for the VM's licence and ask OVHcloud support to remove the "
        "declaration of the deleted VM."
    ),
)


def check_deleted(vm: VmRecord) -> str | None:
    """A deleted VM with a current or legacy edition, or listed by vmLicensed with one."""
    carries = vm.licence.is_windows_edition
    entry = vm.licensed
    listed = entry is not None and interpret_licence(entry.license).is_windows_edition
    if not carries and not listed:
        return None
    parts = []
    if carries:
        parts.append(f"still carries '{vm.api_license}'")
    if entry is not None and listed:
        parts.append(f"vmLicensed still lists it with '{entry.license}'")
    return f"The VM is deleted but {' and '.join(parts)}: OVHcloud may still bill it."


RULE = Rule(META, check_deleted=check_deleted)
