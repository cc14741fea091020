"""Where each finding's VM sits in vSphere (folder and cluster), so owners can filter their own.

The rules never read placement; it is copied onto the findings after evaluation, from the
same inventory, so findings.json, the CSV and both reports can be filtered per folder or
cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from audit.evaluate.inventory import Inventory
from audit.model.findings import Finding


def with_placement(findings: Iterable[Finding], inventory: Inventory) -> tuple[Finding, ...]:
    """The findings with their VM's folder and cluster (None for a VM that was not read)."""
    vms = inventory.by_key
    placed = []
    for finding in findings:
        key = finding.vm_key
        vm = None if key is None else vms.get(key)
        folder, cluster = (None, None) if vm is None else (vm.folder, vm.cluster)
        placed.append(replace(finding, folder=folder, cluster=cluster))
    return tuple(placed)
