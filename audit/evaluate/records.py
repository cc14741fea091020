"""Flat, typed records of the raw API objects: a VM, a vmLicensed entry, a datacenter.

Raw `dedicatedCloud.Vm` dicts may lack fields or carry unexpected types; they are read here,
once (audit/evaluate/inventory.py builds every record of a snapshot), so that every rule,
figure and report sees the same well-typed values and none of them can crash on data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

from audit.evaluate.knowledge import (
    GuestKind,
    GuestOs,
    Licence,
    LicenceKind,
    interpret_guest_os,
    interpret_licence,
)
from audit.model.exposure import VmPeriod
from audit.model.identity import VmKey
from audit.support.coerce import integer, text

DELETED = "deleted"
POWERED_ON = "poweredOn"
POWERED_OFF = "poweredOff"


def is_powered_on(power_state: str | None) -> bool:
    """Any power state but poweredOff counts as on (suspended, null); a deleted VM is not
    running (docs/DESIGN.md, "Rule changes")."""
    return power_state not in (POWERED_OFF, DELETED)


def is_unlicensed_server(guest: GuestOs, licence: Licence) -> bool:
    """A Windows server guest without a licence: null or `unlicensed windows guestos`."""
    return guest.kind is GuestKind.WINDOWS_SERVER and licence.kind in (
        LicenceKind.NONE,
        LicenceKind.UNLICENSED,
    )


@dataclass(frozen=True, slots=True)
class LicensedEntry:
    """One `virtualMachineLicensingSummary` from vmLicensed (guest OS as Tools report it)."""

    vm_id: int | None
    name: str | None
    moref: str | None
    guest_os_family: str | None
    license: str | None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> LicensedEntry:
        return cls(
            vm_id=integer(raw.get("vmId")),
            name=text(raw.get("name")),
            moref=text(raw.get("moRef")),
            guest_os_family=text(raw.get("guestOsFamily")),
            license=text(raw.get("license")),
        )


@dataclass(frozen=True, slots=True)
class VmRecord:
    """One VM of the snapshot, read once: its fields, where it sits, their interpretation and
    its vmLicensed entry. The rules, the figures, the history and the reports all read it.

    `guest_os_family` and `api_license` are the API's `guestOsFamily` and `license` values as
    given; `guest` and `licence` say what they mean (audit/evaluate/knowledge.py).
    `listing_read` is False when the datacenter's vmLicensed could not be read; then
    `licensed` is None and no drift can be judged. `vcpus` is `cpuNum` as the API gave it (None
    when absent or not a number). `period` is the VM's facts over the period's observed days,
    set by the engine; None when no observation of the period saw it (the snapshot alone then
    speaks for the period).
    """

    service_name: str
    datacenter_id: int
    vm_id: int | None
    name: str | None
    moref: str | None
    power_state: str | None
    guest_os_family: str | None
    api_license: str | None
    vcpus: int | None
    memory_mb: int | None
    folder: str | None
    cluster: str | None
    host: str | None
    guest: GuestOs
    licence: Licence
    listing_read: bool
    licensed: LicensedEntry | None
    period: VmPeriod | None = None

    @property
    def key(self) -> VmKey | None:
        """Where the VM is; None for a VM object without a usable `vmId`."""
        return (
            None if self.vm_id is None else VmKey(self.service_name, self.datacenter_id, self.vm_id)
        )

    @property
    def deleted(self) -> bool:
        """Inventoried, not evaluated: VMware keeps deleted VMs listed for a while."""
        return self.power_state == DELETED

    @property
    def vcpu_count(self) -> int:
        """vCPUs as the licence tallies add them up (0 when the API did not say)."""
        return self.vcpus or 0

    @property
    def powered_on(self) -> bool:
        return is_powered_on(self.power_state)

    @property
    def unlicensed_server(self) -> bool:
        return is_unlicensed_server(self.guest, self.licence)

    @property
    def on_in_period(self) -> bool:
        """Powered on at the snapshot or on an observed day of the period."""
        return self.powered_on or (self.period is not None and self.period.days_powered_on > 0)

    @classmethod
    def from_api(
        cls,
        raw: Mapping[str, Any],
        service_name: str,
        datacenter_id: int,
        licensed_by_vm: Mapping[int, LicensedEntry] | None,
    ) -> VmRecord:
        """Build from a raw `dedicatedCloud.Vm`; `licensed_by_vm` is the datacenter's
        vmLicensed listing by vmId (None when it could not be read)."""
        vm_id = integer(raw.get("vmId"))
        guest_os_family = text(raw.get("guestOsFamily"))
        license_value = text(raw.get("license"))
        return cls(
            service_name=service_name,
            datacenter_id=datacenter_id,
            vm_id=vm_id,
            name=text(raw.get("name")),
            moref=text(raw.get("moRef")),
            power_state=text(raw.get("powerState")),
            guest_os_family=guest_os_family,
            api_license=license_value,
            vcpus=integer(raw.get("cpuNum")),
            memory_mb=integer(raw.get("memoryMax")),
            folder=text(raw.get("folderName")),
            cluster=text(raw.get("clusterName")),
            host=text(raw.get("hostName")),
            guest=interpret_guest_os(guest_os_family),
            licence=interpret_licence(license_value),
            listing_read=licensed_by_vm is not None,
            licensed=None if licensed_by_vm is None or vm_id is None else licensed_by_vm.get(vm_id),
        )


@dataclass(frozen=True)
class DatacenterRecord:
    """One datacenter of the snapshot, read once: the VM ids it lists, the VMs read (in the
    snapshot's order) and its vmLicensed listing (None when it could not be read).

    `listing_trusted` is False when a coverage failure hit the datacenter's VM list: then no
    VM is reported as missing from it (`listed_vm_ids` is None).
    """

    service_name: str
    datacenter_id: int
    name: str | None
    vm_ids: tuple[int, ...]
    vms: tuple[VmRecord, ...]
    licensed: tuple[LicensedEntry, ...] | None
    listing_trusted: bool = True

    @cached_property
    def known_vm_ids(self) -> frozenset[int]:
        """The ids the datacenter lists, and those of the VMs read (a VM read is there)."""
        return frozenset(self.vm_ids).union(vm.vm_id for vm in self.vms if vm.vm_id is not None)

    @property
    def listed_vm_ids(self) -> frozenset[int] | None:
        """`known_vm_ids` when the listing can be trusted, else None."""
        return self.known_vm_ids if self.listing_trusted else None


class Gone(StrEnum):
    """Why a VM the period's observations saw is not evaluated at the snapshot."""

    DELETED = "deleted"  # in state `deleted`
    UNLISTED = "unlisted"  # its datacenter no longer lists it (or is gone)
    UNREAD = "unread"  # listed, or in a scope, the collector could not read


@dataclass(frozen=True, slots=True)
class GoneVm:
    """A VM the period's observations saw that the snapshot does not evaluate: its facts over
    the period and why it is gone. Only the period rules look at it."""

    period: VmPeriod
    gone: Gone
