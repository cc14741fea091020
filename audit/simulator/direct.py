"""A snapshot built straight from a simulated fleet, without HTTP: the benchmark's large
snapshots and the demo's derived daily observations."""

from __future__ import annotations

from audit import __version__
from audit.model.snapshot import (
    Coverage,
    DatacenterSnapshot,
    ServiceSnapshot,
    Snapshot,
    SnapshotMeta,
)
from audit.simulator.fleet import Fleet


def snapshot_of(
    fleet: Fleet, taken_at: str = "2026-11-01T02:00:00Z", endpoint: str = "ovh-eu"
) -> Snapshot:
    """What a complete collection of `fleet` would hold."""
    services = []
    vm_count = dc_count = 0
    for name in sorted(fleet.services):
        service = fleet.services[name]
        datacenters = []
        for dc_id in sorted(service.datacenters):
            dc = service.datacenters[dc_id]
            vms = tuple(dc.vms[vm_id].api_object() for vm_id in sorted(dc.vms))
            vm_count += len(vms)
            dc_count += 1
            datacenters.append(
                DatacenterSnapshot(
                    dc_id,
                    dc.api_object(name),
                    tuple(sorted(dc.vms)),
                    vms,
                    tuple(dc.licensed_summaries()),
                )
            )
        services.append(ServiceSnapshot(name, service.api_object(), tuple(datacenters)))
    coverage = Coverage(
        services_listed=len(services),
        services_read=len(services),
        datacenters_listed=dc_count,
        datacenters_read=dc_count,
        vms_listed=vm_count,
        vms_fetched=vm_count,
    )
    meta = SnapshotMeta(taken_at=taken_at, endpoint=endpoint, tool_version=__version__)
    return Snapshot(meta=meta, services=tuple(services), coverage=coverage)
