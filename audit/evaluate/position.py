"""The licence position: what OVHcloud bills, counted from the inventory, beside what the
Control Panel shows (DESIGN.md, "Licence position"; findings.json `licences` and
`control_panel`).

Pure functions over the inventory. Peak and licence-days come from the period's daily
observations (`exposure`, audit/exposure/frame.py): without it they equal the snapshot's counts
(one observed day).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from audit.evaluate.inventory import Inventory
from audit.evaluate.knowledge import interpret_licence
from audit.model.exposure import Exposure, LicenceExposure
from audit.model.position import ControlPanelRow, LicenceRow, LicenceTotal

__all__ = [
    "ControlPanelRow",
    "LicenceRow",
    "LicenceTotal",
    "control_panel",
    "licence_totals",
    "licences",
]


def licences(inventory: Inventory, exposure: Exposure | None = None) -> tuple[LicenceRow, ...]:
    """One row per service, datacenter and licence value, ordered by service, datacenter,
    billable first, then value.

    With the period's `exposure`, `peak_vms` and `licence_days` are its figures (observed days
    inside the period), and a value carried during the period but no longer at the snapshot has
    a row too (0 VMs at close); a datacenter gone from the snapshot has none."""
    figures = None if exposure is None else exposure.licence_figures()
    rows: list[LicenceRow] = []
    for dc in inventory.datacenters:
        service_name = dc.service_name
        vms: Counter[str] = Counter()
        vcpus: Counter[str] = Counter()
        for vm in dc.vms:
            if vm.deleted or vm.license is None:
                continue
            vms[vm.license] += 1
            vcpus[vm.license] += vm.vcpu_count
        listed: Counter[str] | None = None
        if dc.licensed is not None:
            listed = Counter(entry.license for entry in dc.licensed if entry.license)
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
                )
            )
    return tuple(rows)


def _peak(figures: LicenceExposure | None) -> int:
    return 0 if figures is None else figures.peak_vms


def _days(figures: LicenceExposure | None) -> int:
    return 0 if figures is None else figures.licence_days


def _licence_order(value: str) -> tuple[bool, str]:
    return (not interpret_licence(value).is_windows_edition, value)


def licence_totals(rows: Sequence[LicenceRow]) -> tuple[LicenceTotal, ...]:
    """Billable rows summed per service, then per licence value over every service, then
    overall (always present, zeros when nothing is billable)."""
    sums: dict[tuple[str | None, str | None], list[int]] = {}
    for row in rows:
        if not row.billable:
            continue
        listed = row.vmlicensed_at_close or 0
        for key in ((row.service_name, None), (None, row.license), (None, None)):
            total = sums.setdefault(key, [0, 0, 0, 0])
            total[0] += row.vms_at_close
            total[1] += row.vcpus_at_close
            total[2] += row.licence_days
            total[3] += listed
    sums.setdefault((None, None), [0, 0, 0, 0])

    def order(key: tuple[str | None, str | None]) -> tuple[int, str]:
        service, value = key
        return (0, service) if service is not None else (1 if value else 2, value or "")

    return tuple(LicenceTotal(key[0], key[1], *sums[key]) for key in sorted(sums, key=order))


def control_panel(inventory: Inventory) -> tuple[ControlPanelRow, ...]:
    """One row per datacenter, in the snapshot's order."""
    rows = []
    for dc in inventory.datacenters:
        counts: Counter[str] = Counter()
        for vm in dc.vms:
            deleted = vm.deleted
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
