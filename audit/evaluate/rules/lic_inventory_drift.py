"""LIC-INVENTORY-DRIFT: the VM and the datacenter's vmLicensed listing disagree."""

from __future__ import annotations

from collections.abc import Iterator

from audit.evaluate.records import DatacenterRecord, LicensedEntry, VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="LIC-INVENTORY-DRIFT",
    title="Licence inventory drift",
    severity=Severity.MEDIUM,
    rationale=(
        "The API gives two views of the licences: each VM's own licence field and the "
        "datacenter's vmLicensed listing. When they disagree, or vmLicensed names a VM the "
        "datacenter does not list, what OVHcloud bills may not be what the VMs show."
    ),
    remediation=(
        "Open a ticket with OVHcloud support quoting both values; once the right licence is "
        "confirmed, set it again with setLicense."
    ),
)


def _same(left: str | None, right: str | None) -> bool:
    if left is None or right is None:
        return left is right
    return left.strip() == right.strip()


def check(vm: VmRecord) -> str | None:
    """A licensed VM missing from a read listing, or an entry whose licence differs."""
    if not vm.listing_read:
        return None
    if vm.licensed is None:
        if vm.api_license is None:
            return None
        return f"The VM's licence '{vm.api_license}' is missing from the vmLicensed listing."
    listed = vm.licensed.license
    if _same(listed, vm.api_license):
        return None
    if vm.api_license is None:
        return f"vmLicensed lists licence '{listed}' for the VM, but the VM has no licence."
    held = vm.api_license
    return f"vmLicensed lists licence '{listed}' for the VM, but the VM's licence is '{held}'."


def check_datacenter(dc: DatacenterRecord) -> Iterator[tuple[LicensedEntry, str]]:
    """vmLicensed entries naming a VM the datacenter does not list."""
    if dc.licensed is None or dc.listed_vm_ids is None:
        return
    for entry in dc.licensed:
        if entry.vm_id is None or entry.vm_id not in dc.listed_vm_ids:
            yield (
                entry,
                f"vmLicensed lists VM {entry.vm_id} ('{entry.name}') with licence "
                f"'{entry.license}', but the datacenter does not list that VM.",
            )


RULE = Rule(META, check_vm=check, check_datacenter=check_datacenter)
