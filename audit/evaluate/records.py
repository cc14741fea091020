"""Flat, typed views of the raw API objects that the rules read.

Raw `dedicatedCloud.Vm` dicts may lack fields or carry unexpected types; they are read here,
once, so that every rule sees the same well-typed values and none of them can crash on data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
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
from audit.support.coerce import integer, text

DELETED = "deleted"
POWERED_ON = "poweredOn"
POWERED_OFF = "poweredOff"


def is_powered_on(power_state: str | None) -> bool:
    """DESIGN "Rule changes": any power state but poweredOff counts as on (suspended, null);
    a deleted VM is not running."""
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
    """One VM as the rules see it: its fields, their interpretation and its vmLicensed entry.

    `listing_read` is False when the datacenter's vmLicensed could not be read; then
    `licensed` is None and no drift can be judged. `period` is the VM's facts over the
    period's observed days; None when no observation of the period saw it (the snapshot
    alone then speaks for the period).
    """

    service_name: str
    datacenter_id: int
    vm_id: int | None
    name: str | None
    moref: str | None
    power_state: str | None
    guest_os_family: str | None
    license: str | None
    cpu_num: int
    guest: GuestOs
    licence: Licence
    listing_read: bool
    licensed: LicensedEntry | None
    period: VmPeriod | None = None

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
        period: VmPeriod | None = None,
    ) -> VmRecord:
        """Build from a raw VM dict; `licensed_by_vm` is the vmLicensed listing by vmId."""
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
            license=license_value,
            cpu_num=integer(raw.get("cpuNum")) or 0,
            guest=interpret_guest_os(guest_os_family),
            licence=interpret_licence(license_value),
            listing_read=licensed_by_vm is not None,
            licensed=None if licensed_by_vm is None or vm_id is None else licensed_by_vm.get(vm_id),
            period=period,
        )


@dataclass(frozen=True, slots=True)
class DatacenterRecord:
    """What the datacenter-level checks need: the VM ids the datacenter lists and vmLicensed.

    `listed_vm_ids` is None when the VM listing could not be trusted (a coverage failure), so
    that no VM is reported as missing from it.
    """

    service_name: str
    datacenter_id: int
    listed_vm_ids: frozenset[int] | None
    licensed: tuple[LicensedEntry, ...] | None


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
