"""The licence tallies and position: what OVHcloud bills, counted once from the inventory,
beside what the Control Panel shows (docs/DESIGN.md, "Licence position"; findings.json
`summary.licence_usage`, `licences` and `control_panel`), and their totals.

Pure functions over the inventory. Peak and licence-days come from the period's daily
observations (`exposure`, audit/exposure/frame.py): without it they equal the snapshot's counts
(one observed day).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from audit.evaluate.inventory import Inventory
from audit.evaluate.knowledge import interpret_licence
from audit.evaluate.records import POWERED_ON, DatacenterRecord
from audit.model.exposure import Exposure, LicenceExposure
from audit.model.position import (
    NO_LICENCE,
    ControlPanelRow,
    LicenceRow,
    LicenceTotal,
    LicenceUsage,
    UsageTotal,
    UsageTotals,
)


def licence_usage(inventory: Inventory) -> tuple[LicenceUsage, ...]:
    """The one tally of VMs per licence value: per service, datacenter and value (None: no
    licence), the VMs not deleted and their vCPUs, all and powered on (`poweredOn`). Ordered
    by service, datacenter, no licence first, then values alphabetically (findings.json
    `summary.licence_usage`; the licence position's counts at close come from it)."""
    counts: dict[tuple[str, int, str | None], list[int]] = {}
    for vm in inventory.vms():
        if vm.deleted:
            continue
        tally = counts.setdefault((vm.service_name, vm.datacenter_id, vm.api_license), [0] * 4)
        tally[0] += 1
        tally[1] += vm.vcpu_count
        if vm.power_state == POWERED_ON:
            tally[2] += 1
            tally[3] += vm.vcpu_count
    return tuple(
        LicenceUsage(service, dc_id, license, *tally)
        for (service, dc_id, license), tally in sorted(counts.items(), key=_usage_order)
    )


def _usage_order(item: tuple[tuple[str, int, str | None], object]) -> tuple[str, int, bool, str]:
    (service, dc_id, license), _ = item
    return (service, dc_id, license is not None, license or "")


def licences(
    usage: Sequence[LicenceUsage], inventory: Inventory, exposure: Exposure | None = None
) -> tuple[LicenceRow, ...]:
    """The licence position: one row per service, datacenter and licence value, ordered by
    service, datacenter, billable first, then value. VMs and vCPUs at close are the tally's
    (`licence_usage`), vmLicensed's count beside them.

    With the period's `exposure`, `peak_vms`, `licence_days`, `billed_vms` and `billed_vcpus`
    are its figures (observed days inside the period), and a value carried during the period
    but no longer at the snapshot has a row too (0 VMs at close), even in a datacenter gone
    from the snapshot when the value was billed there. Without it, the snapshot stands for the
    period: billed are the VMs powered on at the snapshot."""
    figures = None if exposure is None else exposure.licence_figures()
    tallies: dict[tuple[str, int], dict[str, LicenceUsage]] = {}
    for counted in usage:
        if counted.license is not None:
            where = (counted.service_name, counted.datacenter_id)
            tallies.setdefault(where, {})[counted.license] = counted
    rows: list[LicenceRow] = []
    for dc in inventory.datacenters:
        service_name = dc.service_name
        here = (service_name, dc.datacenter_id)
        carried = tallies.get(here, {})
        running, running_vcpus = _running(dc)
        listed: Counter[str] | None = None
        if dc.licensed is not None:
            listed = Counter(entry.license for entry in dc.licensed if entry.license)
        values = set(carried) | set(listed or ())
        if figures is not None:
            values |= {value for (*where, value) in figures if tuple(where) == here}
        for value in sorted(values, key=_licence_order):
            tally = carried.get(value)
            vms, vcpus = (0, 0) if tally is None else (tally.vms, tally.vcpus)
            period = None if figures is None else figures.get((*here, value))
            rows.append(
                LicenceRow(
                    service_name=service_name,
                    datacenter_id=dc.datacenter_id,
                    license=value,
                    billable=interpret_licence(value).is_windows_edition,
                    vms_at_close=vms,
                    vcpus_at_close=vcpus,
                    peak_vms=vms if figures is None else _peak(period),
                    licence_days=vms if figures is None else _days(period),
                    vmlicensed_at_close=None if listed is None else listed[value],
                    billed_vms=running[value] if figures is None else _billed(period)[0],
                    billed_vcpus=running_vcpus[value] if figures is None else _billed(period)[1],
                )
            )
    return tuple(rows) + _billed_elsewhere(inventory, figures)


def _running(dc: DatacenterRecord) -> tuple[Counter[str], Counter[str]]:
    """Per Windows edition, the datacenter's VMs powered on at the snapshot (any state but
    poweredOff and deleted) and their vCPUs: what is billed when the snapshot stands for the
    period."""
    running: Counter[str] = Counter()
    running_vcpus: Counter[str] = Counter()
    for vm in dc.vms:
        if vm.api_license is not None and vm.powered_on and vm.licence.is_windows_edition:
            running[vm.api_license] += 1
            running_vcpus[vm.api_license] += vm.vcpu_count
    return running, running_vcpus


def _billed_elsewhere(
    inventory: Inventory, figures: dict[tuple[str, int, str], LicenceExposure] | None
) -> tuple[LicenceRow, ...]:
    """Rows for values billed in a datacenter the snapshot no longer has (nothing at close)."""
    here = {(dc.service_name, dc.datacenter_id) for dc in inventory.datacenters}
    gone = sorted(
        (
            period
            for (service_name, dc_id, _), period in (figures or {}).items()
            if (service_name, dc_id) not in here and period.billed_vms
        ),
        key=lambda row: (row.service_name, row.datacenter_id, _licence_order(row.license)),
    )
    return tuple(
        LicenceRow(
            service_name=period.service_name,
            datacenter_id=period.datacenter_id,
            license=period.license,
            billable=True,
            vms_at_close=0,
            vcpus_at_close=0,
            peak_vms=period.peak_vms,
            licence_days=period.licence_days,
            vmlicensed_at_close=None,
            billed_vms=period.billed_vms,
            billed_vcpus=period.billed_vcpus,
        )
        for period in gone
    )


def _peak(figures: LicenceExposure | None) -> int:
    return 0 if figures is None else figures.peak_vms


def _days(figures: LicenceExposure | None) -> int:
    return 0 if figures is None else figures.licence_days


def _billed(figures: LicenceExposure | None) -> tuple[int, int]:
    return (0, 0) if figures is None else (figures.billed_vms, figures.billed_vcpus)


def _licence_order(value: str) -> tuple[bool, str]:
    return (not interpret_licence(value).is_windows_edition, value)


_K = TypeVar("_K")
_R = TypeVar("_R")


def _sums(
    rows: Iterable[_R], keys: Callable[[_R], Iterable[_K]], counts: Callable[[_R], Sequence[int]]
) -> dict[_K, list[int]]:
    """The counts of `rows` summed under each of their keys: the one way totals are made."""
    sums: dict[_K, list[int]] = {}
    for row in rows:
        values = counts(row)
        for key in keys(row):
            total = sums.setdefault(key, [0] * len(values))
            for index, value in enumerate(values):
                total[index] += value
    return sums


def licence_totals(rows: Sequence[LicenceRow]) -> tuple[LicenceTotal, ...]:
    """Billable rows summed per service, then per licence value over every service, then
    overall (always present, zeros when nothing is billable); billed figures a findings.json
    written before them lacks count as 0."""
    sums = _sums(
        (row for row in rows if row.billable),
        lambda row: ((row.service_name, None), (None, row.license), (None, None)),
        lambda row: (
            row.vms_at_close,
            row.vcpus_at_close,
            row.licence_days,
            row.vmlicensed_at_close or 0,
            row.billed_vms or 0,
            row.billed_vcpus or 0,
        ),
    )
    sums.setdefault((None, None), [0] * 6)

    def order(key: tuple[str | None, str | None]) -> tuple[int, str]:
        service, value = key
        return (0, service) if service is not None else (1 if value else 2, value or "")

    return tuple(LicenceTotal(key[0], key[1], *sums[key]) for key in sorted(sums, key=order))


def usage_totals(usage: Sequence[LicenceUsage]) -> UsageTotals:
    """The tally summed per licence value over every service (no licence, or an empty value,
    counted as one, named NO_LICENCE), and overall."""
    overall: tuple[str | None, ...] = ()  # the key of the sum over every value
    sums = _sums(
        usage,
        lambda tally: ((tally.license or None,), overall),
        lambda tally: (tally.vms, tally.vcpus, tally.vms_powered_on, tally.vcpus_powered_on),
    )
    everything = sums.pop(overall, [0, 0, 0, 0])
    by_licence = sorted(sums.items(), key=lambda item: item[0][0] or NO_LICENCE)
    return UsageTotals(
        by_licence=tuple(UsageTotal(key[0], *counts) for key, counts in by_licence),
        overall=UsageTotal(None, *everything),
    )


def control_panel(inventory: Inventory) -> tuple[ControlPanelRow, ...]:
    """One row per datacenter, in the snapshot's order."""
    rows = []
    for dc in inventory.datacenters:
        counts: Counter[str] = Counter()
        for vm in dc.vms:
            deleted = vm.deleted
            # The Control Panel's way: the raw value, `windows` prefix, deleted VMs included.
            panel_windows = (vm.guest_os_family or "").lower().startswith("windows")
            counts["declared"] += vm.api_license is not None
            counts["windows_vms"] += panel_windows
            counts["deleted_windows"] += deleted and panel_windows
            # Ours: the rules' own detection (`win` prefix), deleted VMs excluded.
            ours = not deleted and vm.guest.is_windows
            counts["windows_guests"] += ours
            counts["older"] += ours and not panel_windows
        rows.append(
            ControlPanelRow(
                service_name=dc.service_name,
                datacenter_id=dc.datacenter_id,
                vms=max(len(dc.known_vm_ids), len(dc.vms)),
                windows_vms=counts["windows_vms"],
                declared=counts["declared"],
                windows_guests=counts["windows_guests"],
                older_windows_ids=counts["older"],
                deleted_windows_vms=counts["deleted_windows"],
                vms_read=len(dc.vms),
            )
        )
    return tuple(rows)
