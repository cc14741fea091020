"""Where each finding's VM sits in vSphere (folder and cluster), so owners can filter their own.

The rules never read placement; it is copied onto the findings after evaluation, from the
same snapshot, so findings.json, the CSV and both reports can be filtered per folder or cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from audit.model.findings import Finding
from audit.model.snapshot import Snapshot
from audit.support.coerce import integer, text

Placement = tuple[str | None, str | None]  # folder, cluster


def placements(snapshot: Snapshot) -> dict[tuple[str, int, int], Placement]:
    """(service, datacenter, VM id) -> (folderName, clusterName) of every VM read."""
    found: dict[tuple[str, int, int], Placement] = {}
    for service in snapshot.services:
        for dc in service.datacenters:
            for raw in dc.vms:
                vm_id = integer(raw.get("vmId"))
                if vm_id is not None:
                    key = (service.service_name, dc.datacenter_id, vm_id)
                    found[key] = (text(raw.get("folderName")), text(raw.get("clusterName")))
    return found


def with_placement(findings: Iterable[Finding], snapshot: Snapshot) -> tuple[Finding, ...]:
    """The findings with their VM's folder and cluster (None for a VM that was not read)."""
    where = placements(snapshot)
    placed = []
    for finding in findings:
        folder, cluster = None, None
        if finding.datacenter_id is not None and finding.vm_id is not None:
            key = (finding.service_name, finding.datacenter_id, finding.vm_id)
            folder, cluster = where.get(key, (None, None))
        placed.append(replace(finding, folder=folder, cluster=cluster))
    return tuple(placed)
