"""The typed inventory: a snapshot's VMs and vmLicensed entries, each parsed once.

The snapshot file keeps the API's objects as they came (audit/model/snapshot.py); everything
after it reads this instead: the engine and its rules, the headline figures, the licence
position, the period's exposure, the history's VM states and every report. No raw VM dict
crosses a stage boundary after `inventory_of`.

It also carries what the collection could not read (`unread`), so a VM hidden by a coverage
failure is never taken for a VM that is gone, and the snapshot's time, parsed once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from audit.evaluate.records import DatacenterRecord, LicensedEntry, VmRecord
from audit.model.identity import VmKey
from audit.model.snapshot import Coverage, DatacenterSnapshot, Snapshot, SnapshotMeta, Unread
from audit.support.coerce import text


@dataclass(frozen=True)
class Inventory:
    """Every datacenter of a snapshot with its VMs, in the snapshot's order (services,
    datacenters and VMs sorted by id), the snapshot's metadata and coverage."""

    meta: SnapshotMeta
    coverage: Coverage
    services: tuple[str, ...]
    datacenters: tuple[DatacenterRecord, ...]
    unread: Unread

    @property
    def taken_at(self) -> datetime:
        """When the snapshot was taken, an aware UTC datetime."""
        return self.meta.taken

    @property
    def day(self) -> date:
        """The snapshot's UTC day."""
        return self.meta.day

    def vms(self) -> Iterator[VmRecord]:
        """Every VM read, deleted ones included, in the snapshot's order."""
        for dc in self.datacenters:
            yield from dc.vms

    @cached_property
    def by_key(self) -> Mapping[VmKey, VmRecord]:
        """The VMs with a `vmId`, by key (the first one when an id repeats)."""
        found: dict[VmKey, VmRecord] = {}
        for vm in self.vms():
            key = vm.key
            if key is not None:
                found.setdefault(key, vm)
        return found


def inventory_of(snapshot: Snapshot) -> Inventory:
    """Read every VM and vmLicensed entry of `snapshot` once."""
    unread = Unread.from_coverage(snapshot.coverage)
    datacenters = tuple(
        _datacenter(service.service_name, dc, unread)
        for service in snapshot.services
        for dc in service.datacenters
    )
    return Inventory(
        meta=snapshot.meta,
        coverage=snapshot.coverage,
        services=tuple(service.service_name for service in snapshot.services),
        datacenters=datacenters,
        unread=unread,
    )


def _datacenter(service_name: str, dc: DatacenterSnapshot, unread: Unread) -> DatacenterRecord:
    dc_id = dc.datacenter_id
    entries = (
        None
        if dc.vm_licensed is None
        else tuple(LicensedEntry.from_api(raw) for raw in dc.vm_licensed)
    )
    by_vm: dict[int, LicensedEntry] | None = None
    if entries is not None:
        by_vm = {}
        for entry in entries:
            if entry.vm_id is not None:
                by_vm.setdefault(entry.vm_id, entry)
    details = dc.details
    return DatacenterRecord(
        service_name=service_name,
        datacenter_id=dc_id,
        name=text(details.get("name")) if isinstance(details, dict) else None,
        vm_ids=dc.vm_ids,
        vms=tuple(VmRecord.from_api(raw, service_name, dc_id, by_vm) for raw in dc.vms),
        licensed=entries,
        listing_trusted=unread.listing_trusted(service_name, dc_id),
    )
