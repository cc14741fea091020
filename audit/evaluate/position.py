"""The licence position: what OVHcloud bills, counted from the snapshot, beside what the
Control Panel shows (DESIGN.md, "Licence position"; findings.json `licences` and
`control_panel`).

Pure functions over the snapshot. Peak and licence-days come from the period's daily
observations (`exposure`, audit/exposure/frame.py): without it they equal the snapshot's counts
(one observed day).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from audit.evaluate.knowledge import interpret_licence
from audit.evaluate.records import DELETED, VmRecord, is_powered_on
from audit.model.exposure import Exposure, LicenceExposure
from audit.model.position import ControlPanelRow, LicenceRow, LicenceTotal
from audit.model.snapshot import DatacenterSnapshot, Snapshot
from audit.support.coerce import text

__all__ = [
    "ControlPanelRow",
    "LicenceRow",
    "LicenceTotal",
    "control_panel",
    "licence_totals",
    "licences",
]


def _datacenters(snapshot: Snapshot) -> Iterator[tuple[str, DatacenterSnapshot]]:
    for service in snapshot.services:
        for datacenter in service.datacenters:
            yield service.service_name, datacenter


def licences(snapshot: Snapshot, exposure: Exposure | None = None) -> tuple[LicenceRow, ...]:
    """One row per service, datacenter and licence value, ordered by service, datacenter,
    billable first, then value.

    With the period's `exposure`, `peak_vms`, `licence_days`, `billed_vms` and `billed_vcpus`
    are its figures (observed days inside the period), and a value carried during the period
    but no longer at the snapshot has a row too (0 VMs at close), even in a datacenter gone
    from the snapshot when the value was billed there. Without it, the snapshot stands for the
    period: billed are the VMs powered on at the snapshot."""
    figures = None if exposure is None else exposure.licence_figures()
    rows: list[LicenceRow] = []
    for service_name, dc in _datacenters(snapshot):
        vms: Counter[str] = Counter()
        vcpus: Counter[str] = Counter()
        running: Counter[str] = Counter()
        running_vcpus: Counter[str] = Counter()
        for raw in dc.vms:
            vm = VmRecord.from_api(raw, service_name, dc.datacenter_id, None)
            if vm.power_state == DELETED or vm.license is None:
                continue
            vms[vm.license] += 1
            vcpus[vm.license] += vm.cpu_num
            if is_powered_on(vm.power_state) and vm.licence.is_windows_edition:
                running[vm.license] += 1
                running_vcpus[vm.license] += vm.cpu_num
        listed: Counter[str] | None = None
        if dc.vm_licensed is not None:
            listed = Counter(
                value for entry in dc.vm_licensed if (value := text(entry.get("license")))
            )
        values = set(vms) | set(listed or ())
        if figures is not None:
            here = (service_name, dc.datacenter_id)
            values |= {value for (*where, value) in figures if tuple(where) == here}
        for value in sorted(values, key=_licence_order):
            period = (
                None if figures is None else figures.get((service_name, dc.datacenter_id, value))
            )
            rows.append(
                LicenceRow(
                    service_name=service_name,
                    datacenter_id=dc.datacenter_id,
                    license=value,
                    billable=interpret_licence(value).is_windows_edition,
                    vms_at_close=vms[value],
                    vcpus_at_close=vcpus[value],
                    peak_vms=vms[value] if figures is None else _peak(period),
                    licence_days=vms[value] if figures is None else _days(period),
                    vmlicensed_at_close=None if listed is None else listed[value],
                    billed_vms=running[value] if figures is None else _billed(period)[0],
                    billed_vcpus=running_vcpus[value] if figures is None else _billed(period)[1],
                )
            )
    return tuple(rows) + _billed_elsewhere(snapshot, figures)


def _billed_elsewhere(
    snapshot: Snapshot, figures: dict[tuple[str, int, str], LicenceExposure] | None
) -> tuple[LicenceRow, ...]:
    """Rows for values billed in a datacenter the snapshot no longer has (nothing at close)."""
    here = {(service_name, dc.datacenter_id) for service_name, dc in _datacenters(snapshot)}
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


def licence_totals(rows: Sequence[LicenceRow]) -> tuple[LicenceTotal, ...]:
    """Billable rows summed per service, then per licence value over every service, then
    overall (always present, zeros when nothing is billable); billed figures a findings.json
    written before them lacks count as 0."""
    sums: dict[tuple[str | None, str | None], list[int]] = {}
    for row in rows:
        if not row.billable:
            continue
        listed = row.vmlicensed_at_close or 0
        for key in ((row.service_name, None), (None, row.license), (None, None)):
            total = sums.setdefault(key, [0] * 6)
            total[0] += row.vms_at_close
            total[1] += row.vcpus_at_close
            total[2] += row.licence_days
            total[3] += listed
            total[4] += row.billed_vms or 0
            total[5] += row.billed_vcpus or 0
    sums.setdefault((None, None), [0] * 6)

    def order(key: tuple[str | None, str | None]) -> tuple[int, str]:
        service, value = key
        return (0, service) if service is not None else (1 if value else 2, value or "")

    return tuple(LicenceTotal(key[0], key[1], *sums[key]) for key in sorted(sums, key=order))


def control_panel(snapshot: Snapshot) -> tuple[ControlPanelRow, ...]:
    """One row per datacenter, in the snapshot's order."""
    rows = []
    for service_name, dc in _datacenters(snapshot):
        counts: Counter[str] = Counter()
        listed = set(dc.vm_ids)
        for raw in dc.vms:
            vm = VmRecord.from_api(raw, service_name, dc.datacenter_id, None)
            if vm.vm_id is not None:
                listed.add(vm.vm_id)
            deleted = vm.power_state == DELETED
            # The Control Panel's way: the raw value, `windows` prefix, deleted VMs included.
            panel_windows = (vm.guest_os_family or "").lower().startswith("windows")
            counts["declared"] += vm.license is not None
            counts["windows_vms"] += panel_windows
            counts["deleted_windows"] += deleted and panel_windows
            # Ours: the rules' own detection (`win` prefix), deleted VMs excluded.
            ours = not deleted and vm.guest.is_windows
            counts["windows_guests"] += ours
            counts["older"] += ours and not panel_windows
        rows.append(
            ControlPanelRow(
                service_name=service_name,
                datacenter_id=dc.datacenter_id,
                vms=max(len(listed), len(dc.vms)),
                windows_vms=counts["windows_vms"],
                declared=counts["declared"],
                windows_guests=counts["windows_guests"],
                older_windows_ids=counts["older"],
                deleted_windows_vms=counts["deleted_windows"],
                vms_read=len(dc.vms),
            )
        )
    return tuple(rows)
