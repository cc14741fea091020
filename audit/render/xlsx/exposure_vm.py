"""The Exposure by VM sheet: Windows guests and licensed VMs, their days over the period, one
filterable table with a frozen header repeated on every printed page."""

from __future__ import annotations

from openpyxl import Workbook

from audit.render.base import ReportInput
from audit.render.exposure import exposure_display
from audit.render.xlsx.cells import Column, Table

EXPOSURE_VM_SHEET = "Exposure by VM"
# Wide enough that a row is one line (a guest OS family, a licence value up to 28
# characters); longer values wrap whole rather than being cut.
_EXPOSURE_VM_COLUMNS: tuple[Column, ...] = (
    Column("Service", 18, wrap=True),
    Column("Datacenter", 11),
    Column("VM", 9),
    Column("Name", 26, wrap=True),
    Column("Guest OS (last observed)", 29, wrap=True),
    Column("Licence (last observed)", 30, wrap=True),
    Column("Days observed", 10),
    Column("Days powered on", 10),
    Column("Days unlicensed", 11),
    Column("First unlicensed", 11),
    Column("Last unlicensed", 11),
    Column("Billed", 30, wrap=True),
    Column("Shortfall", 10),
)


def write_sheet(workbook: Workbook, run: ReportInput) -> None:
    """One row per VM the period observed; no sheet without observations."""
    exposure = exposure_display(run)
    if not exposure.present:
        return
    table = Table(workbook, EXPOSURE_VM_SHEET, _EXPOSURE_VM_COLUMNS)
    for vm in exposure.vms:
        table.row(
            [
                vm.service_name,
                vm.datacenter_id,
                vm.vm_id,
                vm.name,
                vm.guest_os_family,
                vm.license,
                vm.days_observed,
                vm.days_powered_on,
                vm.days_unlicensed,
                vm.first_unlicensed,
                vm.last_unlicensed,
                ", ".join(vm.billed),
                "yes" if vm.shortfall else "no",
            ]
        )
    table.finish()
