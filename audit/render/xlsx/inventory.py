"""The Inventory sheet: every VM of the snapshot with its interpretation and its findings."""

from __future__ import annotations

from collections.abc import Mapping

from openpyxl import Workbook

from audit.evaluate.knowledge import GuestKind
from audit.render.base import ReportInput
from audit.render.xlsx.cells import (
    Column,
    Table,
)

GUEST_KIND_LABELS: Mapping[str, str] = {
    GuestKind.WINDOWS_SERVER: "Windows server",
    GuestKind.WINDOWS_CLIENT: "Windows client",
    GuestKind.NON_WINDOWS: "non-Windows",
    GuestKind.UNKNOWN: "unknown",
}

_INVENTORY_COLUMNS: tuple[Column, ...] = (
    Column("Service", 24),
    Column("Datacenter", 11),
    Column("VM id", 9),
    Column("VM name", 30, wrap=True),
    Column("moRef", 12),
    Column("Power state", 12),
    Column("Guest OS (configured)", 26, wrap=True),
    Column("Guest kind", 15),
    Column("Guest OS meaning", 30),
    Column("Guest OS (Tools)", 26, wrap=True),
    Column("Licence", 30, wrap=True),
    Column("Licence kind", 13),
    Column("vCPUs", 7),
    Column("Memory (MB)", 12),
    Column("Cluster", 16),
    Column("Host", 16),
    Column("Folder", 16),
    Column("Findings", 40, wrap=True),
)


def write_sheet(workbook: Workbook, run: ReportInput) -> None:
    """Every VM read, deleted ones included (they are inventoried, not evaluated), streamed."""
    table = Table(workbook, "Inventory", _INVENTORY_COLUMNS)
    figures = run.figures
    for vm in run.inventory.vms():
        tools = None if vm.licensed is None else vm.licensed.guest_os_family
        table.row(
            [
                vm.service_name,
                vm.datacenter_id,
                vm.vm_id,
                vm.name,
                vm.moref,
                vm.power_state,
                vm.guest_os_family,
                GUEST_KIND_LABELS[vm.guest.kind],
                vm.guest.label,
                tools,
                vm.api_license,
                vm.licence.kind.value,
                vm.vcpus,
                vm.memory_mb,
                vm.cluster,
                vm.host,
                vm.folder,
                ", ".join(figures.rules_of(vm.key)) or None,
            ]
        )
    table.finish()
